package dev.wsgrpc.gateway.proxy;

import dev.wsgrpc.core.internal.RateLimitedLog;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.LoggerFactory;

/**
 * One forwarded call's lane on the event loop that serves it: its tasks run one at a time, in the order they were
 * posted, each to its end before the next starts (no task runs inside another), and all on {@code loop}.
 *
 * <p>In proxy mode both connections of a call live on one loop ({@link UpstreamChannels}), so nearly every task is
 * posted from the loop itself while no other task of the call runs: it runs at once, with no queue and no
 * allocation. A task posted while another runs (a callback one of the call's own actions set off) waits for it. A
 * task posted from another thread (the upstream channel starting a call it had to hold while connecting, on the
 * thread that ran the channel's own work, or the channel's {@code shutdownNow}) goes to the loop; from then until
 * the lane is empty again, the loop's own tasks queue behind it, so that the order of posting is kept.
 *
 * <p>Not a general executor: it serves one call, whose tasks handle their own failures. Should one throw anyway, the
 * lane logs it (rate-limited) and runs the tasks after it, so that the call still ends.
 */
final class LoopLane implements Executor {

  private static final RateLimitedLog FAILED =
      new RateLimitedLog(LoggerFactory.getLogger(LoopLane.class), RateLimitedLog.Level.WARN);

  private final Executor loop;
  private final Thread loopThread;
  private final Queue<Runnable> queue = new ConcurrentLinkedQueue<>();
  /** A task of this lane is running (on the loop). Confined to the loop. */
  private boolean running;

  /**
   * @param loop the executor of {@code loopThread}: the event loop serving the call
   * @param loopThread the loop's thread, which must be the current thread: the lane is made where the call starts
   */
  private LoopLane(Executor loop, Thread loopThread) {
    this.loop = loop;
    this.loopThread = loopThread;
  }

  /** A lane on the current thread's event loop {@code loop}. */
  static LoopLane onCurrentLoop(Executor loop) {
    return new LoopLane(loop, Thread.currentThread());
  }

  @Override
  public void execute(Runnable task) {
    if (Thread.currentThread() != loopThread) {
      queue.add(task);
      try {
        loop.execute(this::drain);
      } catch (RejectedExecutionException e) {
        // The loop is shutting down, its connections with it: the call is ending, and nothing is left to tell.
        queue.clear();
      }
      return;
    }
    if (running || !queue.isEmpty()) {
      queue.add(task); // behind the running task, or behind a task from another thread
      drain();
      return;
    }
    running = true;
    try {
      run(task);
    } finally {
      running = false;
      if (!queue.isEmpty()) {
        drain();
      }
    }
  }

  /** Runs what is queued, in order, on the loop. */
  private void drain() {
    if (running) {
      return; // the task running now drains when it ends
    }
    running = true;
    try {
      for (Runnable task = queue.poll(); task != null; task = queue.poll()) {
        run(task);
      }
    } finally {
      running = false;
    }
  }

  private static void run(Runnable task) {
    try {
      task.run();
    } catch (RuntimeException e) {
      FAILED.log("A task of a forwarded call failed: {}", e);
    }
  }
}
