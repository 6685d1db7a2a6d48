package dev.wsgrpc.core.internal;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOutboundBuffer;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs a task once nothing queued for a channel has left for a given time: the peer has stopped reading. Checks on the
 * channel's event loop, a fifth of that time apart, whether what its outbound buffer holds and has not written yet has
 * gone down, or the first of it has moved on; so the task runs that time to a fifth more after the last bytes left, and
 * never while they keep leaving, however slowly. Used on the event loop only.
 */
public final class OutboundStall implements Runnable {

  private static final int CHECKS_PER_TIMEOUT = 5;
  /** The shortest time between two checks: a watch runs for each connection, possibly for as long as it lasts. */
  private static final long MIN_CHECK_MILLIS = 10;

  private final Channel channel;
  private final long stallNanos;
  private final Runnable onStall;
  private final boolean nothingQueuedIsProgress;
  private long lastPending;
  /** The first message queued at the last check, and how much of it had been written: null when none was. */
  private Object lastHead;
  private long lastHeadProgress;
  private long lastProgressNanos;
  private boolean stopped;
  private ScheduledFuture<?> next;

  /**
   * Watches {@code channel} from now; {@code onStall} runs once, after {@code stallMillis} without progress, unless
   * {@link #stop()} comes first.
   *
   * @throws java.util.concurrent.RejectedExecutionException when the event loop is shutting down
   */
  public static OutboundStall start(Channel channel, long stallMillis, Runnable onStall) {
    OutboundStall watch = new OutboundStall(channel, stallMillis, onStall, false);
    watch.scheduleNext();
    return watch;
  }

  /**
   * As {@link #start}, for a watch that may run as long as the connection does, and ends with it: a channel with
   * nothing queued is not stalled, so the time counts from the last check that found nothing queued (at most a fifth
   * of the time before bytes began to wait). ({@link #start} waits for a write in particular, which may be held
   * before the outbound buffer, and counts from the start.)
   *
   * @throws java.util.concurrent.RejectedExecutionException when the event loop is shutting down
   */
  public static OutboundStall whileQueued(Channel channel, long stallMillis, Runnable onStall) {
    OutboundStall watch = new OutboundStall(channel, stallMillis, onStall, true);
    watch.scheduleNext();
    return watch;
  }

  private OutboundStall(Channel channel, long stallMillis, Runnable onStall, boolean nothingQueuedIsProgress) {
    this.nothingQueuedIsProgress = nothingQueuedIsProgress;
    this.channel = channel;
    this.stallNanos = TimeUnit.MILLISECONDS.toNanos(stallMillis);
    this.onStall = onStall;
    ChannelOutboundBuffer buffer = channel.unsafe().outboundBuffer();
    this.lastPending = buffer == null ? 0 : buffer.totalPendingWriteBytes() - buffer.currentProgress();
    this.lastHead = buffer == null ? null : buffer.current();
    this.lastHeadProgress = buffer == null ? 0 : buffer.currentProgress();
    this.lastProgressNanos = now();
  }

  /** Stops watching: what was waited for is done. */
  public void stop() {
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
    if (nothingQueuedIsProgress && !channel.isOpen()) {
      stopped = true; // a watch over the connection's life ends with it
      return;
    }
    ChannelOutboundBuffer buffer = channel.unsafe().outboundBuffer();
    // A buffer partly written stays in the total whole until its last byte has left, so the bytes it has written so
    // far are taken off: one large buffer taken slowly is progress too.
    long pending = buffer == null ? 0 : buffer.totalPendingWriteBytes() - buffer.currentProgress();
    Object head = buffer == null ? null : buffer.current();
    long headProgress = buffer == null ? 0 : buffer.currentProgress();
    // Bytes left if fewer are queued, or if the first of them moved on (some of it written, or all of it gone): the
    // latter shows them leaving even while more are queued behind them as fast (a stream topped up as it drains).
    boolean left = pending < lastPending || (lastHead != null && head != lastHead)
        || (head != null && head == lastHead && headProgress != lastHeadProgress);
    if (left || (pending == 0 && nothingQueuedIsProgress)) {
      lastProgressNanos = now();
    }
    lastPending = pending;
    lastHead = head;
    lastHeadProgress = headProgress;
    if (now() - lastProgressNanos >= stallNanos) {
      stopped = true;
      onStall.run();
      return;
    }
    scheduleNext();
  }

  /**
   * The next check: a fifth of the time on (at least {@value #MIN_CHECK_MILLIS} ms), or when the time is up if that is
   * sooner; for a watch over a connection's life that found nothing queued, at least {@value #MIN_CHECK_MILLIS} ms on
   * however short the time, since it may check for as long as the connection lasts.
   */
  private void scheduleNext() {
    long minimum = TimeUnit.MILLISECONDS.toNanos(MIN_CHECK_MILLIS);
    long delay = Math.min(Math.max(stallNanos / CHECKS_PER_TIMEOUT, minimum), lastProgressNanos + stallNanos - now());
    if (nothingQueuedIsProgress && lastPending == 0) {
      delay = Math.max(delay, minimum);
    }
    next = channel.eventLoop().schedule(this, delay, TimeUnit.NANOSECONDS);
  }

  private long now() {
    return channel.eventLoop().ticker().nanoTime();
  }
}
