package dev.wsgrpc.gateway;

import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.RateLimitedLog;
import dev.wsgrpc.gateway.proxy.UpstreamProblems;
import dev.wsgrpc.server.RejectReason;
import dev.wsgrpc.server.TunnelInfo;
import dev.wsgrpc.server.TunnelListener;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.ConnectException;
import java.net.SocketAddress;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the gateway's book of tunnels: the access log (one INFO line when a tunnel opens and one when it closes,
 * rate-limited so that a flood of tunnels cannot flood the log), the tunnel metrics, and the sets of open tunnels and
 * native gRPC connections that a drain waits for.
 */
final class TunnelTracker implements TunnelListener {

  private static final Logger logger = LoggerFactory.getLogger("dev.wsgrpc.gateway.Tunnels");

  /** Access-log lines let through in a row: {@value}, for each of the open and close lines. */
  static final int ACCESS_LOG_BURST = 100;

  /**
   * The period in which {@link #ACCESS_LOG_BURST} access-log lines are let through again: ten seconds, so a sustained
   * flood of tunnels logs at most ten open and ten close lines a second; the next line says how many were held back,
   * and the metrics still count every tunnel.
   */
  static final java.time.Duration ACCESS_LOG_PERIOD = java.time.Duration.ofSeconds(10);

  private final RateLimitedLog openLog = new RateLimitedLog(logger, RateLimitedLog.Level.INFO, ACCESS_LOG_BURST,
      ACCESS_LOG_PERIOD, System::nanoTime);
  private final RateLimitedLog closeLog = new RateLimitedLog(logger, RateLimitedLog.Level.INFO, ACCESS_LOG_BURST,
      ACCESS_LOG_PERIOD, System::nanoTime);

  private final Set<TunnelInfo> open = ConcurrentHashMap.newKeySet();
  private final Set<TunnelInfo> nativeOpen = ConcurrentHashMap.newKeySet();
  private final AtomicLong closedBytesIn = new AtomicLong();
  private final AtomicLong closedBytesOut = new AtomicLong();
  /**
   * The byte counters as scraped. A scrape reads the closed tunnels' sum before the open ones, and a tunnel leaves
   * the open set before its bytes join that sum, so a tunnel closing meanwhile is missed by that scrape, never counted
   * twice: a sum can only fall short, and is then held at the last one reported, since a counter must not step back.
   */
  private final Monotonic receivedBytes = new Monotonic();
  private final Monotonic sentBytes = new Monotonic();
  private final Counter opened;
  private final Counter rejected;
  private final Counter upstreamFailures;
  private final Counter closed;
  private final Counter abusive;
  private final Counter upstreamSilent;

  /**
   * Registers the tunnel metrics in {@code registry}, and with {@code relay} those only relay mode has
   * ({@code wsgrpc_upstream_connect_failures_total}, {@code wsgrpc_upstream_keepalive_failures_total},
   * {@code wsgrpc_relay_abusive_connections_total}): in the other modes they would only ever read 0 (proxy mode
   * counts its failed upstream connections in {@code UpstreamProblems}). The methods that count them are relay
   * mode's, called only with {@code relay}.
   */
  TunnelTracker(PrometheusRegistry registry, boolean relay) {
    GaugeWithCallback.builder()
        .name("wsgrpc_tunnels_open")
        .help("Tunnels open now")
        .callback(cb -> cb.call(open.size()))
        .register(registry);
    opened = Counter.builder()
        .name("wsgrpc_tunnels_total")
        .help("Tunnels opened since start")
        .register(registry);
    rejected = Counter.builder()
        .name("wsgrpc_handshake_failures_total")
        .help("Connections refused before the 101, by reason (the labels of RejectReason: not_found, method, "
            + "bad_request, media_type, version, subprotocol, timeout, too_large, origin, unauthorized, forbidden, "
            + "authenticator, rejected, too_many_tunnels, too_many_tunnels_per_client, "
            + "too_many_handshakes_per_client, tls)")
        .labelNames("reason")
        .register(registry);
    CounterWithCallback.builder()
        .name("wsgrpc_tunnel_received_bytes_total")
        .help("Bytes received on tunnel connections (TLS and WebSocket framing included)")
        .callback(cb -> cb.call(receivedBytes.next(closedBytesIn.get()
            + open.stream().mapToLong(TunnelInfo::bytesIn).sum())))
        .register(registry);
    CounterWithCallback.builder()
        .name("wsgrpc_tunnel_sent_bytes_total")
        .help("Bytes sent on tunnel connections (TLS and WebSocket framing included)")
        .callback(cb -> cb.call(sentBytes.next(closedBytesOut.get()
            + open.stream().mapToLong(TunnelInfo::bytesOut).sum())))
        .register(registry);
    closed = Counter.builder()
        .name("wsgrpc_tunnels_closed_total")
        .help("Tunnels ended, by who sent the first WebSocket Close (server, client, or none: the connection was cut) "
            + "and its code (1009: a frame over the limit, 1002: a protocol error, 1001: shutdown or silence; "
            + "other: an application's code, 3000-4999)")
        .labelNames("closed_by", "code")
        .register(registry);
    GaugeWithCallback.builder()
        .name("wsgrpc_native_connections_open")
        .help("Native gRPC connections (h2c, or h2 over TLS, without a tunnel) open now")
        .callback(cb -> cb.call(nativeOpen.size()))
        .register(registry);
    if (relay) {
      abusive = Counter.builder()
          .name("wsgrpc_relay_abusive_connections_total")
          .help("Relay mode: connections ended with GOAWAY ENHANCE_YOUR_CALM for sending too many frames of one "
              + "kind in a window (frame: rst_stream, settings, ping)")
          .labelNames("frame")
          .register(registry);
      upstreamFailures = Counter.builder()
          .name("wsgrpc_upstream_connect_failures_total")
          .help("Relay mode: failed connection attempts to an upstream gRPC server (refused, timed out, or a failed "
              + "TLS handshake)")
          .register(registry);
      upstreamSilent = Counter.builder()
          .name("wsgrpc_upstream_keepalive_failures_total")
          .help("Relay mode: upstream connections that answered no HTTP/2 PING within --upstream-keepalive-timeout "
              + "(their tunnels ended with 1013)")
          .register(registry);
    } else {
      abusive = null;
      upstreamFailures = null;
      upstreamSilent = null;
    }
  }

