package dev.wsgrpc.gateway;

import dev.wsgrpc.server.RejectReason;
import dev.wsgrpc.server.TunnelInfo;
import dev.wsgrpc.server.TunnelListener;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.SocketAddress;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the gateway's book of tunnels: one INFO line when a tunnel opens and one when it closes, the tunnel metrics,
 * and the set of open tunnels that a drain waits for.
 */
final class TunnelTracker implements TunnelListener {

  private static final Logger logger = LoggerFactory.getLogger("dev.wsgrpc.gateway.Tunnels");

  private final Set<TunnelInfo> open = ConcurrentHashMap.newKeySet();
  private final AtomicLong closedBytesIn = new AtomicLong();
  private final AtomicLong closedBytesOut = new AtomicLong();
  private final Counter opened;
  private final Counter rejected;
  private final Counter upstreamFailures;
  private final Counter closed;
  private final Counter abusive;
  private final Counter upstreamSilent;

  TunnelTracker(PrometheusRegistry registry) {
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
        .help("Upgrade requests refused before the 101, by reason (the labels of RejectReason: not_found, method, "
            + "bad_request, version, subprotocol, timeout, too_large, origin, unauthorized, forbidden, rejected, "
            + "too_many_tunnels, too_many_tunnels_per_client)")
        .labelNames("reason")
        .register(registry);
    CounterWithCallback.builder()
        .name("wsgrpc_tunnel_received_bytes_total")
        .help("Bytes received on tunnel connections (TLS and WebSocket framing included)")
        .callback(cb -> cb.call(closedBytesIn.get() + open.stream().mapToLong(TunnelInfo::bytesIn).sum()))
        .register(registry);
    CounterWithCallback.builder()
        .name("wsgrpc_tunnel_sent_bytes_total")
        .help("Bytes sent on tunnel connections (TLS and WebSocket framing included)")
        .callback(cb -> cb.call(closedBytesOut.get() + open.stream().mapToLong(TunnelInfo::bytesOut).sum()))
        .register(registry);
    closed = Counter.builder()
        .name("wsgrpc_tunnels_closed_total")
        .help("Tunnels ended, by who sent the first WebSocket Close (server, client, or none: the connection was cut) "
            + "and its code (1009: a frame over the limit, 1002: a protocol error, 1001: shutdown or silence)")
        .labelNames("closed_by", "code")
        .register(registry);
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
  }

  @Override
  public void tunnelOpened(TunnelInfo tunnel) {
    open.add(tunnel);
    opened.inc();
    logger.info("tunnel open client={} path={} subprotocol={} principal={}", tunnel.clientAddress(), tunnel.path(),
        tunnel.subprotocol() == null ? "-" : tunnel.subprotocol(), tunnel.principal() == null ? "-" : tunnel.principal());
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
    closed.labelValues(closedBy, String.valueOf(code)).inc();
    logger.info("tunnel closed client={} path={} subprotocol={} duration={}ms bytes_in={} bytes_out={} close={}/{}",
        tunnel.clientAddress(), tunnel.path(), tunnel.subprotocol() == null ? "-" : tunnel.subprotocol(),
        tunnel.duration().toMillis(), tunnel.bytesIn(), tunnel.bytesOut(), closedBy, code);
  }

  @Override
  public void upgradeRejected(SocketAddress clientAddress, int status, RejectReason reason) {
    rejected.labelValues(reason.label()).inc();
    if (reason.isLimit()) {
      logLimit(clientAddress, status, reason);
    } else {
      logger.debug("refused upgrade from {}: {} {}", clientAddress, status, reason.label());
    }
  }

  /** One rate-limited line per limit (a {@link RejectReason#isLimit()} reason). */
  private final java.util.Map<RejectReason, RateLimitedLine> limitLog = limitLines();
  private final RateLimitedLine connectFailureLog = new RateLimitedLine();
  private final RateLimitedLine unreachableLog = new RateLimitedLine();
  private final RateLimitedLine silentLog = new RateLimitedLine();

  private static java.util.Map<RejectReason, RateLimitedLine> limitLines() {
    java.util.Map<RejectReason, RateLimitedLine> lines = new java.util.EnumMap<>(RejectReason.class);
    for (RejectReason r : RejectReason.values()) {
      if (r.isLimit()) {
        lines.put(r, new RateLimitedLine());
      }
    }
    return lines;
  }

  private void logLimit(SocketAddress client, int status, RejectReason limit) {
    long more = limitLog.get(limit).admit();
    if (more >= 0) {
      logger.info("limit {} refused a tunnel from {} with {}{}; see docs/SECURITY.md to change it", limit.label(),
          client, status, RateLimitedLine.more(more));
    }
  }

  /**
   * At most one line every 10 seconds of each kind, counting the ones in between: a flood (or an upstream down for
   * hours) cannot flood the logs.
   */
  private static final class RateLimitedLine {
    private static final long PERIOD_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
    private long lastNanos = System.nanoTime() - PERIOD_NANOS;
    private long suppressed;

    /** -1 when this line is to be dropped; else how many were dropped since the last one logged. */
    synchronized long admit() {
      long now = System.nanoTime();
      if (now - lastNanos < PERIOD_NANOS) {
        suppressed++;
        return -1;
      }
      lastNanos = now;
      long dropped = suppressed;
      suppressed = 0;
      return dropped;
    }

    static String more(long dropped) {
      return dropped == 0 ? "" : " (and " + dropped + " more since the last report)";
    }
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
    long more = connectFailureLog.admit();
    if (more >= 0) {
      logger.warn("Cannot connect to upstream {}: {}; trying the next one{}", upstream, describe(cause),
          RateLimitedLine.more(more));
    }
  }

  /** Says, at most once every 10 s, that no upstream took a connection (the tunnel ends with 1013). */
  void noUpstreamReachable(Object upstreams) {
    long more = unreachableLog.admit();
    if (more >= 0) {
      logger.warn("No upstream of {} accepted a connection; tunnels end with 1013 until one does; check that the "
          + "upstream servers are running{}", upstreams, RateLimitedLine.more(more));
    }
  }

  /** Counts an upstream that did not answer a PING (its tunnel ends with 1013), with a WARN line every 10 s at most. */
  void upstreamSilent(Object upstream) {
    upstreamSilent.inc();
    long more = silentLog.admit();
    if (more >= 0) {
      logger.warn("Upstream {} stopped answering (no reply to an HTTP/2 PING); its tunnel ends with 1013{}", upstream,
          RateLimitedLine.more(more));
    }
  }

  /** What went wrong, in one line: no stack trace, no class name where the message says it. */
  private static String describe(Throwable cause) {
    if (cause instanceof javax.net.ssl.SSLException) {
      return "TLS handshake failed: " + cause.getMessage();
    }
    if (cause instanceof io.netty.handler.ssl.SslHandshakeTimeoutException) {
      return "TLS handshake timed out";
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
}
