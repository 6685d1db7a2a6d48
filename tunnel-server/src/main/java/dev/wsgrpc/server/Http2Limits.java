package dev.wsgrpc.server;

import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkInRange;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;
import static dev.wsgrpc.core.internal.Preconditions.checkPositive;

import java.time.Duration;
import java.util.Objects;

/**
 * What one client may do inside one tunnel or native gRPC connection at the HTTP/2 level, whatever the services do:
 * how many calls it may have open at once, and how many streams it may reset in a window (the "rapid reset" attack,
 * CVE-2023-44487, opens and cancels streams faster than a server can clean up after them). Immutable; build one with
 * {@link #newBuilder()}.
 *
 * <p>A library server applies them through grpc-java's server ({@code maxConcurrentCallsPerConnection},
 * {@code maxRstFramesPerWindow}): more concurrent calls than allowed are refused with RST_STREAM REFUSED_STREAM (the
 * client sees {@code UNAVAILABLE}), and more resets than allowed end the connection with GOAWAY
 * {@code ENHANCE_YOUR_CALM} ({@code too_many_rststreams}).
 *
 * <pre>{@code
 * WebSocketServerOptions options = WebSocketServerOptions.newBuilder()
 *     .http2Limits(Http2Limits.newBuilder().maxConcurrentCalls(200).build())
 *     .build();
 * }</pre>
 */
public final class Http2Limits {

  /** The default most concurrent calls per connection: {@value}. */
  public static final int DEFAULT_MAX_CONCURRENT_CALLS = 1000;
  /** The default most RST_STREAM frames a client may send per {@link #DEFAULT_RST_WINDOW_SECONDS} s: {@value}. */
  public static final int DEFAULT_MAX_RST_FRAMES = 200;
  /** The default window of the reset limit: {@value} seconds. */
  public static final int DEFAULT_RST_WINDOW_SECONDS = 10;

  /** Every limit at its default. */
  public static final Http2Limits DEFAULT = newBuilder().build();

  private final int maxConcurrentCalls;
  private final int maxRstFrames;
  private final Duration rstWindow;

  private Http2Limits(Builder b) {
    this.maxConcurrentCalls = b.maxConcurrentCalls;
    this.maxRstFrames = b.maxRstFrames;
    this.rstWindow = b.rstWindow;
  }

  /** Starts from the defaults. */
  public static Builder newBuilder() {
    return new Builder();
  }

  /** A builder that starts from these limits. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** The most calls one connection may have open at once (HTTP/2 {@code SETTINGS_MAX_CONCURRENT_STREAMS}). */
  public int maxConcurrentCalls() {
    return maxConcurrentCalls;
  }

  /** The most RST_STREAM frames a client may send per {@link #rstWindow()}; 0 when resets are not limited. */
  public int maxRstFrames() {
    return maxRstFrames;
  }

  /** The window of {@link #maxRstFrames()}, in whole seconds. */
  public Duration rstWindow() {
    return rstWindow;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Http2Limits)) {
      return false;
    }
    Http2Limits l = (Http2Limits) o;
    return maxConcurrentCalls == l.maxConcurrentCalls && maxRstFrames == l.maxRstFrames
        && rstWindow.equals(l.rstWindow);
  }

  @Override
  public int hashCode() {
    return Objects.hash(maxConcurrentCalls, maxRstFrames, rstWindow);
  }

  @Override
  public String toString() {
    return "Http2Limits{maxConcurrentCalls=" + maxConcurrentCalls + ", maxRstFrames=" + maxRstFrames
        + ", rstWindow=" + rstWindow + "}";
  }

  /** A validating builder; every setter fails fast with the offending value. Not thread-safe. */
  public static final class Builder {
    private int maxConcurrentCalls = DEFAULT_MAX_CONCURRENT_CALLS;
    private int maxRstFrames = DEFAULT_MAX_RST_FRAMES;
    private Duration rstWindow = Duration.ofSeconds(DEFAULT_RST_WINDOW_SECONDS);

    private Builder() {}

    private Builder(Http2Limits l) {
      maxConcurrentCalls = l.maxConcurrentCalls;
      maxRstFrames = l.maxRstFrames;
      rstWindow = l.rstWindow;
    }

    /**
     * The most calls one connection may have open at once; further calls are refused (RST_STREAM REFUSED_STREAM,
     * {@code UNAVAILABLE} on the client) until one ends. Fails with {@code "maxConcurrentCalls: 0 (expected: >
     * 0)"}. Default: {@value #DEFAULT_MAX_CONCURRENT_CALLS}.
     */
    public Builder maxConcurrentCalls(int calls) {
      this.maxConcurrentCalls = checkPositive(calls, "maxConcurrentCalls");
      return this;
    }

    /**
     * The most RST_STREAM frames a client may send in {@code window}; one more ends the connection with GOAWAY
     * {@code ENHANCE_YOUR_CALM}. {@code 0} turns the limit off (not recommended on the internet). The window is
     * whole seconds, 1 s to 1 h. Fails with {@code "maxRstFrames: -1 (expected: 0 <= maxRstFrames <= ...)"}.
     * Default: {@value #DEFAULT_MAX_RST_FRAMES} per {@value #DEFAULT_RST_WINDOW_SECONDS} s.
     */
    public Builder maxRstFrames(int frames, Duration window) {
      checkInRange(frames, 0, Integer.MAX_VALUE - 1, "maxRstFrames");
      checkNotNull(window, "rstWindow");
      checkArgument(window.getNano() == 0 && window.getSeconds() >= 1 && window.getSeconds() <= 3600, "rstWindow",
          window, "whole seconds from 1s to 1h");
      this.maxRstFrames = frames;
      this.rstWindow = window;
      return this;
    }

    /** Returns the limits. */
    public Http2Limits build() {
      return new Http2Limits(this);
    }
  }
}
