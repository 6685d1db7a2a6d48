package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * New connections per second: a new channel, one unary call through it (so TLS, the upgrade and the HTTP/2 preface
 * are all done), then shut down. With one opener ({@code new_tunnels}) each connection starts when the last one has
 * ended, so the rate counts every round trip a connection waits for; with several at once
 * ({@code new_tunnels_8_openers}) the round trips overlap and the rate shows what the CPU allows, as
 * when many clients connect at the same time. Over ws and wss and their baselines only. Beside the rate, the CPU
 * time each new connection costs the client and the server, from the CPU time of their threads
 * ({@link CpuClock.Threads}): client and server share this JVM but not their threads.
 */
final class ConnectRate extends Workload {

  private static final Set<String> SETUPS = Set.of("h2c", "ws", "h2", "wss");
  /**
   * How many times the mode's warm-up each setup gets here before the JIT compiler is watched (15 s in a full run):
   * the code that opens and ends a connection runs once per connection, about a thousand times a second, so after
   * the shared 3 s it was still being compiled, and the rates of the iterations climbed from the first to the last
   * (the full run of 2026-12-03 08:42: h2c 630 to 1,256-1,433, ws 606 to 986-1,077 connections per second).
   */
  static final int WARM_UP_FACTOR = 5;

  /** How many threads open connections at once in the second variant: four per core of this 2-core machine. */
  static final int OPENERS = 8;

  private final int openers;

  /** @param openers how many threads open connections at the same time, each one after the other */
  ConnectRate(int openers) {
    if (openers < 1) {
      throw new IllegalArgumentException("openers: " + openers + " (expected: > 0)");
    }
    this.openers = openers;
  }

  @Override
  String id() {
    return id(openers);
  }

  /** The workload id with {@code openers} at once: {@code new_tunnels}, or e.g. {@code new_tunnels_8_openers}. */
  static String id(int openers) {
    return openers == 1 ? "new_tunnels" : "new_tunnels_" + openers + "_openers";
  }

  @Override
  String title() {
    return openers == 1 ? "New connections (tunnels) per second, each with one unary call"
        : "New connections (tunnels) per second, each with one unary call, " + openers + " opened at a time";
  }

  @Override
  List<Metric> metrics() {
    return List.of(new Metric("rate", "conn/s", true), new Metric("client_cpu", "CPU µs/conn", false),
        new Metric("server_cpu", "CPU µs/conn", false));
  }

  @Override
  boolean appliesTo(Setup setup) {
    return SETUPS.contains(setup.name());
  }

  /**
   * Opens connections for {@link #WARM_UP_FACTOR} times {@code duration}, then on in slices of {@code duration} until
   * the JIT compiler has settled ({@link Workload#runUntilJitSettles}). 15 s was still not enough: on 2026-12-04 the
   * JIT of a setup's JVM still compiled for 10-40 % of the time after 30,000 connections (about 20 s), and went quiet
   * only after some 35,000 (h2c) to 40,000 (ws; more code per connection, so it settles later).
   */
  @Override
  double warmUp(Setup setup, Duration duration) throws Exception {
    run(setup, duration.multipliedBy(WARM_UP_FACTOR));
    runUntilJitSettles(setup, duration);
    return Double.NaN;
  }

  /**
   * Two: after the other setups' warm-ups (a minute or more) the first rounds were still slower, as the JIT compiled
   * again what had idled (2026-12-04: ws 1,345, 1,563, 1,638, then 1,695-1,904 connections per second).
   */
  @Override
  int unmeasuredRounds() {
    return 2;
  }

  @Override
  Map<String, Double> run(Setup setup, Duration duration) throws Exception {
    CpuClock.Threads before = CpuClock.Threads.now();
    long start = System.nanoTime();
    long end = start + duration.toNanos();
    if (openers == 1) {
      int connections = openUntil(setup, end);
      long nanos = System.nanoTime() - start;
      return result(connections, nanos, CpuClock.Threads.now().since(before));
    }
    // The openers stay alive until their CPU time is read: the clock counts only threads that are still there.
    AtomicInteger opened = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch done = new CountDownLatch(openers);
    CountDownLatch release = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < openers; i++) {
      Thread thread = new Thread(() -> {
        try {
          opened.addAndGet(openUntil(setup, end));
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        } finally {
          done.countDown();
        }
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, "bench-client-opener-" + i);
      thread.setDaemon(true);
      thread.start();
      threads.add(thread);
    }
    long nanos;
    CpuClock.Threads.Used cpu;
    try {
      done.await();
      nanos = System.nanoTime() - start;
      cpu = CpuClock.Threads.now().since(before);
    } finally {
      release.countDown();
    }
    for (Thread thread : threads) {
      thread.join();
    }
    if (failure.get() != null) {
      throw new IllegalStateException("an opener failed: " + failure.get(), failure.get());
    }
    return result(opened.get(), nanos, cpu);
  }

  /** Opens connections one after the other until {@code end} (System.nanoTime()) has passed; returns how many. */
  private static int openUntil(Setup setup, long end) {
    int connections = 0;
    do {
      ManagedChannel channel = setup.newChannel();
      try {
        EchoGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS).unary(UnaryLatency.REQUEST);
      } finally {
        Channels.shutdown(channel);
      }
      connections++;
    } while (System.nanoTime() < end);
    return connections;
  }

  private static Map<String, Double> result(int connections, long nanos, CpuClock.Threads.Used cpu) {
    Map<String, Double> result = new LinkedHashMap<>();
    result.put("rate", connections * 1e9 / nanos);
    result.put("client_cpu", cpu.client() / 1e3 / connections);
    result.put("server_cpu", cpu.server() / 1e3 / connections);
    return result;
  }
}
