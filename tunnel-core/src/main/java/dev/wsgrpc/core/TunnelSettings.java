package dev.wsgrpc.core;

import static dev.wsgrpc.core.internal.Preconditions.AT_MOST_MAX_DURATION;
import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkDuration;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;
import static dev.wsgrpc.core.internal.Preconditions.checkPositive;

import java.time.Duration;
import java.util.Objects;

/**
 * The settings of a tunnel's handshake and frames, the same on both sides: the frame payload limits, the keepalive
 * Pings and the handshake timeout. Client and server options take one value each ({@code settings(...)}), so both
 * sides accept the same values with the same messages. Immutable; build one with {@link #newBuilder()}.
 *
 * <pre>{@code
 * TunnelSettings settings = TunnelSettings.newBuilder()
 *     .pingInterval(Duration.ofSeconds(20))      // below every idle timeout on the path
 *     .maxOutboundFramePayload(16 * 1024)        // what the strictest proxy on the path accepts
 *     .build();
 * }</pre>
 */
public final class TunnelSettings {

  /** The shortest ping interval accepted, {@value} ms: shorter ones would flood the path with control frames. */
  public static final long MIN_PING_INTERVAL_MILLIS = 100;

  /**
   * The longest duration a setting takes, {@value} ms ({@code Integer.MAX_VALUE}, about 24.8 days): clients hold
   * timeouts as ints of milliseconds (Netty's connect timeout; the OkHttp client's, whose settings have the same
   * bound). Every duration the other options take (the gateway's too) has the same bound.
   */
  public static final long MAX_DURATION_MILLIS = Integer.MAX_VALUE;

  private static final Duration MAX_DURATION = Duration.ofMillis(MAX_DURATION_MILLIS);

  /** Every setting at its default. */
  public static final TunnelSettings DEFAULT = newBuilder().build();

  private final int maxInboundFramePayload;
  private final int maxOutboundFramePayload;
  private final Duration pingInterval;
  private final Duration pingTimeout;
  private final Duration handshakeTimeout;

  private TunnelSettings(Builder b) {
    this.maxInboundFramePayload = b.maxInboundFramePayload;
    this.maxOutboundFramePayload = b.maxOutboundFramePayload;
    this.pingInterval = b.pingInterval;
    this.pingTimeout = b.pingTimeout;
    this.handshakeTimeout = b.handshakeTimeout;
  }

  /** Starts from the defaults. */
  public static Builder newBuilder() {
    return new Builder();
  }

  /** A builder that starts from these settings. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** The largest frame payload accepted from the peer, in bytes. */
  public int maxInboundFramePayload() {
    return maxInboundFramePayload;
  }

  /** The largest frame payload sent to the peer, in bytes. */
  public int maxOutboundFramePayload() {
    return maxOutboundFramePayload;
  }

  /** Time between two WebSocket Pings; {@link Duration#ZERO} when none are sent. */
  public Duration pingInterval() {
    return pingInterval;
  }

  /** How long after a Ping something must arrive before the tunnel is closed as dead. */
  public Duration pingTimeout() {
    return pingTimeout;
  }

