package dev.wsgrpc.gateway;

/**
 * Counts one kind of frame a client sends, in fixed windows that start at the first frame after the previous window
 * ended (as grpc-java counts RST_STREAM for {@code maxRstFramesPerWindow}), and says when there are more than allowed.
 * Runs on one event loop; not thread-safe.
 */
final class FrameRateLimit {

  private final int max;
  private final long windowNanos;
  private long windowStart;
  private int count;

  /** @param max frames allowed per window; 0 allows any number */
  FrameRateLimit(int max, long windowNanos) {
    this.max = max;
    this.windowNanos = windowNanos;
  }

  /** Counts one frame arriving at {@code nowNanos}; true when it is one more than the window allows. */
  boolean exceeded(long nowNanos) {
    if (max == 0) {
      return false;
    }
    if (count == 0 || nowNanos - windowStart > windowNanos) {
      windowStart = nowNanos;
      count = 1;
    } else {
      count++;
    }
    return count > max;
  }

  /** Forgets the frames counted so far. */
  void forgive() {
    count = 0;
  }
}
