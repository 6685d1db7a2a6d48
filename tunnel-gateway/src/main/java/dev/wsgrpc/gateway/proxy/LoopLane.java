package dev.wsgrpc.gateway.proxy;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * One forwarded call's lane on the event loop that serves it: its tasks run one at a time, in the order they were
 * posted, each to its end before the next starts (no task runs inside another), and all on {@code loop}.
 *
 * <p>In proxy mode both connections of a call live on one loop ({@link UpstreamChannels}), so nearly every task is
 * posted from the loop itself while no other task of the call runs: it runs at once, with no queue and no
 * allocation. A task posted while another runs (a callback one of the call's own actions set off) waits for it. A
 * task posted from another thread (a deadline timer, or the upstream channel starting a call it had to hold while
 * connecting) goes to the loop; from then until the lane is empty again, the loop's own tasks queue behind it, so
 * that the order of posting is kept.
 *
 * <p>Not a general executor: it serves one call, and the call's tasks never throw (they handle their own failures).
 */
final class LoopLane implements Executor {

  private final Executor loop;
  private final Thread loopThread;
  private final Queue<Runnable> queue = new ConcurrentLinkedQueue<>();
  /** A task of this lane is running (on the loop). Confined to the loop. */
  private boolean running;

  /**
   * @param loop the executor of {@code loopThread}: the event loop serving the call
   * @param loopThread the loop's thread, which must be the current thread: the lane is made where the call starts
   */
  LoopLane(Executor loop, Thread loopThread) {
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
      queue.add(task); // the running task, or the drain already posted, runs it in turn
      if (!running) {
        drain();
      }
      return;
    }
    running = true;
    try {
      task.run();
    } finally {
      running = false;
    }
    if (!queue.isEmpty()) {
      drain();
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
        task.run();
      }
    } finally {
      running = false;
    }
  }
}
