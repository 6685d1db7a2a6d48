package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/** Unary calls per second with {@value #CONCURRENCY} calls outstanding, spread over one or more channels. */
final class UnaryQps extends Workload {

  static final int CONCURRENCY = 64;

  private final int channelCount;
  private final Map<String, List<ManagedChannel>> channels = new HashMap<>();

  UnaryQps(int channelCount) {
    this.channelCount = channelCount;
  }

  @Override
  String id() {
    return channelCount == 1 ? "unary_qps" : "unary_qps_" + channelCount + "_channels";
  }

  @Override
  String title() {
    return "Unary QPS, " + CONCURRENCY + " concurrent calls on " + channelCount
        + (channelCount == 1 ? " channel" : " channels (tunnels)");
  }

  @Override
  boolean headline() {
    return channelCount == 1;
  }

  /**
   * How many times the mode's warm-up a setup gets over several channels (21 s in a full run) before the JIT compiler
   * is watched ({@link Workload#runUntilJitSettles}). The shared 3 s left this workload's code (calls spread over
   * eight connections and both event loops of each side) compiling through the iterations, in the measured JVM and in
   * the others beside it: in runs 24-26 the rates climbed from the first iteration to the last in every setup (run
   * 26: h2c from 26.2k to 102k calls a second, ws from 18.6k to 107k), and each ratio compared two JVMs at different
   * stages of their compilation (0.79-0.91 of h2c). A subset run with 20 s of warm-up had the iterations flat from the
   * first (h2c 89.9k-105k, ws 97.1k-111k; ws 1.08 of h2c).
   */
  static final int SEVERAL_CHANNELS_WARM_UP_FACTOR = 7;

  @Override
  double warmUp(Setup setup, Duration duration) throws Exception {
    if (channelCount == 1) {
      return super.warmUp(setup, duration);
    }
    run(setup, duration.multipliedBy(SEVERAL_CHANNELS_WARM_UP_FACTOR));
    runUntilJitSettles(setup, duration);
    return Double.NaN;
  }

  @Override
  List<Metric> metrics() {
    return List.of(new Metric("qps", "calls/s", true), new Metric("cpu", "CPU µs/call", false));
  }

  @Override
  void open(Setup setup) {
    List<ManagedChannel> list = new ArrayList<>();
    for (int i = 0; i < channelCount; i++) {
      list.add(setup.newChannel());
    }
    channels.put(setup.name(), list);
  }

  @Override
  Map<String, Double> run(Setup setup, Duration duration) throws Exception {
    List<ManagedChannel> list = channels.get(setup.name());
    AtomicLong completed = new AtomicLong();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch drained = new CountDownLatch(CONCURRENCY);
    Loop[] loops = new Loop[CONCURRENCY];
    for (int i = 0; i < CONCURRENCY; i++) {
      loops[i] = new Loop(EchoGrpc.newStub(list.get(i % list.size())), completed, failure, drained);
    }
    CpuClock.Sample before = CpuClock.now(setup);
    long start = System.nanoTime();
    for (Loop loop : loops) {
      loop.next();
    }
    Thread.sleep(duration.toMillis());
    // At least one completion, however short the window and busy the machine.
    for (long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        completed.get() == 0 && failure.get() == null && System.nanoTime() < deadline; ) {
      Thread.sleep(1);
    }
    long done = completed.get();
    long elapsed = System.nanoTime() - start;
    long cpu = CpuClock.now(setup).since(before).total();
    for (Loop loop : loops) {
      loop.stop = true;
    }
    if (!drained.await(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("calls still outstanding 30 s after the end over " + setup.name());
    }
    if (failure.get() != null) {
      throw new IllegalStateException("a call failed over " + setup.name(), failure.get());
    }
    return Map.of("qps", done * 1e9 / elapsed, "cpu", cpu / 1e3 / Math.max(1, done));
  }

  /** One of the concurrent callers: starts the next call when one completes. */
  private static final class Loop implements StreamObserver<EchoResponse> {
    private final EchoGrpc.EchoStub stub;
    private final AtomicLong completed;
    private final AtomicReference<Throwable> failure;
    private final CountDownLatch drained;
    volatile boolean stop;

    Loop(EchoGrpc.EchoStub stub, AtomicLong completed, AtomicReference<Throwable> failure, CountDownLatch drained) {
      this.stub = stub;
      this.completed = completed;
      this.failure = failure;
      this.drained = drained;
    }

    void next() {
      stub.withDeadlineAfter(30, TimeUnit.SECONDS).unary(UnaryLatency.REQUEST, this);
    }

    @Override
    public void onNext(EchoResponse value) {}

    @Override
    public void onError(Throwable t) {
      failure.compareAndSet(null, t);
      drained.countDown();
    }

    @Override
    public void onCompleted() {
      completed.incrementAndGet();
      if (stop) {
        drained.countDown();
      } else {
        next();
      }
    }
  }

  @Override
  void close(Setup setup) {
    for (ManagedChannel channel : channels.remove(setup.name())) {
      Channels.shutdown(channel);
    }
  }
}
