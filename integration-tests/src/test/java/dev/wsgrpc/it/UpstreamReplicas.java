package dev.wsgrpc.it;

import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.MetadataUtils;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Upstream replicas for proxy mode: each answers in its trailers which replica it is ({@code replica}), the caller
 * metadata it received ({@code seen-wsgrpc-*}, {@code seen-authorization}; grpc-java replicas also
 * {@code seen-x-forwarded-for}, {@code seen-forwarded} and {@code seen-x-real-ip}; one entry per line that arrived)
 * and the time its call had left on arrival ({@code seen-timeout-ms}).
 * In-JVM grpc-java replicas serve the whole Echo service and a controllable {@code grpc.health.v1}; Python grpcio
 * replicas (a real process, {@code replica_server.py}) serve Echo/Unary and an always-SERVING health service.
 */
final class UpstreamReplicas {

  static final Metadata.Key<String> REPLICA = Metadata.Key.of("replica", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> SEEN_TIMEOUT_MS =
      Metadata.Key.of("seen-timeout-ms", Metadata.ASCII_STRING_MARSHALLER);

  /** Headers besides {@code wsgrpc-*} that replicas report, each line as it arrived. */
  private static final java.util.Set<String> REPORTED =
      java.util.Set.of("authorization", "x-forwarded-for", "forwarded", "x-real-ip");

  static Metadata.Key<String> seen(String wsgrpcHeader) {
    return Metadata.Key.of("seen-" + wsgrpcHeader, Metadata.ASCII_STRING_MARSHALLER);
  }

  /** A grpc-java replica in this JVM. */
  static final class JavaReplica implements AutoCloseable {
    final String name;
    final EchoService echo = new EchoService();
    final HealthStatusManager health = new HealthStatusManager();
    /** Calls that reached the Echo service, and calls the replica saw cancelled. */
    final Counter started = new Counter();
    final Counter cancelled = new Counter();
    final Server server;

    JavaReplica(String name) throws IOException {
      this(name, new InetSocketAddress("127.0.0.1", 0));
    }

    /** A replica listening on {@code address} (another loopback address, such as 127.0.0.2, and a given port). */
    JavaReplica(String name, InetSocketAddress address) throws IOException {
      this.name = name;
      health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.SERVING);
      server = NettyServerBuilder.forAddress(address)
          // Gateways under test may ping as often as grpc-java allows (10 s), as an operator permits for short
          // --upstream-keepalive values.
          .permitKeepAliveTime(5, TimeUnit.SECONDS)
          .addService(ServerInterceptors.intercept(echo, new Reporting(name, started, cancelled)))
          .addService(health.getHealthService())
          .build()
          .start();
    }

    String address() {
      return "127.0.0.1:" + port();
    }

    int port() {
      return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    }

    void serving(boolean serving) {
      health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES,
          serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    }

    @Override
    public void close() throws InterruptedException {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      echo.shutdown();
    }
  }

  /** A count that tests can wait on. */
  static final class Counter {
    private int value;

    synchronized void increment() {
      value++;
      notifyAll();
    }

    synchronized int get() {
      return value;
    }

