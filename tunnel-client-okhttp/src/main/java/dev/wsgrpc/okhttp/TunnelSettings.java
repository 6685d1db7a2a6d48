package dev.wsgrpc.okhttp;

import static dev.wsgrpc.okhttp.Checks.checkArgument;
import static dev.wsgrpc.okhttp.Checks.checkNotNull;

import java.util.concurrent.TimeUnit;

/**
 * The settings of a tunnel's handshake and frames: frame payload limits, keepalive Pings and the handshake timeout.
 * The same names, defaults and messages as {@code dev.wsgrpc.core.TunnelSettings} of the Netty client, in types
 * Android API 21 has ({@code long} + {@link TimeUnit} instead of {@code Duration}). Immutable; build one with
 * {@link #newBuilder()}.
 *
 * <pre>{@code
 * TunnelSettings settings = TunnelSettings.newBuilder()
 *     .pingInterval(20, TimeUnit.SECONDS)       // below every idle timeout on the path
 *     .maxOutboundFramePayload(16 * 1024)       // what the strictest proxy on the path accepts
 *     .build();
 * }</pre>
 *
 * <p>A dead path (the server or a hop gone silent, no FIN or RST) is noticed as in the Netty client: a tunnel on
 * which nothing has arrived for {@code pingInterval + pingTimeout} while this side waits to read is ended (a live
 * server answers the Ping sent in that time within {@code pingTimeout}). OkHttp's own check ends it as well when a
 * Ping's Pong has not arrived by the time the next Ping is due, which is sooner when {@code pingTimeout} is the longer.
 * Unlike the Netty client, no Ping goes out at once when data is sent after a quiet spell (OkHttp's WebSocket cannot
 * send one).
 */
public final class TunnelSettings {

  /** Default {@link Builder#handshakeTimeout}: {@value} ms. */
  public static final long DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 10_000;
  /** Default {@link Builder#pingInterval}: {@value} ms, below the 60 s idle timeout of nginx and AWS ALB. */
  public static final long DEFAULT_PING_INTERVAL_MILLIS = 30_000;
  /** Default {@link Builder#pingTimeout}: {@value} ms, as in the Netty client. */
  public static final long DEFAULT_PING_TIMEOUT_MILLIS = 15_000;
  /** The shortest ping interval accepted, {@value} ms: shorter ones would flood the path with control frames. */
  public static final long MIN_PING_INTERVAL_MILLIS = 100;
  /**
   * The longest duration a setting takes, {@value} ms ({@code Integer.MAX_VALUE}, about 24.8 days): OkHttp refuses
   * longer timeouts and ping intervals ("timeout too large"). The Netty client's settings have the same bound.
   */
  public static final long MAX_DURATION_MILLIS = Integer.MAX_VALUE;
  /** Default {@link Builder#maxOutboundFramePayload}: {@value} bytes. */
  public static final int DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD = 64 * 1024;
  /** The largest {@link Builder#maxOutboundFramePayload}: {@value} bytes (4 MiB). */
  public static final int MAX_OUTBOUND_FRAME_PAYLOAD = 4 * 1024 * 1024;
  /** Default {@link Builder#maxInboundFramePayload}: {@value} bytes. */
  public static final int DEFAULT_MAX_INBOUND_FRAME_PAYLOAD = 1024 * 1024;

  /** Every setting at its default. */
  public static final TunnelSettings DEFAULT = newBuilder().build();

  private final int maxInboundFramePayload;
  private final int maxOutboundFramePayload;
  private final long pingIntervalMillis;
  private final long pingTimeoutMillis;
  private final long handshakeTimeoutMillis;

  private TunnelSettings(Builder b) {
    this.maxInboundFramePayload = b.maxInboundFramePayload;
    this.maxOutboundFramePayload = b.maxOutboundFramePayload;
    this.pingIntervalMillis = b.pingIntervalMillis;
    this.pingTimeoutMillis = b.pingTimeoutMillis;
    this.handshakeTimeoutMillis = b.handshakeTimeoutMillis;
  }

  /** Starts from the defaults. */
  public static Builder newBuilder() {
    return new Builder();
  }

  /** A builder that starts from these settings. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** The largest message accepted from the server, in bytes. */
  public int maxInboundFramePayload() {
    return maxInboundFramePayload;
  }

  /** The largest frame payload sent to the server, in bytes. */
  public int maxOutboundFramePayload() {
    return maxOutboundFramePayload;
  }

