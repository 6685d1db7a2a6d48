package dev.wsgrpc.core.internal;

import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;
import static dev.wsgrpc.core.internal.Preconditions.checkPositive;

import dev.wsgrpc.core.WebSocketTunnel;
import java.time.Duration;

/**
 * The settings of the frame handlers ({@link FramePipeline}) that client and server options share: the frame
 * payload limits and the keepalive Pings, with their defaults and their validation. The public option builders
 * document each setting and delegate here, so both sides accept the same values with the same messages.
 *
 * <p>Mutable and not thread-safe: a builder owns one, and the options it builds keep their own {@linkplain
 * #FramePipelineSettings(FramePipelineSettings) copy}, which nothing changes afterwards.
 */
public final class FramePipelineSettings {

  /** The shortest ping interval accepted: shorter ones would flood the path with control frames. */
  public static final Duration MIN_PING_INTERVAL = Duration.ofMillis(100);

  private int maxInboundFramePayload = WebSocketTunnel.DEFAULT_MAX_INBOUND_FRAME_PAYLOAD;
  private int maxOutboundFramePayload = WebSocketTunnel.DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD;
  private Duration pingInterval = Duration.ofMillis(WebSocketTunnel.DEFAULT_PING_INTERVAL_MILLIS);
  private Duration pingTimeout = Duration.ofMillis(WebSocketTunnel.DEFAULT_PING_TIMEOUT_MILLIS);

  /** Settings at their defaults, those of {@link WebSocketTunnel}. */
  public FramePipelineSettings() {}

  /** A copy of {@code other}. */
  public FramePipelineSettings(FramePipelineSettings other) {
    this.maxInboundFramePayload = other.maxInboundFramePayload;
    this.maxOutboundFramePayload = other.maxOutboundFramePayload;
    this.pingInterval = other.pingInterval;
    this.pingTimeout = other.pingTimeout;
  }

  /** Sets the largest frame payload accepted; fails with {@code "maxInboundFramePayload: 0 (expected: > 0)"}. */
  public void maxInboundFramePayload(int bytes) {
    this.maxInboundFramePayload = checkPositive(bytes, "maxInboundFramePayload");
  }

  /** Sets the largest frame payload sent; fails with {@code "maxOutboundFramePayload: 0 (expected: > 0)"}. */
  public void maxOutboundFramePayload(int bytes) {
    this.maxOutboundFramePayload = checkPositive(bytes, "maxOutboundFramePayload");
  }

  /** Sets the time between two Pings: zero for none, else at least {@link #MIN_PING_INTERVAL}. */
  public void pingInterval(Duration interval) {
    checkNotNull(interval, "pingInterval");
    checkArgument(interval.isZero() || interval.compareTo(MIN_PING_INTERVAL) >= 0, "pingInterval", interval,
        "0 to send no pings, or at least " + MIN_PING_INTERVAL.toMillis() + " ms");
    this.pingInterval = interval;
  }

  /** Sets how long after a Ping something must arrive; it must be positive. */
  public void pingTimeout(Duration timeout) {
    checkNotNull(timeout, "pingTimeout");
    checkArgument(!timeout.isNegative() && !timeout.isZero(), "pingTimeout", timeout, "> 0");
    this.pingTimeout = timeout;
  }

  /** The largest frame payload accepted from the peer, in bytes. */
  public int maxInboundFramePayload() {
    return maxInboundFramePayload;
  }

  /** The largest frame payload sent to the peer, in bytes. */
  public int maxOutboundFramePayload() {
    return maxOutboundFramePayload;
  }

  /** Time between two Pings; {@link Duration#ZERO} when none are sent. */
  public Duration pingInterval() {
    return pingInterval;
  }

  /** How long after a Ping something must arrive before the tunnel is closed as dead. */
  public Duration pingTimeout() {
    return pingTimeout;
  }

  /** The fields as the options' {@code toString()} lists them, without braces. */
  @Override
  public String toString() {
    return "maxInboundFramePayload=" + maxInboundFramePayload
        + ", maxOutboundFramePayload=" + maxOutboundFramePayload
        + ", pingInterval=" + pingInterval + ", pingTimeout=" + pingTimeout;
  }
}
