package dev.wsgrpc.cli;

import com.google.protobuf.ByteString;
import dev.wsgrpc.client.InternalWebSocketClient;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.Preconditions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.testing.integration.EmptyProtos.Empty;
import io.grpc.testing.integration.Messages.Payload;
import io.grpc.testing.integration.Messages.ResponseParameters;
import io.grpc.testing.integration.Messages.StreamingInputCallRequest;
import io.grpc.testing.integration.Messages.StreamingInputCallResponse;
import io.grpc.testing.integration.Messages.StreamingOutputCallRequest;
import io.grpc.testing.integration.Messages.StreamingOutputCallResponse;
import io.grpc.testing.integration.TestServiceGrpc;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.Future;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code probe URL}: walks the path to a tunnel server step by step — DNS, TCP, the CONNECT proxy if any, TLS,
 * the upgrade, the first RPC — printing each with its duration and what it found, then measures round-trip
 * latency and throughput each way. On the first failure it prints one line naming the step and the hop that
 * failed and exits 1.
 */
@Command(name = "probe", mixinStandardHelpOptions = true,
    description = "Check the path to a tunnel server step by step, then measure latency and throughput.")
final class ProbeCommand implements Callable<Integer> {

  private static final String HEALTH = "grpc.health.v1.Health/Check";
  private static final String EMPTY_CALL = "grpc.testing.TestService/EmptyCall";

  @Parameters(index = "0", paramLabel = "URL", description = "The tunnel server's ws:// or wss:// URL.")
  String url;

  @Option(names = "--calls", defaultValue = "100", paramLabel = "N",
      description = "Round trips for the latency measurement: at least 1. Default: ${DEFAULT-VALUE}.")
  int calls;

  @Option(names = "--duration", defaultValue = "2s", paramLabel = "DURATION",
      converter = ClientOptions.DurationConverter.class,
      description = "How long to measure throughput each way: 0 skips it, else 1 ms to 2147483647 ms (about 24.8 "
          + "days). Default: ${DEFAULT-VALUE}.")
  Duration duration;

  /** The largest {@code --message-size}: each message is built in memory, and received as large. */
  static final int MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

  @Option(names = "--message-size", defaultValue = "32768", paramLabel = "BYTES",
      description = "Message size for the throughput measurement: 1 to " + MAX_MESSAGE_SIZE + " (64 MiB; a server "
          + "takes 4 MiB unless told otherwise). Default: ${DEFAULT-VALUE}.")
  int messageSize;

  @Option(names = "--timeout", defaultValue = "20s", paramLabel = "DURATION",
      converter = ClientOptions.DurationConverter.class,
      description = "Deadline of each RPC: 1 ms to 2147483647 ms (about 24.8 days). Default: ${DEFAULT-VALUE}.")
  Duration timeout;

  @Mixin
  ClientOptions client;

  @Spec
  CommandSpec spec;

  private PrintWriter out;
  private PrintWriter err;