  @Override
  public void tunnelOpened(TunnelInfo tunnel) {
    open.add(tunnel);
    opened.inc();
    openLog.log("tunnel open client={} path={} subprotocol={} principal={}", tunnel.clientAddress(), loggedPath(tunnel.path()),
        tunnel.subprotocol() == null ? "-" : tunnel.subprotocol(), tunnel.principal() == null ? "-" : tunnel.principal());
  }

  @Override
  public void nativeConnectionOpened(TunnelInfo connection) {
    nativeOpen.add(connection);
  }

  @Override
  public void nativeConnectionClosed(TunnelInfo connection) {
    nativeOpen.remove(connection);
  }

  @Override
  public void tunnelClosed(TunnelInfo tunnel) {
    if (open.remove(tunnel)) {
      closedBytesIn.addAndGet(tunnel.bytesIn());
      closedBytesOut.addAndGet(tunnel.bytesOut());
    }
    String closedBy;
    int code;
    if (tunnel.closeCodeReceived() != -1) {
      closedBy = "client";
      code = tunnel.closeCodeReceived();
    } else if (tunnel.closeCodeSent() != -1) {
      closedBy = "server";
      code = tunnel.closeCodeSent();
    } else {
      closedBy = "none";
      code = 1006;
    }
    closed.labelValues(closedBy, codeLabel(code)).inc();
    closeLog.log("tunnel closed client={} path={} subprotocol={} duration={}ms bytes_in={} bytes_out={} close={}/{}",
        tunnel.clientAddress(), loggedPath(tunnel.path()), tunnel.subprotocol() == null ? "-" : tunnel.subprotocol(),
        tunnel.duration().toMillis(), tunnel.bytesIn(), tunnel.bytesOut(), closedBy, code);
  }

  /**
   * The {@code code} label of a tunnel's close: a code RFC 6455 defines (1000-1014) as it is, and {@code other} for
   * the codes of applications (3000-4999), which a client chooses freely: clients cannot add series to the metrics,
   * only count in the fixed ones.
   */
  static String codeLabel(int code) {
    return code >= 1000 && code <= 1014 ? String.valueOf(code) : "other";
  }

  /**
   * The tunnel's path as the access log shows it: the path is the client's (a browser call's is any path), so only
   * printable ASCII, at most {@link #LOGGED_PATH_CHARS} characters of it.
   */
  static String loggedPath(String path) {
    return Http11Tokens.printable(path, LOGGED_PATH_CHARS);
  }

  /** Room for a long gRPC method path ({@code /package.Service/Method}). */
  static final int LOGGED_PATH_CHARS = 256;

  @Override
  public void upgradeRejected(SocketAddress clientAddress, int status, RejectReason reason) {
    rejected.labelValues(reason.label()).inc();
    if (reason.isLimit()) {
      limitLog.get(reason).log("limit {} refused a tunnel from {} with {}; {}", reason.label(), clientAddress,
          status, remedy(reason));
    } else {
      logger.debug("refused upgrade from {}: {} {}", clientAddress, status, reason.label());
    }
  }

