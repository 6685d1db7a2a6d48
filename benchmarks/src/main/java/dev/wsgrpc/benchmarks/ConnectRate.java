package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * New connections per second, one after the other: a new channel, one unary call through it (so TLS, the upgrade and
 * the HTTP/2 preface are all done), then shut down. Over ws and wss and their baselines only. Beside the rate, the
 * CPU time each new connection costs the client and the server, from the CPU time of their threads
 * ({@link CpuClock.Threads}): client and server share this JVM but not their threads.
 */
final class ConnectRate extends Workload {

  private static final Set<String> SETUPS = Set.of("h2c", "ws", "h2", "wss");
  /**
   * How many times the mode's warm-up each setup gets here (15 s in a full run): the code that opens and ends a
   * connection runs once per connection, about a thousand times a second, so after the shared 3 s it was still being
   * compiled, and the rates of the iterations climbed from the first to the last (the full run of 2026-12-03 08:42: h2c 630 to
   * 1,256-1,433, ws 606 to 986-1,077 connections per second).
   */
  static final int WARM_UP_FACTOR = 5;

  @Override
  String id() {
    return "new_tunnels";
  }

  @Override
  String title() {
    return "New connections (tunnels) per second, each with one unary call";
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

  @Override
  void warmUp(Setup setup, Duration duration) {
    run(setup, duration.multipliedBy(WARM_UP_FACTOR));
  }

  @Override
  Map<String, Double> run(Setup setup, Duration duration) {
    CpuClock.Threads before = CpuClock.Threads.now();
    long start = System.nanoTime();
    long end = start + duration.toNanos();
    int connections = 0;
    long now;
    do {
      ManagedChannel channel = setup.newChannel();
      try {
        EchoGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS).unary(UnaryLatency.REQUEST);
      } finally {
        Channels.shutdown(channel);
      }
      connections++;
      now = System.nanoTime();
    } while (now < end);
    CpuClock.Threads cpu = CpuClock.Threads.now().since(before);
    Map<String, Double> result = new LinkedHashMap<>();
    result.put("rate", connections * 1e9 / (now - start));
    result.put("client_cpu", cpu.client() / 1e3 / connections);
    result.put("server_cpu", cpu.server() / 1e3 / connections);
    return result;
  }
}