  @Override
  public Integer call() throws Exception {
    out = spec.commandLine().getOut();
    err = spec.commandLine().getErr();
    WebSocketClientOptions options;
    try {
      Preconditions.checkArgument(calls > 0, "--calls", calls, "> 0");
      Preconditions.checkArgument(messageSize >= 1 && messageSize <= MAX_MESSAGE_SIZE, "--message-size",
          messageSize, "1 to " + MAX_MESSAGE_SIZE);
      // Both are set on timers: 1 ms to about 24.8 days, or 0 for --duration (which skips the measurement).
      ClientOptions.set("--duration", () -> Preconditions.checkDurationOrZero(duration, "duration"));
      ClientOptions.set("--timeout", () -> Preconditions.checkDuration(timeout, "timeout"));
      options = client.toOptions(url);
    } catch (IllegalArgumentException e) {
      err.println("probe: " + e.getMessage());
      err.flush();
      return WsgrpcCli.USAGE;
    }
    out.println("probe " + InternalWebSocketClient.safeUrl(options));
    out.flush();
    if (!walkThePath(options)) {
      return WsgrpcCli.FAILED;
    }
    ManagedChannel channel = WebSocketChannels.newChannelBuilder(options)
        .maxInboundMessageSize(Math.max(4 * 1024 * 1024, messageSize + 1024))
        .build();
    try {
      return measure(channel) ? WsgrpcCli.OK : WsgrpcCli.FAILED;
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** Prints a step's line; its detail may quote the server, printed as printable ASCII only, at most 500 characters. */
  private void step(String label, long nanos, String detail) {
    synchronized (out) {
      out.printf(Locale.ROOT, "%-9s %8.1f ms  %s%n", label, nanos / 1e6, Http11Tokens.printable(detail, 500));
      out.flush();
    }
  }

  /**
   * Prints why the probe failed. The text may quote the server (a status description, a Close reason, GOAWAY debug
   * data: up to 8 KiB of any characters): printed as printable ASCII only, at most 500 characters, as {@code forward}
   * prints a tunnel's failure, so that a server cannot write escape sequences or lines of its own into the output.
   */
  private void failed(String oneLine) {
    out.flush();
    err.println("probe failed at " + Http11Tokens.printable(oneLine, 500));
    err.flush();
  }

  /** DNS, TCP, [proxy], [TLS], upgrade on a raw tunnel of its own; true when all went well. */
  private boolean walkThePath(WebSocketClientOptions options) throws InterruptedException {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    ExecutorService dns = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "probe-dns");
      t.setDaemon(true);
      return t;
    });
    try {
      InternalWebSocketClient.Dialer dialer;
      try {
        dialer = InternalWebSocketClient.newDialer(options, group, dns);
      } catch (java.io.IOException e) {
        failed("proxy: " + e.getMessage());
        return false;
      }
      AtomicReference<InternalWebSocketClient.Step> lastDone = new AtomicReference<>();
      Future<Channel> tunnel = dialer.dial(new ChannelInboundHandlerAdapter() {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
          // Once upgraded, this tunnel is only closed: a failure after the upgrade (a Close the server sent at once,
          // as a gateway whose upstream is down does) shows again, with its reason, in the RPC step.
          ctx.close();
        }
      }, (s, nanos, detail) -> {
        lastDone.set(s);
        step(s.label(), nanos, detail);
      });
      // TCP (all addresses together), the proxy, then TLS and the upgrade together each have their own limit; the
      // name lookup is the JDK's and has none, so this backstop ends it.
      long backstop = options.settings().handshakeTimeout().toMillis() * 3 + 15_000;
      tunnel.await(backstop);
      if (!tunnel.isSuccess()) {
        Throwable cause = tunnel.cause();
        if (cause instanceof InternalWebSocketClient.StepFailure) {
          failed(((InternalWebSocketClient.StepFailure) cause).oneLine());
        } else if (cause != null) {
          failed(pending(lastDone.get(), dialer, options).label() + ": " + cause);
        } else {
          failed(pending(lastDone.get(), dialer, options).label() + ": no answer within " + backstop + " ms");
          tunnel.cancel(false);
        }
        return false;
      }
      tunnel.getNow().close().await(5, TimeUnit.SECONDS);
      return true;
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
      dns.shutdownNow();
    }
  }

  /** The step that follows {@code done} (null: none done yet) on the way to a tunnel through {@code dialer}. */
  static InternalWebSocketClient.Step pending(InternalWebSocketClient.Step done,
      InternalWebSocketClient.Dialer dialer, WebSocketClientOptions options) {
    if (done == null) {
      return InternalWebSocketClient.Step.DNS;
    }
    switch (done) {
      case DNS:
        return InternalWebSocketClient.Step.TCP;
      case TCP:
        if (dialer.proxy() != null) {
          return InternalWebSocketClient.Step.PROXY;
        }
        // fall through: no proxy
      case PROXY:
        return options.isSecure() ? InternalWebSocketClient.Step.TLS : InternalWebSocketClient.Step.UPGRADE;
      default:
        return InternalWebSocketClient.Step.UPGRADE;
    }
  }

  /** The first RPC, then latency and throughput; true when all went well. */
  private boolean measure(ManagedChannel channel) throws InterruptedException {
    long start = System.nanoTime();
    String health;
    try {
      HealthCheckResponse r = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(timeout.toMillis(),
          TimeUnit.MILLISECONDS).check(HealthCheckRequest.getDefaultInstance());
      if (r.getStatus() != HealthCheckResponse.ServingStatus.SERVING) {
        // The path works, but a script that checks with probe must not take a server that says so for a good one.
        failed("rpc: " + HEALTH + ": " + r.getStatus() + " (the server answers through the tunnel but says it is "
            + "not serving)");
        return false;
      }
      health = HEALTH + ": " + r.getStatus();
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.UNIMPLEMENTED) {
        failed("rpc: " + HEALTH + " failed: " + describe(e.getStatus()));
        return false;
      }
      health = null;
    }
    boolean testService;
    try {
      TestServiceGrpc.newBlockingStub(channel).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
          .emptyCall(Empty.getDefaultInstance());
      testService = true;
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.UNIMPLEMENTED) {
        failed("rpc: " + EMPTY_CALL + " failed: " + describe(e.getStatus()));
        return false;
      }
      testService = false;
    }
    if (health == null && !testService) {
      step("rpc", System.nanoTime() - start, "the server answers, but serves neither grpc.health.v1.Health nor "
          + "grpc.testing.TestService: nothing to measure");
      out.println("ok");
      out.flush();
      return true;
    }
    step("rpc", System.nanoTime() - start, "new channel, first calls: "
        + (health != null ? health : HEALTH + " not served") + "; grpc.testing.TestService "
        + (testService ? "served" : "not served (latency with health checks, no throughput)"));

    if (!latency(channel, testService)) {
      return false;
    }
    if (testService && !duration.isZero()) {
      if (!upload(channel) || !download(channel)) {
        return false;
      }
    }
    out.println("ok");
    out.flush();
    return true;
  }

  private boolean latency(ManagedChannel channel, boolean testService) {
    Histogram histogram = new Histogram(TimeUnit.MINUTES.toNanos(1), 3);
    long started = System.nanoTime();
    long lastProgress = started;
    String method = testService ? EMPTY_CALL : HEALTH;
    for (int i = 0; i < calls; i++) {
      long t0 = System.nanoTime();
      try {
        if (testService) {
          TestServiceGrpc.newBlockingStub(channel).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
              .emptyCall(Empty.getDefaultInstance());
        } else {
          HealthGrpc.newBlockingStub(channel).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
              .check(HealthCheckRequest.getDefaultInstance());
        }
      } catch (StatusRuntimeException e) {
        failed("latency: call " + (i + 1) + " of " + method + " failed: " + describe(e.getStatus()));
        return false;
      }
      long t1 = System.nanoTime();
      histogram.recordValue(Math.min(t1 - t0, histogram.getHighestTrackableValue()));
      if (t1 - lastProgress > TimeUnit.SECONDS.toNanos(1)) {
        progress(String.format(Locale.ROOT, "latency: %d of %d calls", i + 1, calls));
        lastProgress = t1;
      }
    }
    step("latency", System.nanoTime() - started, String.format(Locale.ROOT,
        "%d calls of %s: p50 %.2f ms, p99 %.2f ms, max %.2f ms", calls, method,
        histogram.getValueAtPercentile(50) / 1e6, histogram.getValueAtPercentile(99) / 1e6,
        histogram.getMaxValue() / 1e6));
    return true;
  }

  private void progress(String line) {
    err.println("  ... " + line);
    err.flush();
  }

  /** Client streaming for {@link #duration}: as many messages as flow control lets through. */
  private boolean upload(ManagedChannel channel) throws InterruptedException {
    Payload payload = Payload.newBuilder().setBody(ByteString.copyFrom(new byte[messageSize])).build();
    StreamingInputCallRequest request = StreamingInputCallRequest.newBuilder().setPayload(payload).build();
    CompletableFuture<StreamingInputCallResponse> done = new CompletableFuture<>();
    AtomicLong sent = new AtomicLong();
    long started = System.nanoTime();
    long end = started + duration.toNanos();
    TestServiceGrpc.newStub(channel).withDeadlineAfter(duration.toMillis() + timeout.toMillis(),
        TimeUnit.MILLISECONDS).streamingInputCall(
        new ClientResponseObserver<StreamingInputCallRequest, StreamingInputCallResponse>() {
          private boolean completed;

          @Override
          public void beforeStart(ClientCallStreamObserver<StreamingInputCallRequest> requests) {
            requests.setOnReadyHandler(() -> {
              while (!completed && requests.isReady()) {
                if (System.nanoTime() - end >= 0) {
                  completed = true;
                  requests.onCompleted();
                  return;
                }
                requests.onNext(request);
                sent.addAndGet(messageSize);
              }
            });
          }

          @Override
          public void onNext(StreamingInputCallResponse value) {
            done.complete(value);
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    StreamingInputCallResponse response;
    try {
      response = awaitWithProgress(done, started, sent, "upload");
    } catch (ExecutionException e) {
      failed("upload: grpc.testing.TestService/StreamingInputCall failed: "
          + describe(Status.fromThrowable(e.getCause())));
      return false;
    }
    long elapsed = System.nanoTime() - started;
    // The server's count is an int32 (it wraps past 2 GiB): it must agree with what was sent, modulo 2^32.
    long uploaded = sent.get();
    if ((int) uploaded != response.getAggregatedPayloadSize()) {
      failed("upload: grpc.testing.TestService/StreamingInputCall: the server counted "
          + Integer.toUnsignedString(response.getAggregatedPayloadSize()) + " bytes (modulo 2^32) but " + uploaded
          + " were sent");
      return false;
    }
    step("upload", elapsed, String.format(Locale.ROOT, "%.1f MiB/s (%.1f MiB in %d-byte messages)",
        uploaded / 1048576.0 / (elapsed / 1e9), uploaded / 1048576.0, messageSize));
    return true;
  }

  /** Server streaming, cancelled after {@link #duration}. */
  private boolean download(ManagedChannel channel) throws InterruptedException {
    int count = 100_000;
    StreamingOutputCallRequest.Builder request = StreamingOutputCallRequest.newBuilder();
    ResponseParameters size = ResponseParameters.newBuilder().setSize(messageSize).build();
    for (int i = 0; i < count; i++) {
      request.addResponseParameters(size);
    }
    CompletableFuture<Void> done = new CompletableFuture<>();
    AtomicLong received = new AtomicLong();
    long started = System.nanoTime();
    long end = started + duration.toNanos();
    TestServiceGrpc.newStub(channel).withDeadlineAfter(duration.toMillis() + timeout.toMillis(),
        TimeUnit.MILLISECONDS).streamingOutputCall(request.build(),
        new ClientResponseObserver<StreamingOutputCallRequest, StreamingOutputCallResponse>() {
          private ClientCallStreamObserver<StreamingOutputCallRequest> call;

          @Override
          public void beforeStart(ClientCallStreamObserver<StreamingOutputCallRequest> requestStream) {
            call = requestStream;
          }

          @Override
          public void onNext(StreamingOutputCallResponse value) {
            received.addAndGet(value.getPayload().getBody().size());
            if (System.nanoTime() - end >= 0 && !done.isDone()) {
              done.complete(null);
              call.cancel("probe: enough measured", null);
            }
          }

          @Override
          public void onError(Throwable t) {
            if (!done.isDone()) {
              done.completeExceptionally(t);
            }
          }

          @Override
          public void onCompleted() {
            done.complete(null);
          }
        });
    try {
      awaitWithProgress(done, started, received, "download");
    } catch (ExecutionException e) {
      failed("download: grpc.testing.TestService/StreamingOutputCall failed: "
          + describe(Status.fromThrowable(e.getCause())));
      return false;
    }
    long elapsed = System.nanoTime() - started;
    step("download", elapsed, String.format(Locale.ROOT, "%.1f MiB/s (%.1f MiB in %d-byte messages)",
        received.get() / 1048576.0 / (elapsed / 1e9), received.get() / 1048576.0, messageSize));
    return true;
  }

  /** Waits for {@code done}, printing how far the measurement got once a second. */
  private <T> T awaitWithProgress(CompletableFuture<T> done, long started, AtomicLong bytes, String what)
      throws InterruptedException, ExecutionException {
    long limit = duration.toMillis() + timeout.toMillis();
    while (true) {
      try {
        return done.get(1, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        double seconds = (System.nanoTime() - started) / 1e9;
        progress(String.format(Locale.ROOT, "%s: %.0f s, %.1f MiB, %.1f MiB/s", what, seconds,
            bytes.get() / 1048576.0, bytes.get() / 1048576.0 / seconds));
        if (seconds * 1000 > limit) {
          throw new ExecutionException(Status.DEADLINE_EXCEEDED.withDescription(what + " did not finish within "
              + limit + " ms").asRuntimeException());
        }
      }
    }
  }

  private static String describe(Status status) {
    return status.getCode() + (status.getDescription() != null ? ": " + status.getDescription() : "");
  }
}
