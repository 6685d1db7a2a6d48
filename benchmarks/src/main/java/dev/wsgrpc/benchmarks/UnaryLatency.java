package dev.wsgrpc.benchmarks;

import com.google.protobuf.ByteString;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/** Unary round trips, one call outstanding, 100-byte request and response: latency percentiles. */
final class UnaryLatency extends Workload {

  static final EchoRequest REQUEST = EchoRequest.newBuilder().setPayload(ByteString.copyFrom(new byte[100])).build();

  private final Map<String, ManagedChannel> channels = new HashMap<>();

  @Override
  String id() {
    return "unary_latency";
  }

  @Override
  String title() {
    return "Unary latency, one call outstanding (100 B each way)";
  }

  @Override
  boolean headline() {
    return true;
  }

  @Override
  List<Metric> metrics() {
    return List.of(new Metric("p50", "µs", false), new Metric("p99", "µs", false),
        new Metric("p99.9", "µs", false));
  }

  @Override
  void open(Setup setup) {
    channels.put(setup.name(), setup.newChannel());
  }

  @Override
  Map<String, Double> run(Setup setup, Duration duration) {
    EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(channels.get(setup.name()));
    Histogram histogram = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
    long end = System.nanoTime() + duration.toNanos();
    long now;
    do {
      long start = System.nanoTime();
      stub.withDeadlineAfter(10, TimeUnit.SECONDS).unary(REQUEST);
      now = System.nanoTime();
      histogram.recordValue(now - start);
    } while (now < end);
    Map<String, Double> result = new LinkedHashMap<>();
    result.put("p50", histogram.getValueAtPercentile(50) / 1000.0);
    result.put("p99", histogram.getValueAtPercentile(99) / 1000.0);
    result.put("p99.9", histogram.getValueAtPercentile(99.9) / 1000.0);
    return result;
  }

  @Override
  void close(Setup setup) {
    Channels.shutdown(channels.remove(setup.name()));
  }
}
