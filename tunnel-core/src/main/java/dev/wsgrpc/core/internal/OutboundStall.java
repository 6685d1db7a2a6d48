package dev.wsgrpc.core.internal;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOutboundBuffer;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs a task once nothing queued for a channel has left for a given time: the peer has stopped reading. Checks on the
 * channel's event loop, a fifth of that time apart, whether what its outbound buffer holds and has not written yet has
 * gone down; so the task runs that time to a fifth more after the last bytes left, and never while they keep leaving,
 * however slowly. Used on the event loop only.
 */
final class OutboundStall implements Runnable {

  private static final int CHECKS_PER_TIMEOUT = 5;

  private final Channel channel;
  private final long stallNanos;
  private final Runnable onStall;
  private long lastPending;
  private long lastProgressNanos;
  private boolean stopped;
  private ScheduledFuture<?> next;

  /**
   * Watches {@code channel} from now; {@code onStall} runs once, after {@code stallMillis} without progress, unless
   * {@link #stop()} comes first.
   *
   * @throws java.util.concurrent.RejectedExecutionException when the event loop is shutting down
   */
  static OutboundStall start(Channel channel, long stallMillis, Runnable onStall) {
    OutboundStall watch = new OutboundStall(channel, stallMillis, onStall);
    watch.scheduleNext();
    return watch;
  }

  private OutboundStall(Channel channel, long stallMillis, Runnable onStall) {
    this.channel = channel;
    this.stallNanos = TimeUnit.MILLISECONDS.toNanos(stallMillis);
    this.onStall = onStall;
    this.lastPending = pendingBytes();
    this.lastProgressNanos = now();
  }

  /** Stops watching: what was waited for is done. */
  void stop() {
    stopped = true;
    if (next != null) {
      next.cancel(false);
    }
  }

  @Override
  public void run() {
    if (stopped) {
      return;
    }
    long pending = pendingBytes();
    if (pending < lastPending) {
      lastProgressNanos = now();
    }
    lastPending = pending;
    if (now() - lastProgressNanos >= stallNanos) {
      stopped = true;
      onStall.run();
      return;
    }
    scheduleNext();
  }

  /** The next check: a fifth of the time on, or when the time is up if that is sooner. */
  private void scheduleNext() {
    long delay = Math.min(stallNanos / CHECKS_PER_TIMEOUT, lastProgressNanos + stallNanos - now());
    next = channel.eventLoop().schedule(this, delay, TimeUnit.NANOSECONDS);
  }

  /**
   * What is queued and has not left yet. A buffer partly written stays in the count whole until its last byte has
   * left, so the bytes it has written so far ({@code currentProgress}) are taken off: one large buffer taken slowly
   * is progress too.
   */
  private long pendingBytes() {
    ChannelOutboundBuffer buffer = channel.unsafe().outboundBuffer();
    return buffer == null ? 0 : buffer.totalPendingWriteBytes() - buffer.currentProgress();
  }

  private long now() {
    return channel.eventLoop().ticker().nanoTime();
  }
}
