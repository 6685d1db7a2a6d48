package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Round trips to the first call on a path with latency: each setup's client dials its server through a {@link
 * LatencyRelay} that delays every chunk by {@link #ONE_WAY} in each direction. An iteration builds a new channel and
 * times, from {@code build()}, the first unary call (100 B each way) and the 1,000th: once the first has completed,
 * the other 999 are started at once on the same channel and the clock stops when the last completes. Figures in
 * round trips (time over twice {@link #ONE_WAY}) and in milliseconds, and the round trips the client waited for as
 * counted by the relay ({@link LatencyRelay.Connection#turns}), which does not depend on timing. Over h2c, ws, h2 and
 * wss only: a TLS handshake and the HTTP upgrade each should cost one round trip, and nothing else should.
 */
final class FirstCall extends Workload {

  /** The relay's delay in each direction: 50 ms round trips, a phone near its CDN edge. */
  static final Duration ONE_WAY = Duration.ofMillis(25);
  static final int CALLS = 1000;

  private static final Set<String> SETUPS = Set.of("h2c", "ws", "h2", "wss");
  private final Map<String, LatencyRelay> relays = new HashMap<>();

  @Override
  String id() {
    return "first_call";
  }

  @Override
  String title() {
    return "First call on a path with " + 2 * ONE_WAY.toMillis() + " ms round trips (" + ONE_WAY.toMillis()
        + " ms each way, user-space relay), from build(); the 1,000th call with 999 started at once after the first";
  }

  @Override
  List<Metric> metrics() {
    return List.of(new Metric("first_call_rtt", "round trips", false), new Metric("first_call", "ms", false),
        new Metric("counted", "round trips", false), new Metric("call_1000_rtt", "round trips", false));
  }

  @Override
  boolean appliesTo(Setup setup) {
    return SETUPS.contains(setup.name()) && setup instanceof LocalServerSetup;
  }

  @Override
  void open(Setup setup) throws Exception {
    relays.put(setup.name(), LatencyRelay.start(new InetSocketAddress("127.0.0.1",
        ((LocalServerSetup) setup).port()), ONE_WAY));
  }

  @Override
  double warmUp(Setup setup, Duration duration) throws Exception {
    // At least one connection: the first TLS handshake of a JVM is slow, and so is code not yet compiled.
    long end = System.nanoTime() + duration.toNanos();
    do {
      run(setup, duration);
    } while (System.nanoTime() < end);
    return Double.NaN;
  }

  @Override
  Map<String, Double> run(Setup setup, Duration duration) throws Exception {
    LatencyRelay relay = relays.get(setup.name());
    double rtt = 2 * ONE_WAY.toNanos();
    long start = System.nanoTime();
    ManagedChannel channel = ((LocalServerSetup) setup).newChannelTo(relay.port());
    try {
      EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).unary(UnaryLatency.REQUEST);
      long first = System.nanoTime() - start;
      int turns = relay.last().turns();
      EchoGrpc.EchoStub stub = EchoGrpc.newStub(channel);
      CountDownLatch done = new CountDownLatch(CALLS - 1);
      AtomicReference<Throwable> failure = new AtomicReference<>();
      for (int i = 1; i < CALLS; i++) {
        stub.withDeadlineAfter(30, TimeUnit.SECONDS).unary(UnaryLatency.REQUEST, new StreamObserver<EchoResponse>() {
          @Override
          public void onNext(EchoResponse value) {}

          @Override
          public void onError(Throwable t) {
            failure.compareAndSet(null, t);
            done.countDown();
          }

          @Override
          public void onCompleted() {
            done.countDown();
          }
        });
      }
      if (!done.await(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException(CALLS + " calls over " + setup.name() + " did not complete within 60 s");
      }
      long last = System.nanoTime() - start;
      if (failure.get() != null) {
        throw new IllegalStateException("a call over " + setup.name() + " failed", failure.get());
      }
      Map<String, Double> result = new LinkedHashMap<>();
      result.put("first_call_rtt", first / rtt);
      result.put("first_call", first / 1e6);
      result.put("counted", (double) turns);
      result.put("call_1000_rtt", last / rtt);
      return result;
    } finally {
      Channels.shutdown(channel);
    }
  }

  @Override
  void close(Setup setup) {
    LatencyRelay relay = relays.remove(setup.name());
    if (relay != null) {
      relay.close();
    }
  }
}
