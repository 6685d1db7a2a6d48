package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.BearerTokens;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.TunnelAuthenticator;
import dev.wsgrpc.server.TunnelPrincipal;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Who may open a tunnel is decided before the 101, and services see who did. Real sockets, real TLS. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AuthenticationTest {

  private static final Metadata.Key<String> API_KEY = Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER);
  private static final BearerTokens TOKENS = BearerTokens.of(Map.of("s3cr3t-alice", "alice"));

  private final AtomicReference<Object> seenPrincipal = new AtomicReference<>();
  private final AtomicReference<Object> seenAttribute = new AtomicReference<>();
  private Server server;
  private ManagedChannel channel;

  /** Records the principal services see, both ways, and (per call) requires the API key when one is sent. */
  private final ServerInterceptor recorder = new ServerInterceptor() {
    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
        ServerCallHandler<ReqT, RespT> next) {
      seenPrincipal.set(TunnelPrincipal.current());
      seenAttribute.set(call.getAttributes().get(TunnelPrincipal.ATTRIBUTE));
      String key = headers.get(API_KEY);
      if (key != null && !key.equals("k-123")) {
        call.close(Status.UNAUTHENTICATED.withDescription("bad API key"), new Metadata());
        return new ServerCall.Listener<ReqT>() {};
      }
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

  private String start(WebSocketServerOptions options) throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), options)
        .addService(ServerInterceptors.intercept(new EchoService(), recorder))
        .build().start();
    int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    return (options.sslContext() != null ? "wss://localhost:" : "ws://127.0.0.1:") + port + "/grpc";
  }

  private static int call(ManagedChannel channel) {
    return EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .unary(EchoService.payload(4)).getPayload().size();
  }

  private static ManagedChannel channel(WebSocketClientOptions.Builder options) {
    return WebSocketChannels.newChannelBuilder(options.build()).build();
  }

  @Test
  void bearerTokenInAuthorizationReachesServicesAsThePrincipal() throws Exception {
    String url = start(WebSocketServerOptions.newBuilder()
        .access(AccessPolicy.newBuilder().authenticator(TOKENS).build()).build());
    channel = channel(WebSocketClientOptions.newBuilder(url).header("Authorization", "Bearer s3cr3t-alice"));
    assertEquals(4, call(channel));
    assertEquals("alice", seenPrincipal.get());
    assertEquals("alice", seenAttribute.get());
  }

  @Test
  void tokenSuppliedAtEveryConnectCanChange() throws Exception {
    String url = start(WebSocketServerOptions.newBuilder()
        .access(AccessPolicy.newBuilder().authenticator(TOKENS).build()).build());
    AtomicReference<String> token = new AtomicReference<>("s3cr3t-alice");
    channel = channel(WebSocketClientOptions.newBuilder(url)
        .headersSupplier(() -> Map.of("Authorization", "Bearer " + token.get())));
    assertEquals(4, call(channel));
  }

  @Test
  void tokenOfferedAsASubprotocolIsAcceptedAndNeverEchoed() throws Exception {
    String url = start(WebSocketServerOptions.newBuilder()
        .access(AccessPolicy.newBuilder().authenticator(TOKENS).build()).build());
    channel = channel(WebSocketClientOptions.newBuilder(url).subprotocols("wsgrpc.v1", "bearer.s3cr3t-alice"));
    assertEquals(4, call(channel));
    assertEquals("alice", seenPrincipal.get());
    int port = Integer.parseInt(url.replaceAll(".*:(\\d+)/.*", "$1"));
    String answer = RawHttp.head(port, "GET /grpc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + "Sec-WebSocket-Protocol: wsgrpc.v1, bearer.s3cr3t-alice\r\n\r\n");
    String head = answer.toLowerCase(Locale.ROOT);
    assertTrue(head.startsWith("http/1.1 101"), answer);
    assertTrue(head.contains("sec-websocket-protocol: wsgrpc.v1"), answer);
    assertFalse(answer.contains("s3cr3t"), answer);
  }

  /**
   * An authenticator that throws (a token parser failing on odd input, say) is the server's failure: the upgrade is
   * answered 500 and a native call UNKNOWN (gRPC's mapping of a 500), each saying so without the exception's words
   * (which may quote the credentials). The connection was closed unanswered, and a native call ended UNKNOWN with no
   * description.
   */
  @Test
  void anAuthenticatorThatThrowsIsAnswered500OnEveryWayIn() throws Exception {
    String url = start(WebSocketServerOptions.newBuilder().nativeGrpc(true)
        .access(AccessPolicy.newBuilder().authenticator(request -> {
          throw new IllegalArgumentException("cannot parse Bearer s3cr3t-alice");
        }).build()).build());
    String said = "the server could not check the credentials: its authenticator failed";
    channel = channel(WebSocketClientOptions.newBuilder(url).header("Authorization", "Bearer s3cr3t-alice"));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(channel));
    assertEquals("UNAVAILABLE: expected HTTP 101 but was 500 Internal Server Error from " + url + "; it said: \""
        + said + "\"", e.getStatus().getCode() + ": " + e.getStatus().getDescription());
    int port = Integer.parseInt(url.replaceAll(".*:(\\d+)/.*", "$1"));
    ManagedChannel nativeChannel = io.grpc.Grpc.newChannelBuilderForAddress("127.0.0.1", port,
        io.grpc.InsecureChannelCredentials.create()).build();
    try {
      StatusRuntimeException n = assertThrows(StatusRuntimeException.class, () -> call(nativeChannel));
      assertEquals(Status.Code.UNKNOWN, n.getStatus().getCode(), n.getStatus().toString()); // gRPC's 500
      assertTrue(n.getStatus().getDescription().startsWith(said), n.getStatus().getDescription());
      assertFalse(n.getStatus().getDescription().contains("s3cr3t"), n.getStatus().getDescription());
    } finally {
      nativeChannel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void wrongOrMissingTokensAre401WithAChallenge() throws Exception {
    String url = start(WebSocketServerOptions.newBuilder()
        .access(AccessPolicy.newBuilder().authenticator(TOKENS).build()).build());
    channel = channel(WebSocketClientOptions.newBuilder(url).header("Authorization", "Bearer guess"));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(channel));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().startsWith("expected HTTP 101 but was 401 Unauthorized from " + url),
        e.getStatus().getDescription());
    int port = Integer.parseInt(url.replaceAll(".*:(\\d+)/.*", "$1"));
    String answer = RawHttp.exchange(port, "GET /grpc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    assertTrue(answer.startsWith("HTTP/1.1 401 Unauthorized\r\n"), answer);
    assertTrue(answer.toLowerCase(Locale.ROOT).contains("www-authenticate: bearer realm=\"wsgrpc\""), answer);
    assertTrue(answer.endsWith("expected a bearer token in Authorization or a bearer.<token> subprotocol\n"), answer);
  }

  @Test
  void perCallCredentialsInsideTheTunnelKeepWorking() throws Exception {
    String url = start(WebSocketServerOptions.newBuilder()
        .access(AccessPolicy.newBuilder().authenticator(TOKENS).build()).build());
    channel = channel(WebSocketClientOptions.newBuilder(url).header("Authorization", "Bearer s3cr3t-alice"));
    EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    assertEquals(4, stub.withCallCredentials(apiKey("k-123")).unary(EchoService.payload(4)).getPayload().size());
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> stub.withCallCredentials(apiKey("wrong")).unary(EchoService.payload(4)));
    assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
  }

  private static CallCredentials apiKey(String key) {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata m = new Metadata();
        m.put(API_KEY, key);
        applier.apply(m);
      }
    };
  }

  @Test
  void mutualTlsNamesTheClientByItsCertificate() throws Exception {
    TestCertificates certs = TestCertificates.create();
    String url = start(WebSocketServerOptions.newBuilder()
        .tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()).requireClientCertificates(certs.caPem()))
        .access(AccessPolicy.newBuilder().authenticator(TunnelAuthenticator.CLIENT_CERTIFICATE).build())
        .build());
    channel = channel(WebSocketClientOptions.newBuilder(url).tls(ClientTls.of(SslContextBuilder.forClient()
        .trustManager(certs.caPem())
        .keyManager(certs.clientCertPem(), certs.clientKeyPem())
        .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, ApplicationProtocolNames.HTTP_1_1))
        .build())));
    assertEquals(4, call(channel));
    assertEquals("CN=wsgrpc-test-client", seenPrincipal.get().toString());

    ManagedChannel anonymous = channel(WebSocketClientOptions.newBuilder(url).tls(ClientTls.trusting(certs.caPem())));
    try {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(anonymous));
      assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    } finally {
      anonymous.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void originsOutsideTheAllowListAre403() throws Exception {
    String url = start(WebSocketServerOptions.newBuilder()
        .access(AccessPolicy.newBuilder().allowedOrigins(List.of("https://app.example.com")).build()).build());
    channel = channel(WebSocketClientOptions.newBuilder(url).origin("https://evil.example.net"));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(channel));
    assertTrue(e.getStatus().getDescription().startsWith("expected HTTP 101 but was 403 Forbidden"),
        e.getStatus().getDescription());
    ManagedChannel allowed = channel(WebSocketClientOptions.newBuilder(url).origin("https://APP.example.com"));
    ManagedChannel noOrigin = channel(WebSocketClientOptions.newBuilder(url));
    try {
      assertEquals(4, call(allowed));
      assertEquals(4, call(noOrigin));
    } finally {
      allowed.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      noOrigin.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