  /** Time between two WebSocket Pings in milliseconds; 0 when none are sent. */
  public long pingIntervalMillis() {
    return pingIntervalMillis;
  }

  /** How long after a Ping something must arrive before the tunnel is ended as dead, in milliseconds. */
  public long pingTimeoutMillis() {
    return pingTimeoutMillis;
  }

  /** Time allowed for TCP, the proxy, TLS and the upgrade together, in milliseconds. */
  public long handshakeTimeoutMillis() {
    return handshakeTimeoutMillis;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof TunnelSettings)) {
      return false;
    }
    TunnelSettings t = (TunnelSettings) o;
    return maxInboundFramePayload == t.maxInboundFramePayload && maxOutboundFramePayload == t.maxOutboundFramePayload
        && pingIntervalMillis == t.pingIntervalMillis && pingTimeoutMillis == t.pingTimeoutMillis
        && handshakeTimeoutMillis == t.handshakeTimeoutMillis;
  }

  @Override
  public int hashCode() {
    return (((maxInboundFramePayload * 31 + maxOutboundFramePayload) * 31 + (int) pingIntervalMillis) * 31
        + (int) pingTimeoutMillis) * 31 + (int) handshakeTimeoutMillis;
  }

  @Override
  public String toString() {
    return "TunnelSettings{maxInboundFramePayload=" + maxInboundFramePayload
        + ", maxOutboundFramePayload=" + maxOutboundFramePayload
        + ", pingIntervalMillis=" + pingIntervalMillis + ", pingTimeoutMillis=" + pingTimeoutMillis
        + ", handshakeTimeoutMillis=" + handshakeTimeoutMillis + "}";
  }

  /** A validating builder; every setter fails fast with the offending value. Not thread-safe. */
  public static final class Builder {
    private static final String AT_MOST = "at most " + MAX_DURATION_MILLIS + " ms, about 24.8 days";

    private int maxInboundFramePayload = DEFAULT_MAX_INBOUND_FRAME_PAYLOAD;
    private int maxOutboundFramePayload = DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD;
    private long pingIntervalMillis = DEFAULT_PING_INTERVAL_MILLIS;
    private long pingTimeoutMillis = DEFAULT_PING_TIMEOUT_MILLIS;
    private long handshakeTimeoutMillis = DEFAULT_HANDSHAKE_TIMEOUT_MILLIS;

    private Builder() {}

    private Builder(TunnelSettings s) {
      maxInboundFramePayload = s.maxInboundFramePayload;
      maxOutboundFramePayload = s.maxOutboundFramePayload;
      pingIntervalMillis = s.pingIntervalMillis;
      pingTimeoutMillis = s.pingTimeoutMillis;
      handshakeTimeoutMillis = s.handshakeTimeoutMillis;
    }

    /**
     * The largest message accepted from the server; a larger one ends the tunnel with close 1009 and RPCs fail
     * RESOURCE_EXHAUSTED. OkHttp reassembles fragmented messages, so the limit applies per message here (wsgrpc
     * servers send only unfragmented frames). Fails with {@code "maxInboundFramePayload: 0 (expected: > 0)"}.
     * Default: {@value TunnelSettings#DEFAULT_MAX_INBOUND_FRAME_PAYLOAD} bytes.
     */
    public Builder maxInboundFramePayload(int bytes) {
      checkArgument(bytes > 0, "maxInboundFramePayload", bytes, "> 0");
      this.maxInboundFramePayload = bytes;
      return this;
    }

    /**
     * The largest frame payload sent; gRPC's bytes are cut into binary messages of at most this size. Keep it at or
     * below what every proxy on the path and the server accept. At most
     * {@value TunnelSettings#MAX_OUTBOUND_FRAME_PAYLOAD} bytes: OkHttp closes a WebSocket whose send queue would pass 16 MiB, and a writer waits for room while four
     * frames are queued. Default: {@value TunnelSettings#DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD} bytes.
     */
    public Builder maxOutboundFramePayload(int bytes) {
      checkArgument(bytes > 0, "maxOutboundFramePayload", bytes, "> 0");
      checkArgument(bytes <= MAX_OUTBOUND_FRAME_PAYLOAD, "maxOutboundFramePayload", bytes,
          "<= " + MAX_OUTBOUND_FRAME_PAYLOAD + ", a quarter of OkHttp's 16 MiB send queue");
      this.maxOutboundFramePayload = bytes;
      return this;
    }

    /**
     * Time between two WebSocket Pings (OkHttp's {@code pingInterval}). Pings keep proxies, load balancers and
     * CDNs that drop idle connections (nginx and AWS ALB after 60 s, Cloudflare after about 100 s) from cutting a
     * quiet tunnel, and let this side notice a path that has gone silent (see {@link #pingTimeout}). 0 sends none
     * (and nothing is judged silent); otherwise at least {@value TunnelSettings#MIN_PING_INTERVAL_MILLIS} ms and at
     * most {@value TunnelSettings#MAX_DURATION_MILLIS} ms (about 24.8 days). Default:
     * {@value TunnelSettings#DEFAULT_PING_INTERVAL_MILLIS} ms.
     */
    public Builder pingInterval(long interval, TimeUnit unit) {
      checkNotNull(unit, "unit");
      long millis = unit.toMillis(interval);
      checkArgument(millis <= MAX_DURATION_MILLIS, "pingInterval", interval + " " + unit, AT_MOST);
      checkArgument(interval == 0 || (interval > 0 && millis >= MIN_PING_INTERVAL_MILLIS), "pingInterval",
          interval + " " + unit, "0 to send no pings, or at least " + MIN_PING_INTERVAL_MILLIS + " ms");
      this.pingIntervalMillis = millis;
      return this;
    }

    /**
     * How long after a Ping something (a Pong, data, any frame) must arrive. When nothing at all has arrived for
     * {@code pingInterval + pingTimeout} while this side waits to read (a Ping went out in that time), the server or a
     * hop on the path is taken to be dead and the tunnel ends: in-flight RPCs fail UNAVAILABLE with {@code "nothing
     * arrived within 45000 ms, a WebSocket Ping's interval and timeout (30000 + 15000 ms): the server or a hop on the
     * path has gone silent (from ws://host/grpc)"} and the channel reconnects. While messages of this side wait in
     * OkHttp's queue and the socket still takes some of them within that time, nothing is judged: a Ping waits behind
     * them, and so does its answer. OkHttp ends the tunnel as well when a Ping's Pong has not arrived by the time the
     * next Ping is due ({@code "no WebSocket Pong arrived within 30000 ms of a Ping ..."}), within two intervals.
     * After the 101 the server's HTTP/2 SETTINGS must arrive within {@code pingTimeout}, with pings off too ({@code
     * "expected the server's HTTP/2 SETTINGS within 15000 ms of the WebSocket upgrade (101) but they did not arrive
     * (from ws://host/grpc)"}): a deadline from the 101, which no Ping or Pong extends, ended only by the SETTINGS
     * (the server's first 9 bytes in the tunnel begin that frame), not by an empty message or fewer bytes. Neither is
     * applied through a SOCKS proxy (OkHttp opens that socket itself), where OkHttp's check alone applies. At least 1
     * ms and at most {@value TunnelSettings#MAX_DURATION_MILLIS} ms (about 24.8 days); less than 1 ms counts as 1 ms.
     * Default: {@value TunnelSettings#DEFAULT_PING_TIMEOUT_MILLIS} ms.
     */
    public Builder pingTimeout(long timeout, TimeUnit unit) {
      this.pingTimeoutMillis = timeoutMillis("pingTimeout", timeout, unit);
      return this;
    }

    /**
     * Time allowed for TCP, the proxy, TLS and the upgrade together; when it passes, RPCs fail UNAVAILABLE and the
     * channel retries with its backoff. At most {@value TunnelSettings#MAX_DURATION_MILLIS} ms (about 24.8 days);
     * less than 1 ms counts as 1 ms. Default: {@value TunnelSettings#DEFAULT_HANDSHAKE_TIMEOUT_MILLIS} ms.
     */
    public Builder handshakeTimeout(long timeout, TimeUnit unit) {
      this.handshakeTimeoutMillis = timeoutMillis("handshakeTimeout", timeout, unit);
      return this;
    }

    /** A timeout in milliseconds, at least 1; fails with {@code "name: 0 SECONDS (expected: > 0)"}. */
    private static long timeoutMillis(String name, long timeout, TimeUnit unit) {
      checkNotNull(unit, "unit");
      checkArgument(timeout > 0, name, timeout + " " + unit, "> 0");
      checkArgument(unit.toMillis(timeout) <= MAX_DURATION_MILLIS, name, timeout + " " + unit, AT_MOST);
      return Math.max(1, unit.toMillis(timeout));
    }

    /** Returns the settings. */
    public TunnelSettings build() {
      return new TunnelSettings(this);
    }
  }
}
