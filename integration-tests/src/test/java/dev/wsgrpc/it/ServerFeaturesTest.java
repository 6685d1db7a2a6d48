package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.PlainHttpHandler;
import dev.wsgrpc.server.RejectReason;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.TunnelAdmission;
import dev.wsgrpc.server.TunnelInfo;
import dev.wsgrpc.server.TunnelListener;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What a tunnel server offers besides tunnels, on real sockets: native gRPC (h2c and ALPN h2) on the same port,
 * plain HTTP answers, the client's address from trusted proxies, a listener, and admission before the 101.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ServerFeaturesTest {

  private final AtomicReference<SocketAddress> seenRemote = new AtomicReference<>();
  private Server server;
  private ManagedChannel channel;

  /** Records the remote address each call's transport reports. */
  private final ServerInterceptor remoteRecorder = new ServerInterceptor() {
    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
        ServerCallHandler<ReqT, RespT> next) {
      seenRemote.set(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
      return next.startCall(call, headers);
    }
  };

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private int start(WebSocketServerOptions options) throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), options)
        .addService(ServerInterceptors.intercept(new EchoService(), remoteRecorder))
        .build()
        .start();
    return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  private static int call(ManagedChannel channel) {
    return EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .unary(EchoService.payload(9)).getPayload().size();
  }

  @Test
  void plainGrpcOverH2cSharesThePortWithTunnels() throws Exception {
    int port = start(WebSocketServerOptions.newBuilder().nativeGrpc(true).build());
    channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    assertEquals(9, call(channel));
    ManagedChannel tunnel = WebSocketChannels.newChannel("ws://127.0.0.1:" + port + "/grpc");
    try {
      assertEquals(9, call(tunnel));
    } finally {
      tunnel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void plainGrpcOverTlsWithAlpnH2SharesThePortWithWss() throws Exception {
    TestCertificates certs = TestCertificates.create();
    int port = start(WebSocketServerOptions.newBuilder().nativeGrpc(true)
        .tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem())).build());
    channel = NettyChannelBuilder.forAddress("localhost", port)
        .sslContext(GrpcSslContexts.forClient().trustManager(certs.caPem()).build())
        .build();
    assertEquals(9, call(channel));
    ManagedChannel tunnel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions
        .newBuilder("wss://localhost:" + port + "/grpc").tls(ClientTls.trusting(certs.caPem())).build()).build();
    try {
      assertEquals(9, call(tunnel));
    } finally {
      tunnel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void withoutNativeGrpcTheH2cPrefaceGetsAPlainHttpAnswer() throws Exception {
    int port = start(WebSocketServerOptions.DEFAULT);
    String answer = RawHttp.exchange(port, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assertTrue(answer.startsWith("HTTP/1.1 404 Not Found"), answer);
  }

  @Test
  void plainHttpHandlerAnswersOtherPaths() throws Exception {
    int port = start(WebSocketServerOptions.newBuilder().plainHttpHandler((request, client, alloc) ->
        request.uri().equals("/healthz")
            ? new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                ByteBufUtil.writeAscii(alloc, "ok\n"))
            : null).build());
    String healthy = RawHttp.exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assertTrue(healthy.startsWith("HTTP/1.1 200 OK\r\n"), healthy);
    assertTrue(healthy.endsWith("\r\n\r\nok\n"), healthy);
    String missing = RawHttp.exchange(port, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    assertTrue(missing.startsWith("HTTP/1.1 404 Not Found\r\n"), missing);
  }

  @Test
  void aPlainAnswerMadeLaterLeavesTheOnlyEventLoopFreeForTunnels() throws Exception {
    CompletableFuture<FullHttpResponse> later = new CompletableFuture<>();
    CountDownLatch asked = new CountDownLatch(1);
    PlainHttpHandler handler = new PlainHttpHandler() {
      @Override
      public FullHttpResponse handle(HttpRequest request, SocketAddress client, ByteBufAllocator alloc) {
        return request.uri().equals("/healthz")
            ? new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                ByteBufUtil.writeAscii(alloc, "ok\n"))
            : null;
      }

      @Override
      public CompletionStage<FullHttpResponse> answer(HttpRequest request, SocketAddress client,
          ByteBufAllocator alloc) {
        if (!request.uri().equals("/metrics")) {
          return PlainHttpHandler.super.answer(request, client, alloc);
        }
        asked.countDown();
        return later;
      }
    };
    EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
              WebSocketServerOptions.newBuilder().plainHttpHandler(handler).build())
          .bossEventLoopGroup(loop).workerEventLoopGroup(loop).channelType(NioServerSocketChannel.class)
          .addService(new EchoService())
          .build()
          .start();
      int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
      try (Socket scrape = new Socket("127.0.0.1", port)) {
        scrape.setSoTimeout(30_000);
        scrape.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertTrue(asked.await(30, TimeUnit.SECONDS), "the handler was asked");
        // The scrape's answer is pending: the one event loop still serves a tunnel's call and another request.
        channel = WebSocketChannels.newChannel("ws://127.0.0.1:" + port + "/grpc");
        assertEquals(9, call(channel));
        assertTrue(RawHttp.exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").endsWith("\r\n\r\nok\n"));
        later.complete(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
            ByteBufUtil.writeAscii(ByteBufAllocator.DEFAULT, "later\n"))); // on this thread: written on the loop
        String answer = new String(scrape.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertTrue(answer.startsWith("HTTP/1.1 200 OK\r\n"), answer);
        assertTrue(answer.endsWith("\r\n\r\nlater\n"), answer);
      }
    } finally {
      stop(); // the server before its event loop
      channel = null;
      server = null;
      loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  @Test
  void servicesSeeTheClientNamedByATrustedProxy() throws Exception {
    int port = start(WebSocketServerOptions.newBuilder()
        .access(AccessPolicy.newBuilder().trustedProxies(Arrays.asList("127.0.0.0/8")).build()).build());
    channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder("ws://127.0.0.1:" + port + "/grpc")
        .header("X-Forwarded-For", "198.51.100.7").build()).build();
    call(channel);
    assertEquals(new InetSocketAddress("198.51.100.7", 0), seenRemote.get());
  }

  @Test
  void forwardedHeadersFromUntrustedPeersAreIgnored() throws Exception {
    int port = start(WebSocketServerOptions.newBuilder()
        .access(AccessPolicy.newBuilder().trustedProxies(Arrays.asList("10.0.0.0/8")).build()).build());
    channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder("ws://127.0.0.1:" + port + "/grpc")
        .header("X-Forwarded-For", "198.51.100.7").build()).build();
    call(channel);
    assertEquals("127.0.0.1", ((InetSocketAddress) seenRemote.get()).getAddress().getHostAddress());
  }

  @Test
  void listenerSeesOpenCloseAndRefusals() throws Exception {
    List<String> events = new CopyOnWriteArrayList<>();
    CountDownLatch closed = new CountDownLatch(1);
    AtomicReference<TunnelInfo> opened = new AtomicReference<>();
    int port = start(WebSocketServerOptions.newBuilder().listener(new TunnelListener() {
      @Override
      public void tunnelOpened(TunnelInfo tunnel) {
        opened.set(tunnel);
        events.add("opened " + tunnel.path() + " " + tunnel.subprotocol());
      }

      @Override
      public void tunnelClosed(TunnelInfo tunnel) {
        events.add("closed in=" + (tunnel.bytesIn() > 0) + " out=" + (tunnel.bytesOut() > 0));
        closed.countDown();
      }

      @Override
      public void upgradeRejected(SocketAddress client, int status, RejectReason reason) {
        events.add("rejected " + status + " " + reason);
      }
    }).build());
    RawHttp.exchange(port, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
    channel = WebSocketChannels.newChannel("ws://127.0.0.1:" + port + "/grpc");
    call(channel);
    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    assertTrue(closed.await(30, TimeUnit.SECONDS), events.toString());
    assertEquals(Arrays.asList("rejected 404 not_found", "opened /grpc wsgrpc.v1", "closed in=true out=true"), events);
    assertTrue(opened.get().duration().toNanos() > 0);
  }

  /**
   * Native gRPC connections are reported apart from tunnels, and their {@code close()} is a graceful GOAWAY while
   * the server keeps listening: the client's next call opens a new connection.
   */
  @Test
  void listenerSeesNativeConnectionsApartFromTunnelsAndTheirCloseIsAGoAway() throws Exception {
    List<String> events = new CopyOnWriteArrayList<>();
    BlockingQueue<TunnelInfo> nativeOpened = new LinkedBlockingQueue<>();
    CountDownLatch nativeClosed = new CountDownLatch(1);
    int port = start(WebSocketServerOptions.newBuilder().nativeGrpc(true).listener(new TunnelListener() {
      @Override
      public void tunnelOpened(TunnelInfo tunnel) {
        events.add("tunnel opened " + tunnel.path());
      }

      @Override
      public void nativeConnectionOpened(TunnelInfo connection) {
        events.add("native opened path=" + connection.path() + " subprotocol=" + connection.subprotocol()
            + " client=" + ((InetSocketAddress) connection.clientAddress()).getAddress().getHostAddress());
        nativeOpened.add(connection);
      }

      @Override
      public void nativeConnectionClosed(TunnelInfo connection) {
        events.add("native closed in=" + (connection.bytesIn() > 0) + " out=" + (connection.bytesOut() > 0)
            + " close codes=" + connection.closeCodeSent() + "/" + connection.closeCodeReceived());
        nativeClosed.countDown();
      }
    }).build());
    channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    assertEquals(9, call(channel));
    TunnelInfo first = nativeOpened.poll(30, TimeUnit.SECONDS);
    first.close();
    assertTrue(nativeClosed.await(30, TimeUnit.SECONDS), events.toString());
    assertEquals(9, call(channel), "the next call opens a new connection: the server still listens");
    assertTrue(nativeOpened.poll(30, TimeUnit.SECONDS) != null, events.toString());
    ManagedChannel tunnel = WebSocketChannels.newChannel("ws://127.0.0.1:" + port + "/grpc");
    try {
      assertEquals(9, call(tunnel));
    } finally {
      tunnel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    assertEquals(Arrays.asList("native opened path=null subprotocol=null client=127.0.0.1",
        "native closed in=true out=true close codes=-1/-1",
        "native opened path=null subprotocol=null client=127.0.0.1",
        "tunnel opened /grpc"), events);
  }

  @Test
  void admissionRefusesWith503AndRetryAfter() throws Exception {
    int port = start(WebSocketServerOptions.newBuilder()
        .access(AccessPolicy.newBuilder()
                .admission((client, path) -> TunnelAdmission.Refusal.unavailable("draining: try another server", 7))
                .build())
        .build());
    String answer = RawHttp.exchange(port, "GET /grpc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    assertTrue(answer.startsWith("HTTP/1.1 503 Service Unavailable\r\n"), answer);
    assertTrue(answer.toLowerCase().contains("retry-after: 7\r\n"), answer);
    assertTrue(answer.endsWith("draining: try another server\n"), answer);
    channel = WebSocketChannels.newChannel("ws://127.0.0.1:" + port + "/grpc");
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(channel));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().startsWith("expected HTTP 101 but was 503 Service Unavailable"),
        e.getStatus().getDescription());
  }

}
