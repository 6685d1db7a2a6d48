package dev.wsgrpc.benchmarks;

import com.google.protobuf.ByteString;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One stream moving messages of one size in one direction as fast as flow control allows: upload (client to server,
 * the masked direction of the tunnel) or download. Each iteration moves the same number of messages over every setup,
 * sized after warm-up so that the first baseline takes about one iteration's time; throughput is payload bytes over
 * the time from the call's start to its end.
 */
final class StreamingThroughput extends Workload {

  private static final int MIB = 1024 * 1024;
  /** Figures kept per iteration beside the metrics, for the report's CPU breakdown (CPU ms per GiB). */
  static final String CPU_KERNEL = "cpu_kernel";
  static final String CPU_HELPER = "cpu_helper";
  static final String CPU_HELPER_KERNEL = "cpu_helper_kernel";

  private final boolean upload;
  private final int size;
  private final ByteString payload;
  private final Map<String, ManagedChannel> channels = new HashMap<>();
  private int count = 16;

  StreamingThroughput(boolean upload, int size) {
    this.upload = upload;
    this.size = size;
    byte[] bytes = new byte[size];
    new Random(size).nextBytes(bytes); // incompressible, like most payloads
    this.payload = ByteString.copyFrom(bytes);
  }

  private String sizeName() {
    return size >= MIB ? size / MIB + " MiB" : size / 1024 + " KiB";
  }

  @Override
  String id() {
    return "stream_" + (upload ? "upload_" : "download_") + sizeName().replace(" ", "").toLowerCase();
  }

  @Override
  String title() {
    return "Streaming " + (upload ? "upload (client to server, masked)" : "download (server to client)") + ", "
        + sizeName() + " messages";
  }

  @Override
  boolean headline() {
    return size == MIB;
  }

  @Override
  List<Metric> metrics() {
    return List.of(new Metric("throughput", "MiB/s", true), new Metric("cpu", "CPU ms/GiB", false));
  }

  @Override
  void open(Setup setup) {
    channels.put(setup.name(), setup.newChannel());
  }

  @Override
  double warmUp(Setup setup, Duration duration) throws Exception {
    long end = System.nanoTime() + duration.toNanos();
    int n = Math.max(1, (int) (4L * MIB / size));
    double rate;
    do {
      long start = System.nanoTime();
      transfer(setup, n);
      long elapsed = System.nanoTime() - start;
      rate = (double) n * size * 1e9 / elapsed;
      // Grow the batch towards a tenth of the warm-up so that the rate measured last is a fair one.
      n = (int) Math.max(1, Math.min(Integer.MAX_VALUE / 2, rate * duration.toNanos() / 1e10 / size));
    } while (System.nanoTime() < end);
    return rate; // payload bytes per second, to size the iterations
  }

  @Override
  void calibrate(Duration iteration, double firstWarmUp) {
    count = (int) Math.max(4, Math.min(1_000_000, firstWarmUp * iteration.toNanos() / 1e9 / size));
  }

  /** The number of messages each iteration moves. */
  int count() {
    return count;
  }

  @Override
  Map<String, Double> run(Setup setup, Duration duration) throws Exception {
    CpuClock.Sample before = CpuClock.now(setup);
    long start = System.nanoTime();
    transfer(setup, count);
    long elapsed = System.nanoTime() - start;
    CpuClock.Sample cpu = CpuClock.now(setup).since(before);
    double gib = (double) count * size / (1024.0 * MIB);
    return Map.of("throughput", gib * 1024 * 1e9 / elapsed, "cpu", cpu.total() / 1e6 / gib,
        CPU_KERNEL, cpu.kernel() / 1e6 / gib, CPU_HELPER, cpu.helper() / 1e6 / gib,
        CPU_HELPER_KERNEL, cpu.helperKernel() / 1e6 / gib);
  }

  private void transfer(Setup setup, int messages) throws Exception {
    EchoGrpc.EchoStub stub = EchoGrpc.newStub(channels.get(setup.name()));
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    long[] received = new long[1];
    if (upload) {
      EchoRequest message = EchoRequest.newBuilder().setPayload(payload).build();
      stub.clientStream(new ClientResponseObserver<EchoRequest, EchoResponse>() {
        int sent;
        boolean halfClosed;

        @Override
        public void beforeStart(ClientCallStreamObserver<EchoRequest> requests) {
          requests.setOnReadyHandler(() -> {
            while (sent < messages && requests.isReady()) {
              requests.onNext(message);
              sent++;
            }
            if (sent == messages && !halfClosed) {
              halfClosed = true;
              requests.onCompleted();
            }
          });
        }

        @Override
        public void onNext(EchoResponse response) {
          received[0] = response.getBytesReceived();
        }

        @Override
        public void onError(Throwable t) {
          failure.set(t);
          done.countDown();
        }

        @Override
        public void onCompleted() {
          done.countDown();
        }
      });
    } else {
      stub.serverStream(EchoRequest.newBuilder().setPayload(payload).setCount(messages).build(),
          new StreamObserver<EchoResponse>() {
            @Override
            public void onNext(EchoResponse response) {
              received[0] += response.getPayload().size();
            }

            @Override
            public void onError(Throwable t) {
              failure.set(t);
              done.countDown();
            }

            @Override
            public void onCompleted() {
              done.countDown();
            }
          });
    }
    if (!done.await(10, TimeUnit.MINUTES)) {
      throw new IllegalStateException(id() + " over " + setup.name() + " did not finish within 10 minutes");
    }
    if (failure.get() != null) {
      throw new IllegalStateException(id() + " over " + setup.name() + " failed", failure.get());
    }
    if (received[0] != (long) messages * size) {
      throw new IllegalStateException(id() + " over " + setup.name() + ": expected " + (long) messages * size
          + " bytes but " + received[0] + " arrived");
    }
  }

  @Override
  void close(Setup setup) {
    Channels.shutdown(channels.remove(setup.name()));
  }
}