    /** Waits until the count reaches {@code n}, failing after a minute. */
    synchronized void awaitAtLeast(int n, String what) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (value < n) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          throw new AssertionError(what + ": " + value + " (expected: >= " + n + ")");
        }
        wait(left);
      }
    }
  }

  /** Adds the replica's trailers to every call it ends; counts calls started and cancelled. */
  private static final class Reporting implements ServerInterceptor {
    private final String name;
    private final Counter started;
    private final Counter cancelled;

    Reporting(String name, Counter started, Counter cancelled) {
      this.name = name;
      this.started = started;
      this.cancelled = cancelled;
    }

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
        ServerCallHandler<ReqT, RespT> next) {
      Metadata report = new Metadata();
      report.put(REPLICA, name);
      Deadline deadline = Context.current().getDeadline();
      if (deadline != null) {
        report.put(SEEN_TIMEOUT_MS, Long.toString(deadline.timeRemaining(TimeUnit.MILLISECONDS)));
      }
      for (String key : headers.keys()) {
        if ((key.startsWith("wsgrpc-") || REPORTED.contains(key)) && !key.endsWith("-bin")) {
          Metadata.Key<String> k = Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER);
          for (String value : headers.getAll(k)) {
            report.put(seen(key), value);
          }
        }
      }
      started.increment();
      ServerCall.Listener<ReqT> listener = next.startCall(new SimpleForwardingServerCall<ReqT, RespT>(call) {
        @Override
        public void close(Status status, Metadata trailers) {
          trailers.merge(report);
          super.close(status, trailers);
        }
      }, headers);
      return new ForwardingServerCallListener.SimpleForwardingServerCallListener<ReqT>(listener) {
        @Override
        public void onCancel() {
          cancelled.increment();
          super.onCancel();
        }
      };
    }
  }

  /** A Python grpcio replica: a real process, killed with SIGKILL when asked. */
  static final class PythonReplica implements AutoCloseable {
    final String name;
    final Process process;
    final int port;
    final AtomicInteger callsStarted = new AtomicInteger();

    PythonReplica(String name) throws Exception {
      this.name = name;
      String interpreter = ExternalProgram.requirePythonWithGrpc();
      URL script = UpstreamReplicas.class.getResource("/python/replica_server.py");
      Path copy = Files.createTempFile("replica_server", ".py");
      copy.toFile().deleteOnExit();
      Files.copy(Paths.get(script.toURI()), copy, StandardCopyOption.REPLACE_EXISTING);
      process = new ProcessBuilder(interpreter, copy.toString(), name).redirectErrorStream(true).start();
      BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      String line = out.readLine();
      if (line == null || !line.trim().matches("\\d+")) {
        process.destroyForcibly(); // no caller gets this replica to close
        throw new AssertionError("python grpcio replica did not start: " + line);
      }
      port = Integer.parseInt(line.trim());
      Thread reader = new Thread(() -> {
        try {
          String l;
          while ((l = out.readLine()) != null) {
            if (l.startsWith("call ")) {
              synchronized (callsStarted) {
                callsStarted.incrementAndGet();
                callsStarted.notifyAll();
              }
            }
          }
        } catch (IOException e) {
          // the process ended
        }
      }, "replica-" + name + "-output");
      reader.setDaemon(true);
      reader.start();
    }

    String address() {
      return "127.0.0.1:" + port;
    }

    /** Waits until at least {@code n} calls have started on this replica. */
    void awaitCallsStarted(int n) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      synchronized (callsStarted) {
        while (callsStarted.get() < n) {
          long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
          if (left <= 0) {
            throw new AssertionError("only " + callsStarted.get() + " of " + n + " calls reached " + name);
          }
          callsStarted.wait(left);
        }
      }
    }

    void kill() throws InterruptedException {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
      kill();
    }
  }

  /** Writes a list file atomically (a reader never sees half of it). */
  static void writeList(Path file, List<String> addresses) throws IOException {
    Path tmp = Files.createTempFile(file.getParent(), "upstreams", ".tmp");
    Files.write(tmp, addresses);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** One unary call; returns the trailers it ended with (the call's status is in {@code status}). */
  static Metadata call(Channel channel, EchoRequest request, long timeoutMillis,
      AtomicReference<Status> status) {
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(ClientInterceptors.intercept(channel,
        MetadataUtils.newCaptureMetadataInterceptor(headers, trailers)))
        .withDeadlineAfter(timeoutMillis, TimeUnit.MILLISECONDS);
    try {
      stub.unary(request);
      status.set(Status.OK);
      return trailers.get();
    } catch (StatusRuntimeException e) {
      status.set(e.getStatus());
      return e.getTrailers() != null ? e.getTrailers() : new Metadata();
    }
  }

  /**
   * A successful call that tries to forge every caller header, sending {@code extra} headers too; returns the
   * replica's report of what it saw (its trailers).
   */
  static Metadata forgedCall(Channel channel, Metadata extra) {
    Metadata forged = new Metadata();
    forged.put(Metadata.Key.of("wsgrpc-client-address", Metadata.ASCII_STRING_MARSHALLER), "10.6.6.6");
    forged.put(Metadata.Key.of("wsgrpc-principal", Metadata.ASCII_STRING_MARSHALLER), "root");
    forged.put(Metadata.Key.of("wsgrpc-transport", Metadata.ASCII_STRING_MARSHALLER), "forged");
    forged.put(Metadata.Key.of("wsgrpc-forged", Metadata.ASCII_STRING_MARSHALLER), "yes");
    forged.put(Metadata.Key.of("wsgrpc-forged-bin", Metadata.BINARY_BYTE_MARSHALLER), new byte[] {1, 2});
    forged.merge(extra);
    AtomicReference<Status> status = new AtomicReference<>();
    Metadata trailers = call(ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(forged)),
        EchoService.payload(4), 30_000, status);
    if (!status.get().isOk()) {
      throw new AssertionError("the forging call failed: " + status.get(), status.get().asRuntimeException(trailers));
    }
    return trailers;
  }

  /** The replica that answered a successful call; fails with the status otherwise. */
  static String replicaOf(ManagedChannel channel) {
    AtomicReference<Status> status = new AtomicReference<>();
    Metadata trailers = call(channel, EchoService.payload(16), 30_000, status);
    if (!status.get().isOk()) {
      throw status.get().asRuntimeException(trailers);
    }
    return trailers.get(REPLICA);
  }

  private UpstreamReplicas() {}
}
