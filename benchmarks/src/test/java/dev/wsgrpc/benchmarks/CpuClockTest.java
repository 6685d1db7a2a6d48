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
    CountDownLatch busy = new CountDownLatch(1);
    CountDownLatch end = new CountDownLatch(1);
    // Named as gRPC's executor threads are (a client-side thread), which end after a minute without work.
    Thread worker = new Thread(() -> {
      long me = Thread.currentThread().getId();
      while (THREADS.getThreadCpuTime(me) < 50_000_000L) {
        Thread.onSpinWait();
      }
      busy.countDown();
      try {
        end.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "grpc-default-executor-test");
    worker.start();
    busy.await();

    CpuClock.Threads before = CpuClock.Threads.now();
    end.countDown();
    worker.join();
    CpuClock.Threads.Used used = CpuClock.Threads.now().since(before);

    assertTrue(used.client() >= 0, "client CPU " + used.client() + " ns (expected: >= 0)");
    assertTrue(used.server() >= 0, "server CPU " + used.server() + " ns (expected: >= 0)");
  }

  @Test
  void aThreadThatStartsInBetweenCountsFromNothing() throws Exception {
    CpuClock.Threads before = CpuClock.Threads.now();
    CountDownLatch busy = new CountDownLatch(1);
    CountDownLatch end = new CountDownLatch(1);
    Thread worker = new Thread(() -> {
      long me = Thread.currentThread().getId();
      while (THREADS.getThreadCpuTime(me) < 20_000_000L) {
        Thread.onSpinWait();
      }
      busy.countDown();
      try {
        end.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "bench-server-test");
    worker.start();
    try {
      busy.await();
      CpuClock.Threads.Used used = CpuClock.Threads.now().since(before);

      assertTrue(used.server() >= 20_000_000L, "server CPU " + used.server() + " ns (expected: >= 20 ms)");
    } finally {
      end.countDown();
      worker.join();
    }
  }
}