  /** Time allowed for TLS and the upgrade together (on clients, also for the TCP connect before them). */
  public Duration handshakeTimeout() {
    return handshakeTimeout;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof TunnelSettings)) {
      return false;
    }
    TunnelSettings t = (TunnelSettings) o;
    return maxInboundFramePayload == t.maxInboundFramePayload && maxOutboundFramePayload == t.maxOutboundFramePayload
        && pingInterval.equals(t.pingInterval) && pingTimeout.equals(t.pingTimeout)
        && handshakeTimeout.equals(t.handshakeTimeout);
  }

  @Override
  public int hashCode() {
    return Objects.hash(maxInboundFramePayload, maxOutboundFramePayload, pingInterval, pingTimeout, handshakeTimeout);
  }

  @Override
  public String toString() {
    return "TunnelSettings{maxInboundFramePayload=" + maxInboundFramePayload
        + ", maxOutboundFramePayload=" + maxOutboundFramePayload
        + ", pingInterval=" + pingInterval + ", pingTimeout=" + pingTimeout
        + ", handshakeTimeout=" + handshakeTimeout + "}";
  }

  /** A validating builder; every setter fails fast with the offending value. Not thread-safe. */
  public static final class Builder {
    private int maxInboundFramePayload = WebSocketTunnel.DEFAULT_MAX_INBOUND_FRAME_PAYLOAD;
    private int maxOutboundFramePayload = WebSocketTunnel.DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD;
    private Duration pingInterval = Duration.ofMillis(WebSocketTunnel.DEFAULT_PING_INTERVAL_MILLIS);
    private Duration pingTimeout = Duration.ofMillis(WebSocketTunnel.DEFAULT_PING_TIMEOUT_MILLIS);
    private Duration handshakeTimeout = Duration.ofMillis(WebSocketTunnel.DEFAULT_HANDSHAKE_TIMEOUT_MILLIS);

    private Builder() {}

    private Builder(TunnelSettings s) {
      maxInboundFramePayload = s.maxInboundFramePayload;
      maxOutboundFramePayload = s.maxOutboundFramePayload;
      pingInterval = s.pingInterval;
      pingTimeout = s.pingTimeout;
      handshakeTimeout = s.handshakeTimeout;
    }

    /**
     * The largest frame payload accepted from the peer; a larger frame ends the tunnel with close 1009 (on the
     * client, RPCs fail RESOURCE_EXHAUSTED). Fails with {@code "maxInboundFramePayload: 0 (expected: > 0)"}.
     * Default: {@value WebSocketTunnel#DEFAULT_MAX_INBOUND_FRAME_PAYLOAD} bytes.
     */
    public Builder maxInboundFramePayload(int bytes) {
      this.maxInboundFramePayload = checkPositive(bytes, "maxInboundFramePayload");
      return this;
    }

    /**
     * The largest frame payload sent; larger writes are split. Keep it at or below what every proxy on the path
     * and the peer accept. Default: {@value WebSocketTunnel#DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD} bytes.
     */
    public Builder maxOutboundFramePayload(int bytes) {
      this.maxOutboundFramePayload = checkPositive(bytes, "maxOutboundFramePayload");
      return this;
    }

    /**
     * Time between two WebSocket Pings. Pings keep proxies, load balancers and CDNs that drop idle connections
     * (nginx and AWS ALB after 60 s, Cloudflare after about 100 s) from cutting a quiet tunnel, and let this side
     * notice a peer that has gone silent (see {@link #pingTimeout}). {@link Duration#ZERO} sends none; otherwise at
     * least {@value #MIN_PING_INTERVAL_MILLIS} ms and at most {@value #MAX_DURATION_MILLIS} ms (about 24.8 days).
     * Default: {@value WebSocketTunnel#DEFAULT_PING_INTERVAL_MILLIS} ms.
     */
    public Builder pingInterval(Duration interval) {
      checkNotNull(interval, "pingInterval");
      checkArgument(interval.compareTo(MAX_DURATION) <= 0, "pingInterval", interval, AT_MOST_MAX_DURATION);
      checkArgument(interval.isZero() || interval.toMillis() >= MIN_PING_INTERVAL_MILLIS && !interval.isNegative(),
          "pingInterval", interval, "0 to send no pings, or at least " + MIN_PING_INTERVAL_MILLIS + " ms");
      this.pingInterval = interval;
      return this;
    }

    /**
     * How long after a Ping something (a Pong, data, any frame) must arrive; when nothing does, the peer or a hop
     * on the path is taken to be dead and the tunnel is closed: on the client in-flight RPCs fail UNAVAILABLE and
     * the channel reconnects, on the server the tunnel's calls are cancelled. A peer that is still taking our data
     * (a slow reader, whose answer is queued behind that data) gets another timeout each time it has taken some;
     * see PROTOCOL.md section 7. The Netty client (channels and the command-line tool) also waits this long after
     * the 101 for the server's first bytes in the tunnel (its HTTP/2 SETTINGS), with pings off too, and then ends the
     * tunnel the same way; keep it above what a gateway in relay mode may take after its 101 to reach an upstream:
     * 10 s and more when none of its addresses answers (PROTOCOL.md section 2.6). At least 1 ms and at most
     * {@value #MAX_DURATION_MILLIS} ms (about 24.8 days). Default:
     * {@value WebSocketTunnel#DEFAULT_PING_TIMEOUT_MILLIS} ms.
     */
    public Builder pingTimeout(Duration timeout) {
      this.pingTimeout = checkDuration(timeout, "pingTimeout");
      return this;
    }

    /**
     * Time allowed for TLS and the upgrade together, up to the 101 (on the Netty client {@link #pingTimeout} then
     * bounds the wait for the server's first bytes); on clients also, before them, for the TCP connect (channels
     * from {@code WebSocketChannels} take it as their connect timeout) and, in the command-line tool, for the name
     * lookup (a step of its own, so a dial there may take twice this) and an HTTP CONNECT proxy's answer (channels
     * wait Netty's fixed 10 s for it). When it passes, a client's RPCs fail
     * UNAVAILABLE and the channel retries with its backoff; a server answers 408 (or, during TLS, closes the
     * connection). At least 1 ms
     * and at most {@value #MAX_DURATION_MILLIS} ms (about 24.8 days). Default:
     * {@value WebSocketTunnel#DEFAULT_HANDSHAKE_TIMEOUT_MILLIS} ms.
     */
    public Builder handshakeTimeout(Duration timeout) {
      this.handshakeTimeout = checkDuration(timeout, "handshakeTimeout");
      return this;
    }

    /** Returns the settings. */
    public TunnelSettings build() {
      return new TunnelSettings(this);
    }
  }
}