  /** What an operator changes when {@code reason}'s limit refuses tunnels it should not: the gateway's option. */
  static String remedy(RejectReason reason) {
    switch (reason) {
      case TOO_MANY_TUNNELS_PER_CLIENT:
        return "to change it, --max-tunnels-per-client; behind a CDN or proxy, --trusted-proxies with its addresses,"
            + " else every client it carries counts as the proxy's address";
      case TOO_MANY_HANDSHAKES_PER_CLIENT:
        return "to change it, --max-handshakes-per-client; behind a CDN or proxy, --trusted-proxies with its "
            + "addresses, whose connections are not counted";
      case TOO_MANY_TUNNELS:
        return "to change it, --max-tunnels";
      case TOO_LARGE:
        return "to change it, --max-request-headers";
      case TIMEOUT:
        return "to change it, --handshake-timeout";
      default:
        return "see docs/SECURITY.md";
    }
  }

  /** One rate-limited line per limit (a {@link RejectReason#isLimit()} reason): at most one every 10 seconds. */
  private final java.util.Map<RejectReason, RateLimitedLog> limitLog = limitLines();
  private final RateLimitedLog connectFailureLog = warnEvery10s();
  private final RateLimitedLog unreachableLog = warnEvery10s();
  private final RateLimitedLog silentLog = warnEvery10s();

  /** At most one WARN line every 10 s of each kind, with the count of the others: an upstream down for hours. */
  private static RateLimitedLog warnEvery10s() {
    return new RateLimitedLog(logger, RateLimitedLog.Level.WARN, 1, java.time.Duration.ofSeconds(10), System::nanoTime);
  }

  private static java.util.Map<RejectReason, RateLimitedLog> limitLines() {
    java.util.Map<RejectReason, RateLimitedLog> lines = new java.util.EnumMap<>(RejectReason.class);
    for (RejectReason r : RejectReason.values()) {
      if (r.isLimit()) {
        lines.put(r, new RateLimitedLog(logger, RateLimitedLog.Level.INFO, 1, java.time.Duration.ofSeconds(10),
            System::nanoTime));
      }
    }
    return lines;
  }

  /** Counts one connection ended for too many frames of kind {@code frame} (rst_stream, settings, ping). */
  void abusiveClientEnded(String frame) {
    abusive.labelValues(frame).inc();
  }

  /**
   * Counts one failed connection attempt to an upstream (refused, timed out, or a failed TLS handshake) and says so
   * in a WARN line, at most one every 10 s.
   */
  void upstreamConnectFailed(Object upstream, Throwable cause) {
    upstreamFailures.inc();
    connectFailureLog.log("Cannot connect to upstream {}: {}; trying the next one", upstream, describe(cause));
  }

  /** Says, at most once every 10 s, that no upstream took a connection (the tunnel ends with 1013). */
  void noUpstreamReachable(Object upstreams) {
    unreachableLog.log("No upstream of {} accepted a connection; tunnels end with 1013 until one does; check that "
        + "the upstream servers are running", upstreams);
  }

  /** Counts an upstream that did not answer a PING (its tunnel ends with 1013), with a WARN line every 10 s at most. */
  void upstreamSilent(Object upstream) {
    upstreamSilent.inc();
    silentLog.log("Upstream {} stopped answering (no reply to an HTTP/2 PING); its tunnel ends with 1013", upstream);
  }

  /** What went wrong, in one line: no stack trace, no class name where the message says it. */
  private static String describe(Throwable cause) {
    if (cause instanceof javax.net.ssl.SSLException) {
      return "TLS handshake failed: " + cause.getMessage();
    }
    if (cause instanceof io.netty.handler.ssl.SslHandshakeTimeoutException) {
      return "TLS handshake timed out";
    }
    if (cause instanceof ConnectException && cause.getMessage() != null) {
      return UpstreamProblems.connectFailure((ConnectException) cause);
    }
    String message = cause.getMessage();
    return message == null ? cause.getClass().getSimpleName() : message;
  }

  /** Failed connection attempts to upstreams so far. */
  long upstreamConnectFailures() {
    return (long) upstreamFailures.get();
  }

  /** Upstreams that stopped answering so far. */
  long upstreamsSilent() {
    return (long) upstreamSilent.get();
  }

  /** The tunnels open now. */
  Set<TunnelInfo> open() {
    return open;
  }

  /** The native gRPC connections open now. */
  Set<TunnelInfo> openNative() {
    return nativeOpen;
  }

  /** A counter's value as reported: never less than the last one reported. */
  static final class Monotonic {
    private final AtomicLong reported = new AtomicLong();

    /** {@code value}, or the last value reported if that is greater. */
    long next(long value) {
      return reported.accumulateAndGet(value, Math::max);
    }
  }
}
