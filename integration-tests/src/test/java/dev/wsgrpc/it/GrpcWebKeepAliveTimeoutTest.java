package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.TunnelInfo;
import dev.wsgrpc.server.TunnelListener;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A kept-alive gRPC-Web connection that carries no request for {@link BrowserOptions#keepAliveTimeout()} is closed,
 * giving back its place under the tunnel limits: HTTP/1.1 has no ping, so without it an idle connection held its
 * place until the client closed it. A request in flight, a response still streaming, tunnels and native gRPC
 * connections outlive the timeout. Real sockets on loopback, a real gRPC server, a 1 s timeout; the tests wait for
 * the server's close, never for the time to pass.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GrpcWebKeepAliveTimeoutTest {

  private static final Duration KEEP_ALIVE = Duration.ofSeconds(1);
  private static final String UNARY = "/wsgrpc.testing.Echo/Unary";
  private static final String SERVER_STREAM = "/wsgrpc.testing.Echo/ServerStream";

  private final HeldEcho echo = new HeldEcho();
  /** Every connection the server opened and closed, gRPC-Web ones included, in order. */
  private final BlockingQueue<String> events = new LinkedBlockingQueue<>();
  private final ExecutorService clients = Executors.newCachedThreadPool();
  private Server server;
  private int port;

  /** Answers unary calls and server streams whose payload is {@code held} only when the test says so. */
  private static final class HeldEcho extends EchoGrpc.EchoImplBase {
    final BlockingQueue<StreamObserver<EchoResponse>> heldUnary = new LinkedBlockingQueue<>();
    /** Server streams that sent their first message and wait for the test. */
    final BlockingQueue<StreamObserver<EchoResponse>> heldStreams = new LinkedBlockingQueue<>();

    @Override
    public void unary(EchoRequest request, StreamObserver<EchoResponse> responses) {
      if (request.getPayload().toStringUtf8().equals("held")) {
        heldUnary.add(responses);
        return;
      }
      responses.onNext(response(request.getPayload().toStringUtf8()));
      responses.onCompleted();
    }

    @Override
    public void serverStream(EchoRequest request, StreamObserver<EchoResponse> responses) {
      responses.onNext(response("first"));
      heldStreams.add(responses);
    }
  }

  private static EchoResponse response(String payload) {
    return EchoResponse.newBuilder().setPayload(ByteString.copyFromUtf8(payload)).build();
  }

  private void start(AccessPolicy access) throws Exception {
    TunnelListener listener = new TunnelListener() {
      @Override
      public void tunnelOpened(TunnelInfo tunnel) {
        events.add("opened " + tunnel.subprotocol());
      }

      @Override
      public void tunnelClosed(TunnelInfo tunnel) {
        events.add("closed " + tunnel.subprotocol());
      }

      @Override
      public void nativeConnectionOpened(TunnelInfo connection) {
        events.add("opened native");
      }

      @Override
      public void nativeConnectionClosed(TunnelInfo connection) {
        events.add("closed native");
      }
    };
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder()
                .browser(BrowserOptions.forOrigins("*").toBuilder().keepAliveTimeout(KEEP_ALIVE).build())
                .nativeGrpc(true)
                .access(access)
                .listener(listener)
                .build())
        .addService(echo)
        .build()
        .start();
    port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  @AfterEach
  void stop() throws Exception {
    clients.shutdownNow();
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private static RawHttp.Answer call(RawHttp.KeptAlive connection, String path, String payload) throws IOException {
    byte[] body = BrowserCallIdentityTest.unaryBody(payload);
    return connection.send("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/grpc-web+proto"
        + "\r\nX-Grpc-Web: 1\r\nContent-Length: " + body.length + "\r\n\r\n", body);
  }

  private CompletableFuture<RawHttp.Answer> callLater(RawHttp.KeptAlive connection, String path, String payload) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return call(connection, path, payload);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }, clients);
  }

  private static void assertAnswered(RawHttp.Answer answer, String... payloads) {
    assertEquals(200, answer.status, answer.headers.toString());
    for (String payload : payloads) {
      assertTrue(answer.bodyText().contains(payload), answer.bodyText());
    }
    assertTrue(answer.bodyText().contains("grpc-status: 0\r\n"), answer.bodyText());
  }

  /** Waits for the server to report {@code event}, skipping the others. */
  private void await(String event) throws InterruptedException {
    for (String next = events.poll(30, TimeUnit.SECONDS); !event.equals(next);
        next = events.poll(30, TimeUnit.SECONDS)) {
      assertTrue(next != null, "expected '" + event + "' within 30 s");
    }
  }

  @Test
  void anIdleConnectionIsClosedOnceTheKeepAliveTimeoutPassedAndGivesBackItsPlace() throws Exception {
    start(AccessPolicy.newBuilder().maxTunnels(1).build());
    try (RawHttp.KeptAlive idle = new RawHttp.KeptAlive(port)) {
      long started = System.nanoTime();
      RawHttp.Answer answer = call(idle, UNARY, "once");
      assertAnswered(answer, "once");
      assertEquals("timeout=1", answer.headers.get("keep-alive"), "the answer says how long the connection stays");
      assertTrue(idle.closedByServer(), "closed by the server, cleanly (a reset would fail the read)");
      assertTrue(System.nanoTime() - started >= KEEP_ALIVE.toNanos(), "not before the timeout");
    }
    await("closed grpc-web");
    // The server's only place is free again.
    try (RawHttp.KeptAlive next = new RawHttp.KeptAlive(port)) {
      assertAnswered(call(next, UNARY, "next"), "next");
    }
  }

  @Test
  void requestsInFlightStreamingResponsesTunnelsAndNativeConnectionsOutliveTheKeepAliveTimeout() throws Exception {
    start(AccessPolicy.OPEN);
    ManagedChannel tunnel = WebSocketChannels.newChannelBuilder(
        WebSocketClientOptions.newBuilder("ws://127.0.0.1:" + port + "/grpc").build()).build();
    ManagedChannel nativeGrpc = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    try (RawHttp.KeptAlive unary = new RawHttp.KeptAlive(port); RawHttp.KeptAlive stream = new RawHttp.KeptAlive(port);
        RawHttp.KeptAlive idle = new RawHttp.KeptAlive(port)) {
      for (ManagedChannel channel : List.of(tunnel, nativeGrpc)) {
        EchoGrpc.newBlockingStub(channel).unary(EchoRequest.newBuilder().setPayload(ByteString.copyFromUtf8("x"))
            .build());
      }
      CompletableFuture<RawHttp.Answer> unaryAnswer = callLater(unary, UNARY, "held");
      CompletableFuture<RawHttp.Answer> streamAnswer = callLater(stream, SERVER_STREAM, "held");
      StreamObserver<EchoResponse> heldUnary = echo.heldUnary.poll(30, TimeUnit.SECONDS);
      StreamObserver<EchoResponse> heldStream = echo.heldStreams.poll(30, TimeUnit.SECONDS);
      assertTrue(heldUnary != null && heldStream != null, "both calls reached the service");
      // A connection answered after both calls began, then idle: once it is closed, the keep-alive timeout has passed
      // for the two calls in flight, and for the tunnel and the native connection, idle since their calls.
      assertAnswered(call(idle, UNARY, "quick"), "quick");
      assertTrue(idle.closedByServer());
      heldUnary.onNext(response("unary answer"));
      heldUnary.onCompleted();
      heldStream.onNext(response("second"));
      heldStream.onCompleted();
      assertAnswered(unaryAnswer.get(30, TimeUnit.SECONDS), "unary answer");
      // Neither call was cut. (A next request on their connections is not sent: those connections close a second
      // after these answers, and a busy machine could take that long to send it.)
      assertAnswered(streamAnswer.get(30, TimeUnit.SECONDS), "first", "second");
      for (ManagedChannel channel : List.of(tunnel, nativeGrpc)) {
        EchoGrpc.newBlockingStub(channel).unary(EchoRequest.newBuilder().setPayload(ByteString.copyFromUtf8("y"))
            .build());
      }
      // The tunnel and the native connection carried both calls: opened once, never closed.
      List<String> seen = List.copyOf(events);
      assertEquals(1, seen.stream().filter("opened wsgrpc.v1"::equals).count(), seen.toString());
      assertEquals(1, seen.stream().filter("opened native"::equals).count(), seen.toString());
      assertFalse(seen.contains("closed wsgrpc.v1") || seen.contains("closed native"), seen.toString());
    } finally {
      tunnel.shutdownNow();
      nativeGrpc.shutdownNow();
    }
  }
}
