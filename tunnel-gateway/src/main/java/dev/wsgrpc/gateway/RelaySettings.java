package dev.wsgrpc.gateway;

import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkDuration;
import static dev.wsgrpc.core.internal.Preconditions.checkDurationOrZero;
import static dev.wsgrpc.core.internal.Preconditions.checkInRange;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;

import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.server.Http2Limits;
import java.time.Duration;

/**
 * The limits and timers of relay mode, which has no HTTP/2 server of its own. It counts, in the client's byte
 * stream, the frames an attacker uses to make a server work for nothing (RST_STREAM, SETTINGS, PING): one more than
 * allowed in a window ends the tunnel with GOAWAY {@code ENHANCE_YOUR_CALM} before any of it reaches the upstream.
 * It pings an upstream that has been silent, ends tunnels without calls, and caps the bytes held for upstream
 * connections still being made. Immutable; one value per gateway.
 */
final class RelaySettings {

  /** The default most SETTINGS frames, and most PING frames, a client may send per window: {@value}. */
  static final int DEFAULT_MAX_CONTROL_FRAMES = 100;
  /**
   * The default time an upstream may be silent, while a call is open, before it gets a PING: {@value} min, what
   * grpc-java servers permit by default ({@code permitKeepAliveTime}).
   */
  static final int DEFAULT_UPSTREAM_KEEPALIVE_MINUTES = 5;
  /** The default time an upstream has to answer that PING: {@value} s. */
  static final int DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT_SECONDS = 20;
  /** The default time a tunnel may have no call before it is drained: {@value} min. */
  static final int DEFAULT_IDLE_TIMEOUT_MINUTES = 30;
  /** The default most bytes held, for all connections together, while their upstream connections are made. */
  static final long DEFAULT_MAX_PENDING_BYTES = 64L * 1024 * 1024;

  static final RelaySettings DEFAULT = newBuilder().build();

  final int maxRstFrames;
  final int maxSettingsFrames;
  final int maxPingFrames;
  final Duration window;
  final Duration upstreamKeepAliveTime;
  final Duration upstreamKeepAliveTimeout;
  final Duration idleTimeout;
  final long maxPendingBytes;
  final Duration handshakeTimeout;

  private RelaySettings(Builder b) {
    this.maxRstFrames = b.maxRstFrames;
    this.maxSettingsFrames = b.maxControlFrames;
    this.maxPingFrames = b.maxControlFrames;
    this.window = b.window;
    this.upstreamKeepAliveTime = b.upstreamKeepAliveTime;
    this.upstreamKeepAliveTimeout = b.upstreamKeepAliveTimeout;
    this.idleTimeout = b.idleTimeout;
    this.maxPendingBytes = b.maxPendingBytes;
    this.handshakeTimeout = b.handshakeTimeout;
  }

  static Builder newBuilder() {
    return new Builder();
  }

  @Override
  public String toString() {
    return "RelaySettings{maxRstFrames=" + maxRstFrames + ", maxSettingsFrames=" + maxSettingsFrames
        + ", maxPingFrames=" + maxPingFrames + ", window=" + window + ", upstreamKeepAliveTime="
        + upstreamKeepAliveTime + ", upstreamKeepAliveTimeout=" + upstreamKeepAliveTimeout + ", idleTimeout="
        + idleTimeout + ", maxPendingBytes=" + maxPendingBytes + ", handshakeTimeout=" + handshakeTimeout + "}";
  }

  /** A validating builder, starting from the defaults. */
  static final class Builder {
    private int maxRstFrames = Http2Limits.DEFAULT_MAX_RST_FRAMES;
    private int maxControlFrames = DEFAULT_MAX_CONTROL_FRAMES;
    private Duration window = Duration.ofSeconds(Http2Limits.DEFAULT_RST_WINDOW_SECONDS);
    private Duration upstreamKeepAliveTime = Duration.ofMinutes(DEFAULT_UPSTREAM_KEEPALIVE_MINUTES);
    private Duration upstreamKeepAliveTimeout = Duration.ofSeconds(DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT_SECONDS);
    private Duration idleTimeout = Duration.ofMinutes(DEFAULT_IDLE_TIMEOUT_MINUTES);
    private long maxPendingBytes = DEFAULT_MAX_PENDING_BYTES;
    private Duration handshakeTimeout = TunnelSettings.DEFAULT.handshakeTimeout();

