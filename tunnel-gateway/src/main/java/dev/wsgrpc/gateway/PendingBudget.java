package dev.wsgrpc.gateway;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes all of relay mode's connections together may hold for upstream connections still being made: each
 * connection also has its own limit, but ten thousand of them each just under it would still be too much. Shared by
 * every event loop; lock-free.
 */
final class PendingBudget {

  private final long max;
  private final AtomicLong held = new AtomicLong();

  PendingBudget(long max) {
    this.max = max;
  }

  /** Takes {@code bytes} from the budget; false, taking nothing, when that would pass the total. */
  boolean tryReserve(long bytes) {
    while (true) {
      long now = held.get();
      if (now + bytes > max) {
        return false;
      }
      if (held.compareAndSet(now, now + bytes)) {
        return true;
      }
    }
  }

  /** Gives back {@code bytes} taken earlier. */
  void release(long bytes) {
    if (bytes > 0) {
      held.addAndGet(-bytes);
    }
  }

  /** The bytes held now. */
  long held() {
    return held.get();
  }
}
