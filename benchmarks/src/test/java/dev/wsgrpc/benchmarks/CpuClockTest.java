package dev.wsgrpc.benchmarks;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class CpuClockTest {

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  @Test
  void aThreadThatEndsInBetweenTakesNothingAwayFromTheOthers() throws Exception {
    // Named as gRPC's executor threads are (a client-side thread), which end after a minute without work.
    BusyThread worker = BusyThread.start("grpc-default-executor-test", 50_000_000L);

    CpuClock.Threads before = CpuClock.Threads.now();
    worker.end();
    CpuClock.Threads.Used used = CpuClock.Threads.now().since(before);

    assertTrue(used.client() >= 0, "client CPU " + used.client() + " ns (expected: >= 0)");
    assertTrue(used.server() >= 0, "server CPU " + used.server() + " ns (expected: >= 0)");
  }

  @Test
  void aThreadThatStartsInBetweenCountsFromNothing() throws Exception {
    CpuClock.Threads before = CpuClock.Threads.now();
    BusyThread worker = BusyThread.start("bench-server-test", 20_000_000L);
    try {
      CpuClock.Threads.Used used = CpuClock.Threads.now().since(before);

      assertTrue(used.server() >= 20_000_000L, "server CPU " + used.server() + " ns (expected: >= 20 ms)");
    } finally {
      worker.end();
    }
  }

  /** A thread that has used at least the given CPU time once {@link #start} returns, and waits for {@link #end}. */
  private static final class BusyThread {
    private final Thread thread;
    private final CountDownLatch end = new CountDownLatch(1);

    private BusyThread(String name, long cpuNanos, CountDownLatch busy) {
      thread = new Thread(() -> {
        long me = Thread.currentThread().getId();
        while (THREADS.getThreadCpuTime(me) < cpuNanos) {
          Thread.onSpinWait();
        }
        busy.countDown();
        try {
          end.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, name);
    }

    static BusyThread start(String name, long cpuNanos) throws InterruptedException {
      CountDownLatch busy = new CountDownLatch(1);
      BusyThread busyThread = new BusyThread(name, cpuNanos, busy);
      busyThread.thread.start();
      busy.await();
      return busyThread;
    }

    /** Lets the thread end, and waits until it has. */
    void end() throws InterruptedException {
      end.countDown();
      thread.join();
    }
  }
}