    private Builder() {}

    /** The reset limit and its window, as the library's servers apply them. */
    Builder http2Limits(Http2Limits limits) {
      checkNotNull(limits, "http2Limits");
      this.maxRstFrames = limits.maxRstFrames();
      this.window = limits.rstWindow();
      return this;
    }

    /**
     * The most SETTINGS frames, and separately the most PING frames, a client may send per window (ACKs do not
     * count; a PING counts only until the upstream next sends HEADERS or DATA, as grpc-java's keepalive policy
     * counts them, so that flow-control pings during a download never do); 0 turns the limit off. The gateway
     * answers the PINGs itself (none reaches the upstream), so this limit, and at most
     * {@value UpstreamRelayHandler#MAX_OUTSTANDING_PING_ACKS} ACKs unread, bound what it queues for them. Default:
     * {@value #DEFAULT_MAX_CONTROL_FRAMES}.
     */
    Builder maxControlFrames(int frames) {
      this.maxControlFrames = checkInRange(frames, 0, Integer.MAX_VALUE - 1, "maxControlFrames");
      return this;
    }

    /**
     * How long an upstream may send nothing while a call is open before the gateway sends it an HTTP/2 PING, and how
     * long it then has to answer; no answer ends the tunnel with close 1013. {@code time} zero sends none. The
     * upstream must permit pings this often (grpc-java: {@code permitKeepAliveTime}, 5 min by default). {@code time}
     * is 0 or 1 ms to {@value TunnelSettings#MAX_DURATION_MILLIS} ms (about 24.8 days), {@code timeout} 1 ms to as
     * much; others fail with {@code "upstreamKeepAlive: 999999999999h (expected: at most 2147483647 ms, about 24.8
     * days)"}. Default: {@value #DEFAULT_UPSTREAM_KEEPALIVE_MINUTES} min and
     * {@value #DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT_SECONDS} s.
     */
    Builder upstreamKeepAlive(Duration time, Duration timeout) {
      checkDurationOrZero(time, "upstreamKeepAlive");
      checkDuration(timeout, "upstreamKeepAliveTimeout");
      this.upstreamKeepAliveTime = time;
      this.upstreamKeepAliveTimeout = timeout;
      return this;
    }

    /**
     * How long a tunnel may have no call before it is drained (GOAWAY, close 1001); zero never. 0 or 1 ms to
     * {@value TunnelSettings#MAX_DURATION_MILLIS} ms (about 24.8 days); others fail with
     * {@code "idleTimeout: -1s (expected: >= 0)"}. Default: {@value #DEFAULT_IDLE_TIMEOUT_MINUTES} min.
     */
    Builder idleTimeout(Duration idle) {
      this.idleTimeout = checkDurationOrZero(idle, "idleTimeout");
      return this;
    }

    /**
     * The most bytes all connections together may hold while their upstream connections are being made (each also
     * holds at most {@value UpstreamRelayHandler#MAX_PENDING_BYTES}); a connection that would pass it ends with
     * close 1013. Default: 64 MiB.
     */
    Builder maxPendingBytes(long bytes) {
      checkArgument(bytes >= UpstreamRelayHandler.MAX_PENDING_BYTES, "maxPendingBytes", bytes,
          ">= " + UpstreamRelayHandler.MAX_PENDING_BYTES);
      this.maxPendingBytes = bytes;
      return this;
    }

    /**
     * How long a tunnel has, once its upstream connection is made, to send the HTTP/2 preface and its first SETTINGS
     * frame (the library and proxy mode give it as long, through gRPC's own handshake deadline); a tunnel that does
     * not ends with close 1001, and its upstream connection is closed. Also how long a tunnel's search for an upstream
     * may take before it ends with close 1013 (clients wait for the upstream's SETTINGS their ping timeout, 15 s by
     * default). Taken from the tunnels' own settings, which
     * bound it (1 ms to about 24.8 days), so that one value is checked once. Default: {@code TunnelSettings.DEFAULT}'s
     * (10 s); the jar passes the settings that {@code --handshake-timeout} made.
     */
    Builder handshakeTimeout(TunnelSettings tunnels) {
      checkNotNull(tunnels, "tunnelSettings");
      this.handshakeTimeout = tunnels.handshakeTimeout();
      return this;
    }

    RelaySettings build() {
      return new RelaySettings(this);
    }
  }
}
