package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.Observers;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Back-pressure through the gateway jar in proxy mode, measured on the process: an upstream that stops reading, and a
 * client that stops reading, stop the other side after a bounded number of bytes, the gateway's live heap and
 * Netty's direct memory (its {@code /metrics} gauges, read after a full collection asked with {@code jcmd GC.run})
 * stay within a bound far below what was offered, and another tunnel keeps getting answers meanwhile.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class GatewayBackPressureTest {

  private static final int MESSAGE = 64 * 1024;
  /** Offered: far more than every window and buffer on the path together. */
  private static final long TOTAL = 128L * 1024 * 1024;
  /** What may sit between a stalled reader and the sender: windows, socket buffers, a message per hop. */
  private static final long BOUND = 32L * 1024 * 1024;
  private static final ByteString CHUNK = ByteString.copyFrom(new byte[MESSAGE]);

  private final Closer closer = new Closer();
  private final CompletableFuture<ServerCallStreamObserver<EchoResponse>> sink = new CompletableFuture<>();
  private final AtomicLong sunk = new AtomicLong();
  private final AtomicLong flooded = new AtomicLong();
  private TunnelServerJar jar;
  private String url;

  @BeforeEach
  void start() throws Exception {
    Server upstream = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new Upstream()).build().start();
    closer.add(upstream);
    jar = TunnelServerJar.start("--port", "0", "--upstream",
        "127.0.0.1:" + ((InetSocketAddress) upstream.getListenSockets().get(0)).getPort());
    closer.add(jar);
    url = jar.awaitUrl();
  }

  @AfterEach
  void stop() throws Exception {
    closer.close();
  }

  private ManagedChannel tunnel() {
    return closer.add(WebSocketChannels.newChannel(url));
  }

  @Test
  void anUpstreamThatStopsReadingStopsTheClientWithTheGatewaysMemoryBounded() throws Exception {
    Memory before = memory();
    AtomicLong sent = new AtomicLong();
    CompletableFuture<EchoResponse> done = new CompletableFuture<>();
    EchoGrpc.newStub(tunnel()).clientStream(Observers.<EchoRequest, EchoResponse>firstValue(done, requests ->
        requests.setOnReadyHandler(() -> {
          // Only as fast as the call is ready: what the client could send is what the path let through.
          while (requests.isReady() && sent.get() < TOTAL) {
            requests.onNext(EchoRequest.newBuilder().setPayload(CHUNK).build());
            if (sent.addAndGet(MESSAGE) == TOTAL) {
              requests.onCompleted();
            }
          }
        })));
    ServerCallStreamObserver<EchoResponse> upstreamCall = sink.get(60, TimeUnit.SECONDS);
    awaitNoProgress(sent::get);
    otherTunnelsStillWork();
    Memory during = memory();
    long stalled = sent.get();
    assertTrue(stalled < BOUND, "the client could send " + stalled + " bytes to an upstream that read none "
        + "(expected: < " + BOUND + ")");
    assertEquals(0, sunk.get());
    during.assertWithin(before, BOUND);

    upstreamCall.request(Integer.MAX_VALUE); // now read everything
    assertEquals(TOTAL, done.get(120, TimeUnit.SECONDS).getBytesReceived());
  }

  @Test
  void aClientThatStopsReadingStopsTheUpstreamWithTheGatewaysMemoryBounded() throws Exception {
    Memory before = memory();
    AtomicLong received = new AtomicLong();
    CompletableFuture<Void> done = new CompletableFuture<>();
    CompletableFuture<ClientCallStreamObserver<EchoRequest>> call = new CompletableFuture<>();
    EchoGrpc.newStub(tunnel()).serverStream(EchoRequest.getDefaultInstance(),
        new ClientResponseObserver<EchoRequest, EchoResponse>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<EchoRequest> requests) {
            requests.disableAutoRequestWithInitial(0); // reads nothing until the test asks
            call.complete(requests);
          }

          @Override
          public void onNext(EchoResponse value) {
            received.addAndGet(value.getPayload().size());
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            done.complete(null);
          }
        });
    awaitNoProgress(flooded::get);
    otherTunnelsStillWork();
    Memory during = memory();
    long stalled = flooded.get();
    assertTrue(stalled < BOUND, "the upstream could send " + stalled + " bytes to a client that read none "
        + "(expected: < " + BOUND + ")");
    assertTrue(stalled > 0, "the upstream sent nothing");
    assertEquals(0, received.get());
    during.assertWithin(before, BOUND);

    call.get().request(Integer.MAX_VALUE); // now read everything
    done.get(120, TimeUnit.SECONDS);
    assertEquals(TOTAL, received.get());
  }

  /** Twenty calls on a tunnel of their own, each answered. */
  private void otherTunnelsStillWork() {
    EchoGrpc.EchoBlockingStub other = EchoGrpc.newBlockingStub(tunnel());
    for (int i = 0; i < 20; i++) {
      EchoRequest request = EchoService.payload(i + 1);
      assertEquals(request.getPayload(),
          other.withDeadlineAfter(30, TimeUnit.SECONDS).unary(request).getPayload());
    }
  }

  /**
   * Waits until {@code bytes} has not moved for a second (the path's buffers are full), at most a minute. An
   * unbounded gateway would keep it moving until everything was sent, which the caller's assertion then catches.
   */
  private static void awaitNoProgress(LongSupplier bytes) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    long last = -1;
    long since = System.nanoTime();
    while (System.nanoTime() < deadline) {
      long now = bytes.getAsLong();
      if (now != last) {
        last = now;
        since = System.nanoTime();
      } else if (now > 0 && System.nanoTime() - since > TimeUnit.SECONDS.toNanos(1)) {
        return;
      }
      Thread.sleep(50);
    }
  }

  /** The gateway's live heap and Netty's direct memory, from its /metrics after a full collection. */
  private Memory memory() throws Exception {
    Process gc = new ProcessBuilder(Paths.get(System.getProperty("java.home"), "bin", "jcmd").toString(),
        Long.toString(jar.pid()), "GC.run").redirectErrorStream(true).start();
    String out = new String(gc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, gc.waitFor(), "jcmd GC.run: " + out);
    String metrics = jar.metrics(jar.port());
    return new Memory(gauge(metrics, "wsgrpc_jvm_heap_used_bytes"),
        gauge(metrics, "wsgrpc_netty_direct_memory_used_bytes"), metrics);
  }

  private static long gauge(String metrics, String name) {
    Matcher m = Pattern.compile("(?m)^" + name + " ([0-9.eE+-]+)$").matcher(metrics);
    assertTrue(m.find(), "no gauge " + name + " in /metrics:\n" + metrics);
    return (long) Double.parseDouble(m.group(1));
  }

  private record Memory(long heap, long direct, String metrics) {
    void assertWithin(Memory before, long bound) {
      assertTrue(heap - before.heap < bound, "the gateway's live heap grew from " + before.heap + " to " + heap
          + " bytes (expected: by < " + bound + ")");
      assertTrue(direct - before.direct < bound, "Netty's direct memory in the gateway grew from " + before.direct
          + " to " + direct + " bytes (expected: by < " + bound + ")\n" + metrics);
    }
  }

  /** Reads nothing on ClientStream until the test asks; floods ServerStream as fast as it is ready. */
  private final class Upstream extends EchoGrpc.EchoImplBase {
    @Override
    public void unary(EchoRequest request, StreamObserver<EchoResponse> responses) {
      responses.onNext(EchoResponse.newBuilder().setPayload(request.getPayload()).build());
      responses.onCompleted();
    }

    @Override
    public StreamObserver<EchoRequest> clientStream(StreamObserver<EchoResponse> responses) {
      ServerCallStreamObserver<EchoResponse> call = (ServerCallStreamObserver<EchoResponse>) responses;
      call.disableAutoRequest();
      sink.complete(call);
      return new StreamObserver<EchoRequest>() {
        @Override
        public void onNext(EchoRequest value) {
          sunk.addAndGet(value.getPayload().size());
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          responses.onNext(EchoResponse.newBuilder().setBytesReceived(sunk.get()).build());
          responses.onCompleted();
        }
      };
    }

    @Override
    public void serverStream(EchoRequest request, StreamObserver<EchoResponse> responses) {
      ServerCallStreamObserver<EchoResponse> call = (ServerCallStreamObserver<EchoResponse>) responses;
      Runnable pump = new Runnable() {
        @Override
        public synchronized void run() {
          while (call.isReady() && flooded.get() < TOTAL) {
            call.onNext(EchoResponse.newBuilder().setPayload(CHUNK).build());
            if (flooded.addAndGet(MESSAGE) == TOTAL) {
              call.onCompleted();
            }
          }
        }
      };
      call.setOnReadyHandler(pump);
      pump.run();
    }
  }
}
