package dev.wsgrpc.gateway;

import static dev.wsgrpc.core.internal.Preconditions.checkInRange;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;

import dev.wsgrpc.server.Http2Limits;
import java.time.Duration;

/**
 * The limits of relay mode, which has no HTTP/2 server of its own and so counts, in the client's byte stream, the
 * frames an attacker uses to make a server work for nothing: RST_STREAM (rapid reset), SETTINGS and PING. One more
 * than allowed in a window ends the tunnel with GOAWAY {@code ENHANCE_YOUR_CALM} before any of it reaches the
 * upstream. Immutable; one value per gateway.
 */
final class RelaySettings {

  /** The default most SETTINGS frames, and most PING frames, a client may send per window: {@value}. */
  static final int DEFAULT_MAX_CONTROL_FRAMES = 100;

  static final RelaySettings DEFAULT = newBuilder().build();

  final int maxRstFrames;
  final int maxSettingsFrames;
  final int maxPingFrames;
  final Duration window;

  private RelaySettings(Builder b) {
    this.maxRstFrames = b.maxRstFrames;
    this.maxSettingsFrames = b.maxControlFrames;
    this.maxPingFrames = b.maxControlFrames;
    this.window = b.window;
  }

  static Builder newBuilder() {
    return new Builder();
  }

  @Override
  public String toString() {
    return "RelaySettings{maxRstFrames=" + maxRstFrames + ", maxSettingsFrames=" + maxSettingsFrames
        + ", maxPingFrames=" + maxPingFrames + ", window=" + window + "}";
  }

  /** A validating builder, starting from the defaults. */
  static final class Builder {
    private int maxRstFrames = Http2Limits.DEFAULT_MAX_RST_FRAMES;
    private int maxControlFrames = DEFAULT_MAX_CONTROL_FRAMES;
    private Duration window = Duration.ofSeconds(Http2Limits.DEFAULT_RST_WINDOW_SECONDS);

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
     * counts them, so that flow-control pings during a download never do); 0 turns the limit off. Default:
     * {@value #DEFAULT_MAX_CONTROL_FRAMES}.
     */
    Builder maxControlFrames(int frames) {
      this.maxControlFrames = checkInRange(frames, 0, Integer.MAX_VALUE - 1, "maxControlFrames");
      return this;
    }

    RelaySettings build() {
      return new RelaySettings(this);
    }
  }
}
