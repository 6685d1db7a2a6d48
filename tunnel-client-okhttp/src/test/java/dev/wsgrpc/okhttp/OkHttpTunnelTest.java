package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.FaultInjectingRelay;
import dev.wsgrpc.testing.Observers;
import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientStreamTracer;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** This client against the wsgrpc Netty server on real loopback sockets: the four RPC kinds, sizes, failures. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class OkHttpTunnelTest {

  private static final int MAX_MESSAGE = 32 * 1024 * 1024;
  private static final Metadata.Key<String> ECHO_HEADER = Metadata.Key.of("x-echo", Metadata.ASCII_STRING_MARSHALLER);

  private final Closer closer = new Closer();
  private final TestEcho echo = new TestEcho();
  private TestCertificates certs;

  @AfterEach
  void closeAll() throws Exception {
    closer.close();
  }

  private Server startServer(int port, boolean tls) throws Exception {
    WebSocketServerOptions.Builder options = WebSocketServerOptions.newBuilder();
    if (tls) {
      if (certs == null) {
        certs = TestCertificates.create();
      }
      options.tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()));
    }
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", port), options.build())
        .maxInboundMessageSize(MAX_MESSAGE)
        .addService(ServerInterceptors.intercept(echo, new HeaderEchoInterceptor()))
        .build()
        .start();
    closer.add(server);
    return server;
  }

  /** A ws server whose HTTP/2 flow-control windows (stream and connection) are {@code window} bytes. */
  private Server startServerWithWindow(int window) throws Exception {
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder().build())
        .flowControlWindow(window)
        .maxInboundMessageSize(MAX_MESSAGE)
        .addService(echo)
        .build()
        .start();
    closer.add(server);
    return server;
  }

  private static int port(Server server) {
    return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  private ManagedChannel channel(OkHttpWebSocketOptions options) {
    ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(options)
        .maxInboundMessageSize(MAX_MESSAGE).build();
    closer.add(channel);
    return channel;
  }

  private ManagedChannel wsChannel(Server server) {
    return channel(OkHttpWebSocketOptions.newBuilder("ws://127.0.0.1:" + port(server) + "/grpc").build());
  }

  private static EchoGrpc.EchoBlockingStub blocking(ManagedChannel channel) {
    return EchoGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  /** After a round trip, a bidi call with a message sent, known to be on the wire: the status it ends with. */
  private static CompletableFuture<Status> bidiCallOnTheWire(ManagedChannel channel) {
    blocking(channel).unary(TestEcho.payload(1));
    CompletableFuture<Status> inFlight = new CompletableFuture<>();
    EchoGrpc.newStub(channel).bidi(Observers.statusOf(inFlight)).onNext(TestEcho.payload(1));
    blocking(channel).unary(TestEcho.payload(1)); // the bidi call is on the wire behind this round trip
    return inFlight;
  }

  @Test
  void unaryRoundTripsOverWs() throws Exception {
    ManagedChannel channel = wsChannel(startServer(0, false));
    EchoRequest request = TestEcho.payload(1000);
    assertEquals(request.getPayload(), blocking(channel).unary(request).getPayload());
  }

  @Test
  void unaryRoundTripsOverWssTrustingAPemFile() throws Exception {
    Server server = startServer(0, true);
    ManagedChannel channel = channel(OkHttpWebSocketOptions.newBuilder("wss://localhost:" + port(server) + "/grpc")
        .tls(ClientTls.trusting(certs.caPem())).build());
    EchoRequest request = TestEcho.payload(1000);
    assertEquals(request.getPayload(), blocking(channel).unary(request).getPayload());
  }

  @Test
  void serverStreamingDeliversEveryMessageInOrder() throws Exception {
    ManagedChannel channel = wsChannel(startServer(0, false));
    Iterator<EchoResponse> it = blocking(channel).serverStream(TestEcho.payload(100).toBuilder().setCount(500).build());
    int n = 0;
    while (it.hasNext()) {
      assertEquals(100, it.next().getPayload().size());
      n++;
    }
    assertEquals(500, n);
  }

  @Test
  void clientStreamingCountsEveryMessageAndByte() throws Exception {
    ManagedChannel channel = wsChannel(startServer(0, false));
    CompletableFuture<EchoResponse> result = new CompletableFuture<>();
    StreamObserver<EchoRequest> requests = EchoGrpc.newStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
        .clientStream(Observers.firstValue(result));
    for (int i = 0; i < 300; i++) {
      requests.onNext(TestEcho.payload(1000));
    }
    requests.onCompleted();
    EchoResponse response = result.get(60, TimeUnit.SECONDS);
    assertEquals(300, response.getMessagesReceived());
    assertEquals(300_000, response.getBytesReceived());
  }

  /**
   * grpc-okhttp with {@code directExecutor()} runs onReady inside the stream's start, and a message written there and
   * sent at once (the server's windows hold it) made onReady fire again while its bytes were written: the next
   * message went into a buffer nothing sends any more, and the upload stalled (the benchmark's 1 MiB upload). A
   * server window larger than a message makes it happen on the first call.
   */
  @Test
  void onReadyDrivenUploadWithDirectExecutorDeliversEveryMessageWhenTheWindowHoldsAMessage() throws Exception {
    Server server = startServerWithWindow(8 * 1024 * 1024);
    ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(
            OkHttpWebSocketOptions.newBuilder("ws://127.0.0.1:" + port(server) + "/grpc").build())
        .directExecutor().maxInboundMessageSize(MAX_MESSAGE).build();
    closer.add(channel);
    // The server's SETTINGS and connection WINDOW_UPDATE arrive before the upload starts.
    blocking(channel).unary(TestEcho.payload(1));

    int messages = 4;
    EchoRequest message = TestEcho.payload(1024 * 1024);
    CompletableFuture<EchoResponse> result = new CompletableFuture<>();
    EchoGrpc.newStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).clientStream(
        new ClientResponseObserver<EchoRequest, EchoResponse>() {
          final StreamObserver<EchoResponse> into = Observers.firstValue(result);
          int sent;

          @Override
          public void beforeStart(ClientCallStreamObserver<EchoRequest> requests) {
            requests.setOnReadyHandler(() -> {
              while (sent < messages && requests.isReady()) {
                requests.onNext(message);
                if (++sent == messages) {
                  requests.onCompleted();
                }
              }
            });
          }

          @Override
          public void onNext(EchoResponse value) {
            into.onNext(value);
          }

          @Override
          public void onError(Throwable t) {
            into.onError(t);
          }

          @Override
          public void onCompleted() {
            into.onCompleted();
          }
        });
    EchoResponse response = result.get(60, TimeUnit.SECONDS);
    assertEquals(messages, response.getMessagesReceived());
    assertEquals(messages * 1024L * 1024, response.getBytesReceived());
  }

  /**
   * A writer waiting for room in OkHttp's queue is woken by OkHttp's writes alone (no timed re-check): uploads that
   * outrun the WebSocket (the server's 16 MiB window lets gRPC write far past the tunnel's 1 MiB high-water mark)
   * wait many times and each wait ends, or the calls would miss their deadline.
   */
  @Test
  void writersWaitingForRoomInOkHttpsQueueAreAlwaysWoken() throws Exception {
    Server server = startServerWithWindow(16 * 1024 * 1024);
    AtomicReference<Tunnel> tunnel = new AtomicReference<>();
    ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(
            OkHttpWebSocketOptions.newBuilder("ws://127.0.0.1:" + port(server) + "/grpc")
                .settings(TunnelSettings.newBuilder().maxOutboundFramePayload(16 * 1024).build())
                .build())
        .intercept(new ClientInterceptor() {
          @Override
          public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options,
              Channel next) {
            return next.newCall(method, options.withStreamTracerFactory(new ClientStreamTracer.Factory() {
              @Override
              public ClientStreamTracer newClientStreamTracer(ClientStreamTracer.StreamInfo info, Metadata h) {
                return new ClientStreamTracer() {
                  @Override
                  public void streamCreated(Attributes attrs, Metadata headers) {
                    tunnel.set(((TunnelLocalAddress) attrs.get(Grpc.TRANSPORT_ATTR_LOCAL_ADDR)).tunnel());
                  }
                };
              }
            }));
          }
        })
        .maxInboundMessageSize(MAX_MESSAGE).build();
    closer.add(channel);

    int calls = 4;
    int messages = 256;
    EchoRequest message = TestEcho.payload(64 * 1024);
    List<CompletableFuture<EchoResponse>> results = new ArrayList<>();
    for (int c = 0; c < calls; c++) {
      CompletableFuture<EchoResponse> result = new CompletableFuture<>();
      results.add(result);
      StreamObserver<EchoRequest> requests = EchoGrpc.newStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
          .clientStream(Observers.firstValue(result));
      for (int i = 0; i < messages; i++) {
        requests.onNext(message);
      }
      requests.onCompleted();
    }
    for (CompletableFuture<EchoResponse> result : results) {
      EchoResponse response = result.get(90, TimeUnit.SECONDS);
      assertEquals(messages, response.getMessagesReceived());
      assertEquals(messages * 64L * 1024, response.getBytesReceived());
    }
    assertTrue(tunnel.get().roomWaits() > 0, "no writer waited for room: the test did not test waiting");
  }

  @Test
  void bidiStreamingEchoesEachMessage() throws Exception {
    ManagedChannel channel = wsChannel(startServer(0, false));
    List<EchoResponse> received = new ArrayList<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    StreamObserver<EchoRequest> requests = EchoGrpc.newStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
        .bidi(Observers.collecting(received, done));
    for (int i = 0; i < 200; i++) {
      requests.onNext(TestEcho.payload(i + 1));
    }
    requests.onCompleted();
    done.get(60, TimeUnit.SECONDS);
    assertEquals(200, received.size());
    assertEquals(200, received.get(199).getPayload().size());
  }

  @Test
  void metadataTravelsBothWays() throws Exception {
    ManagedChannel channel = wsChannel(startServer(0, false));
    Metadata headers = new Metadata();
    headers.put(ECHO_HEADER, "blue");
    AtomicReference<Metadata> responseHeaders = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    blocking(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers),
            MetadataUtils.newCaptureMetadataInterceptor(responseHeaders, trailers))
        .unary(TestEcho.payload(10));
    assertEquals("blue", responseHeaders.get().get(ECHO_HEADER));
  }

  @Test
  void sixteenMebibyteMessagesCrossBothWays() throws Exception {
    ManagedChannel channel = wsChannel(startServer(0, false));
    EchoRequest big = TestEcho.payload(16 * 1024 * 1024);
    assertEquals(big.getPayload(), blocking(channel).unary(big).getPayload());
  }

  @Test
  void serverStatusAndDescriptionArriveUnchanged() throws Exception {
    ManagedChannel channel = wsChannel(startServer(0, false));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> blocking(channel).unary(
        EchoRequest.newBuilder().setFailWith(Status.Code.INTERNAL.value())
            .setPayload(com.google.protobuf.ByteString.copyFromUtf8("boom")).build()));
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertEquals("boom", e.getStatus().getDescription());
  }

  @Test
  void deadlineExpiresAndTheServerSeesTheCancellation() throws Exception {
    ManagedChannel channel = wsChannel(startServer(0, false));
    // Long enough for the handler to start on a busy machine: a call that expires before, the handler never sees.
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
        .withDeadlineAfter(3, TimeUnit.SECONDS)
        .unary(EchoRequest.newBuilder().setDelayMs(60_000).build()));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
    assertEquals(0, echo.delayStarted.getCount(), "the handler started within the deadline");
    assertTrue(echo.cancelled.await(30, TimeUnit.SECONDS), "expected the server to see the cancellation");
  }

  @Test
  void cancellingACallReachesTheServer() throws Exception {
    ManagedChannel channel = wsChannel(startServer(0, false));
    AtomicReference<ClientCallStreamObserver<EchoRequest>> call = new AtomicReference<>();
    CompletableFuture<Status> closed = new CompletableFuture<>();
    EchoGrpc.newStub(channel).unary(EchoRequest.newBuilder().setDelayMs(60_000).build(),
        new ClientResponseObserver<EchoRequest, EchoResponse>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<EchoRequest> requestStream) {
            call.set(requestStream);
          }

          @Override
          public void onNext(EchoResponse value) {
          }

          @Override
          public void onError(Throwable t) {
            closed.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            closed.complete(Status.OK);
          }
        });
    // Cancelled before its handler runs, a unary call never reaches the handler: wait for the handler.
    assertTrue(echo.delayStarted.await(30, TimeUnit.SECONDS), "the server started the call");
    call.get().cancel("user gave up", null);
    assertEquals(Status.Code.CANCELLED, closed.get(30, TimeUnit.SECONDS).getCode());
    assertTrue(echo.cancelled.await(30, TimeUnit.SECONDS), "expected the server to see the cancellation");
  }

  @Test
  void inFlightCallsFailUnavailableWithinTwoSecondsOfAConnectionResetAndTheNextCallWorks() throws Exception {
    Server server = startServer(0, false);
    FaultInjectingRelay relay = new FaultInjectingRelay(new InetSocketAddress("127.0.0.1", port(server)));
    closer.add(relay);
    ManagedChannel channel = channel(OkHttpWebSocketOptions.newBuilder("ws://127.0.0.1:" + relay.port() + "/grpc")
        .build());
    CompletableFuture<Status> inFlight = bidiCallOnTheWire(channel);
    long start = System.nanoTime();
    relay.cutCurrentConnections();
    Status status = inFlight.get(30, TimeUnit.SECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    assertTrue(status.getDescription().startsWith("connection to ws://127.0.0.1:" + relay.port() + "/grpc lost: "),
        status.toString());
    assertTrue(millis < 2000, "expected the in-flight call to fail within 2 s but it took " + millis + " ms");
    assertEquals(5, blocking(channel).withWaitForReady().unary(TestEcho.payload(5)).getPayload().size());
  }

  @Test
  void connectToDialsItsHostAndPortWhileTheUrlNamesTheServer() throws Exception {
    Server server = startServer(0, false);
    FaultInjectingRelay relay = new FaultInjectingRelay(new InetSocketAddress("127.0.0.1", port(server)));
    closer.add(relay);
    ManagedChannel channel = channel(OkHttpWebSocketOptions.newBuilder("ws://127.0.0.1:" + port(server) + "/grpc")
        .connectTo("127.0.0.1", relay.port()).build());
    assertEquals(5, blocking(channel).unary(TestEcho.payload(5)).getPayload().size());
    assertEquals(1, relay.connectionsAccepted(), "the tunnel went through the connectTo address");
  }

  @Test
  void theChannelReconnectsWhenTheServerComesBackOnItsPort() throws Exception {
    Server server = startServer(0, false);
    int port = port(server);
    ManagedChannel channel = wsChannel(server);
    blocking(channel).unary(TestEcho.payload(1));
    server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    StatusRuntimeException down = assertThrows(StatusRuntimeException.class,
        () -> blocking(channel).unary(TestEcho.payload(1)));
    assertEquals(Status.Code.UNAVAILABLE, down.getStatus().getCode(), down.getStatus().toString());
    startServer(port, false);
    assertEquals(5, blocking(channel).withWaitForReady().unary(TestEcho.payload(5)).getPayload().size());
  }

  @Test
  void aSilentPathIsNoticedThroughPingsAndTheCallFailsUnavailable() throws Exception {
    Server server = startServer(0, false);
    FaultInjectingRelay relay = new FaultInjectingRelay(new InetSocketAddress("127.0.0.1", port(server)));
    closer.add(relay);
    ManagedChannel channel = channel(OkHttpWebSocketOptions.newBuilder("ws://127.0.0.1:" + relay.port() + "/grpc")
        .settings(TunnelSettings.newBuilder().pingInterval(300, TimeUnit.MILLISECONDS).build()).build());
    blocking(channel).unary(TestEcho.payload(1));
    CompletableFuture<Status> inFlight = new CompletableFuture<>();
    EchoGrpc.newStub(channel).bidi(Observers.statusOf(inFlight)).onNext(TestEcho.payload(1));
    relay.stallCurrentConnections();
    Status status = inFlight.get(30, TimeUnit.SECONDS);
    assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    assertTrue(status.getDescription().startsWith("no WebSocket Pong arrived within 300 ms of a Ping: the server "
        + "or a hop on the path has gone silent (from ws://127.0.0.1:" + relay.port() + "/grpc)"), status.toString());
  }

  /**
   * A path gone silent is noticed within pingInterval + pingTimeout of the last bytes that arrived, as by the Netty
   * client, over ws and through TLS: OkHttp's own check (a Pong missing when the next Ping is due) ends the tunnel two
   * intervals after the last Pong. OkHttp sends a Ping every interval I from the open and fails at the first Ping
   * that finds the previous one unanswered, so it comes first whenever the last bytes arrive less than pingTimeout
   * before a Ping, or while a Pong is on its way (a slow setup made that happen). The relay therefore stalls right
   * after the Pong of the idle tunnel's next Ping (sent at tp): silence ends it at tp + rtt + I + 200 ms, OkHttp only
   * at tp + 2 I, later while the round trip takes less than I - 200 ms, whatever the setup took.
   */
  @ParameterizedTest(name = "tls: {0}")
  @ValueSource(booleans = {false, true})
  void aSilentPathIsNoticedWithinThePingIntervalAndTimeout(boolean tls) throws Exception {
    Server server = startServer(0, tls);
    FaultInjectingRelay relay = new FaultInjectingRelay(new InetSocketAddress("127.0.0.1", port(server)));
    closer.add(relay);
    String url = (tls ? "wss://localhost:" : "ws://127.0.0.1:") + port(server) + "/grpc";
    OkHttpWebSocketOptions.Builder options = OkHttpWebSocketOptions.newBuilder(url)
        .connectTo("127.0.0.1", relay.port())
        .settings(TunnelSettings.newBuilder().pingInterval(1500, TimeUnit.MILLISECONDS)
            .pingTimeout(200, TimeUnit.MILLISECONDS).build());
    if (tls) {
      options.tls(ClientTls.trusting(certs.caPem()));
    }
    CompletableFuture<Status> inFlight = bidiCallOnTheWire(channel(options.build()));
    long start = System.nanoTime();
    relay.stallAfterTheNextAnswer();
    Status status = inFlight.get(30, TimeUnit.SECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    assertTrue(status.getDescription().startsWith("nothing arrived within 1700 ms, a WebSocket Ping's interval and "
        + "timeout (1500 + 200 ms): the server or a hop on the path has gone silent (from " + url + ")"),
        status.toString());
    assertTrue(millis < 1500 + 1700 + 2000, "expected the call to fail within 1.7 s of the Pong that came at most "
        + "1.5 s after the stall was set, but it took " + millis + " ms");
  }

  /** Echoes the {@code x-echo} request header as a response header. */
  private static final class HeaderEchoInterceptor implements io.grpc.ServerInterceptor {
    @Override
    public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call, Metadata headers,
        io.grpc.ServerCallHandler<Q, R> next) {
      String value = headers.get(ECHO_HEADER);
      return next.startCall(new io.grpc.ForwardingServerCall.SimpleForwardingServerCall<Q, R>(call) {
        @Override
        public void sendHeaders(Metadata responseHeaders) {
          if (value != null) {
            responseHeaders.put(ECHO_HEADER, value);
          }
          super.sendHeaders(responseHeaders);
        }
      }, headers);
    }
  }
}
