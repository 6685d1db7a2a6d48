package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.it.UpstreamReplicas.Counter;
import dev.wsgrpc.it.UpstreamReplicas.JavaReplica;
import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.BearerTokens;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.TunnelAuthenticator;
import dev.wsgrpc.server.TunnelPrincipal;
import dev.wsgrpc.server.WebSocketServerCredentials;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * One gate for every connection (issue 12, item 1): a connection that starts with the HTTP/2 preface (native gRPC,
 * on by default in the jar) passes the same checks as a tunnel, in the library and in every mode of the jar: the
 * token (per call), the tunnel limits and the handshake timeout (the drain: {@code TunnelServerJarTest}). Real
 * processes and sockets.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class NativeGrpcGateTest {

  private static final String GOOD = "Bearer s3cr3t-alice";
  private static final String BAD = "Bearer wr0ng-t0ken";
  private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  private final Closer closer = new Closer();
  private TunnelServerJar jar;

  @AfterEach
  void stop() throws Exception {
    closer.close();
    if (jar != null) {
      jar.close();
    }
  }

  private static File tokenFile() throws Exception {
    File tokens = File.createTempFile("tokens", ".txt");
    tokens.deleteOnExit();
    Files.write(tokens.toPath(), List.of("s3cr3t-alice alice"));
    return tokens;
  }

  /** A tunnel that sends {@code authorization} (null: none) on its upgrade. */
  private ManagedChannel tunnel(String url, String authorization) {
    WebSocketClientOptions.Builder options = WebSocketClientOptions.newBuilder(url);
    if (authorization != null) {
      options.header("Authorization", authorization);
    }
    return closer.add(WebSocketChannels.newChannelBuilder(options.build()).build());
  }

  /** A plain h2c channel to {@code port}. */
  private ManagedChannel h2c(int port) {
    return closer.add(NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build());
  }

  /** {@code channel} sending {@code authorization} (null: none) as metadata on every call. */
  private static Channel withAuthorization(Channel channel, String authorization) {
    if (authorization == null) {
      return channel;
    }
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), authorization);
    return ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  /** Counts the calls that reach the Echo service and records the principal it saw. */
  private static final class Recorder implements ServerInterceptor {
    final Counter calls = new Counter();
    final AtomicReference<Object> principal = new AtomicReference<>();

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
        ServerCallHandler<ReqT, RespT> next) {
      principal.set(TunnelPrincipal.current());
      calls.increment();
      return next.startCall(call, headers);
    }
  }

  private enum Target { LIBRARY, JAR_PROXY, JAR_RELAY }

  @Test
  void everyFrontEndOfTheLibraryAndOfEachJarModeNeedsTheTokenAndNoRefusedCallReachesTheService()
      throws Exception {
    JavaReplica replica = closer.add(new JavaReplica("java"));
    Recorder recorder = new Recorder();
    Server library = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.newBuilder().nativeGrpc(true)
            .access(AccessPolicy.newBuilder().authenticator(BearerTokens.of(Map.of("s3cr3t-alice", "alice")))
                .build()).build())
        .addService(ServerInterceptors.intercept(new EchoService(), recorder))
        .build().start();
    closer.add(library);
    File tokens = tokenFile();
    List<String> failures = new ArrayList<>();
    for (Target target : Target.values()) {
      int port;
      Counter calls;
      if (target == Target.LIBRARY) {
        port = ((InetSocketAddress) library.getListenSockets().get(0)).getPort();
        calls = recorder.calls;
      } else {
        if (jar != null) {
          jar.close();
        }
        jar = target == Target.JAR_PROXY
            ? TunnelServerJar.start("--port", "0", "--upstream", replica.address(), "--auth-tokens",
                tokens.getPath())
            // Relay mode refuses to start native gRPC with tokens (see below): tunnels only.
            : TunnelServerJar.start("--port", "0", "--mode", "relay", "--no-native-grpc", "--upstream",
                replica.address(), "--auth-tokens", tokens.getPath());
        jar.awaitUrl();
        port = jar.port();
        calls = replica.started;
      }
      String url = "ws://127.0.0.1:" + port + "/grpc";
      for (boolean tunnel : new boolean[] {true, false}) {
        for (String credential : new String[] {null, BAD, GOOD}) {
          String cell = target + (tunnel ? " tunnel " : " native ") + (credential == null ? "no token"
              : credential == GOOD ? "good token" : "bad token");
          int before = calls.get();
          AtomicReference<Status> status = new AtomicReference<>();
          Metadata trailers = tunnel
              ? UpstreamReplicas.call(tunnel(url, credential), EchoService.payload(3), 30_000, status)
              : UpstreamReplicas.call(withAuthorization(h2c(port), credential), EchoService.payload(3), 30_000,
                  status);
          Status s = status.get();
          boolean nativeOff = target == Target.JAR_RELAY && !tunnel;
          if (credential == GOOD && !nativeOff) {
            check(failures, cell, s.isOk(), "OK but was " + s);
            check(failures, cell, calls.get() == before + 1, "the call reached the service once");
            if (target == Target.LIBRARY) {
              check(failures, cell, "alice".equals(String.valueOf(recorder.principal.get())),
                  "the service sees principal alice but saw " + recorder.principal.get());
            } else if (target == Target.JAR_PROXY) {
              check(failures, cell, "alice".equals(trailers.get(UpstreamReplicas.seen("wsgrpc-principal"))),
                  "the upstream sees wsgrpc-principal alice: " + trailers);
            }
          } else {
            check(failures, cell, calls.get() == before, "never reached the service, but did");
            if (nativeOff) {
              check(failures, cell, !s.isOk(), "refused (native gRPC off) but was OK");
            } else if (tunnel) {
              check(failures, cell, s.getCode() == Status.Code.UNAVAILABLE
                  && String.valueOf(s.getDescription()).contains("but was 401 Unauthorized"),
                  "UNAVAILABLE (the upgrade's 401) but was " + s);
            } else {
              check(failures, cell, s.getCode() == Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED but was " + s);
            }
            if (!tunnel && !nativeOff) {
              String description = String.valueOf(s.getDescription());
              check(failures, cell, credential == null
                  ? description.equals("expected a bearer token in Authorization or a bearer.<token> subprotocol "
                      + "(the call carried no 'authorization' metadata)")
                  : description.equals("the bearer token is not valid (the call carried 'authorization: Bearer' "
                      + "with a token that is not shown)"), "the description says what was expected and what "
                      + "arrived, but was " + description);
            }
          }
        }
      }
    }
    assertTrue(failures.isEmpty(), String.join("\n", failures));
  }

  private static void check(List<String> failures, String cell, boolean ok, String expected) {
    if (!ok) {
      failures.add(cell + ": expected " + expected);
    }
  }

  /**
   * A native call carrying {@code authorization} twice is refused as an upgrade or gRPC-Web request with two
   * Authorization headers is, in the library and in proxy mode: the authenticator would check the first value and a
   * service reading the metadata ({@code Metadata.get}) would see the last.
   */
  @Test
  void aNativeCallWithTwoAuthorizationValuesIsRefusedAsARequestWithTwoIsInTheLibraryAndProxyMode() throws Exception {
    JavaReplica replica = closer.add(new JavaReplica("java"));
    Recorder recorder = new Recorder();
    Server library = closer.add(WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.newBuilder().nativeGrpc(true)
            .access(AccessPolicy.newBuilder().authenticator(BearerTokens.of(Map.of("s3cr3t-alice", "alice")))
                .build()).build())
        .addService(ServerInterceptors.intercept(new EchoService(), recorder))
        .build().start());
    jar = TunnelServerJar.start("--port", "0", "--upstream", replica.address(), "--auth-tokens",
        tokenFile().getPath());
    jar.awaitUrl();
    Metadata.Key<String> authorization = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    Metadata twice = new Metadata();
    twice.put(authorization, GOOD); // the one the authenticator reads
    twice.put(authorization, BAD); // the one a service's Metadata.get reads
    Map<Integer, Counter> targets = Map.of(((InetSocketAddress) library.getListenSockets().get(0)).getPort(),
        recorder.calls, jar.port(), replica.started);
    for (Map.Entry<Integer, Counter> target : targets.entrySet()) {
      AtomicReference<Status> status = new AtomicReference<>();
      UpstreamReplicas.call(ClientInterceptors.intercept(h2c(target.getKey()),
          MetadataUtils.newAttachHeadersInterceptor(twice)), EchoService.payload(3), 30_000, status);
      assertEquals(Status.Code.INTERNAL, status.get().getCode(), status.get().toString());
      assertEquals("expected at most one Authorization header but was 2", status.get().getDescription());
      assertEquals(0, target.getValue().get(), "the call never reached the service");
      UpstreamReplicas.call(withAuthorization(h2c(target.getKey()), GOOD), EchoService.payload(3), 30_000, status);
      assertTrue(status.get().isOk(), "one value is served: " + status.get());
    }
  }

  @Test
  void relayModeRefusesToStartNativeGrpcWithTokensNamingBothFlagsAndTheFix() throws Exception {
    File tokens = tokenFile();
    for (String[] args : List.of(
        new String[] {"--port", "0", "--mode", "relay", "--upstream", "127.0.0.1:1", "--auth-tokens",
            tokens.getPath()},
        new String[] {"--port", "0", "--mode", "relay", "--native-grpc", "--upstream", "127.0.0.1:1",
            "--auth-tokens", tokens.getPath()})) {
      try (TunnelServerJar refused = TunnelServerJar.start(args)) {
        assertEquals(2, refused.awaitExit(Duration.ofSeconds(60)), refused.stderr());
        assertTrue(refused.stderr().contains("--native-grpc (on by default) cannot be used with --auth-tokens in "
            + "--mode relay"), refused.stderr());
        assertTrue(refused.stderr().contains("add --no-native-grpc"), refused.stderr());
      }
    }
  }

  /** Reads what the server sent until it closed, and returns the debug text of its GOAWAY NO_ERROR. */
  private static String goAwayUntilClosed(Socket socket) throws Exception {
    socket.setSoTimeout(60_000);
    InputStream in = socket.getInputStream();
    ByteBuf bytes = Unpooled.wrappedBuffer(in.readAllBytes());
    try {
      while (bytes.readableBytes() >= 9) {
        int length = bytes.readUnsignedMedium();
        byte type = bytes.readByte();
        bytes.skipBytes(5);
        if (type == 7) {
          bytes.skipBytes(4);
          assertEquals(0, bytes.readInt(), "NO_ERROR");
          return bytes.readCharSequence(length - 8, StandardCharsets.UTF_8).toString();
        }
        bytes.skipBytes(length);
      }
      throw new AssertionError("no GOAWAY before the close");
    } finally {
      bytes.release();
    }
  }

  @Test
  void nativeSocketsSendingOnlyThePrefaceHoldTunnelSlotsAndAreClosedAtTheHandshakeDeadline() throws Exception {
    jar = TunnelServerJar.start("--port", "0", "--max-tunnels-per-client", "2", "--handshake-timeout", "2s");
    jar.awaitUrl();
    List<Socket> sockets = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Socket socket = closer.add(new Socket("127.0.0.1", jar.port()));
      OutputStream out = socket.getOutputStream();
      out.write(PREFACE);
      out.flush();
      sockets.add(socket);
    }
    // Whatever order the server read them in: two hold the client's slots until the deadline, the third is refused.
    Map<String, Integer> answers = new java.util.TreeMap<>();
    for (Socket socket : sockets) {
      answers.merge(goAwayUntilClosed(socket), 1, Integer::sum);
    }
    assertEquals(Map.of(
        "expected the HTTP/2 preface and SETTINGS within 2000 ms but SETTINGS did not arrive", 2,
        "too many tunnels open from your address; retry later", 1), answers);
    String metrics = jar.metrics(jar.port());
    assertTrue(metrics.contains("wsgrpc_handshake_failures_total{reason=\"timeout\"} 2.0"), metrics);
    assertTrue(metrics.contains("wsgrpc_handshake_failures_total{reason=\"too_many_tunnels_per_client\"} 1.0"),
        metrics);
    // The slots were given back: a real client gets its two connections.
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, health(h2c(jar.port())));
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, health(h2c(jar.port())));
  }

  /**
   * With tokens, a native connection holds a slot of the tunnel limits only from its first accepted call, as a tunnel
   * holds one only once its upgrade is authenticated: connections without a token (the preface and SETTINGS, then
   * nothing) no longer lock the clients of their address out (they held the slots for the idle timeout, 30 minutes),
   * and are closed once the handshake timeout passes without an accepted call. Authenticated connections still count.
   */
  @Test
  void nativeConnectionsWithoutAnAcceptedCallHoldNoTunnelSlotAndAreClosedAtTheHandshakeDeadline() throws Exception {
    jar = TunnelServerJar.start("--port", "0", "--auth-tokens", tokenFile().getPath(),
        "--max-tunnels-per-client", "2", "--handshake-timeout", "2s");
    jar.awaitUrl();
    List<Socket> sockets = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Socket socket = closer.add(new Socket("127.0.0.1", jar.port()));
      socket.setSoTimeout(60_000);
      OutputStream out = socket.getOutputStream();
      out.write(PREFACE);
      out.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // an empty SETTINGS frame
      out.flush();
      byte[] header = socket.getInputStream().readNBytes(9); // the server's SETTINGS: it has read the preface
      assertEquals(4, header[3], "a SETTINGS frame");
      socket.getInputStream().readNBytes(((header[0] & 0xff) << 16) | ((header[1] & 0xff) << 8) | (header[2] & 0xff));
      sockets.add(socket);
    }
    // The clients of the same address with the token get both their slots.
    Channel first = withAuthorization(h2c(jar.port()), GOOD);
    Channel second = withAuthorization(h2c(jar.port()), GOOD);
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, health(first));
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, health(second));
    // ... and no more: a third connection's first accepted call finds the limit.
    io.grpc.StatusRuntimeException third = org.junit.jupiter.api.Assertions.assertThrows(
        io.grpc.StatusRuntimeException.class, () -> health(withAuthorization(h2c(jar.port()), GOOD)));
    assertEquals(Status.Code.UNAVAILABLE, third.getStatus().getCode(), third.getStatus().toString());
    assertEquals("too many tunnels open from your address; retry later", third.getStatus().getDescription());
    for (Socket socket : sockets) {
      goAwayUntilClosed(socket); // GOAWAY NO_ERROR, then the close, at the deadline
    }
    String metrics = jar.metrics(jar.port());
    assertTrue(metrics.contains("wsgrpc_handshake_failures_total{reason=\"timeout\"} 3.0"), metrics);
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, health(first), "the authenticated ones stay");
  }

  /**
   * A connection whose only call was refused for want of a token, and whose client then leaves that call's stream
   * open (gRPC's server sends no RST_STREAM after its trailers), is still closed after the deadline: gRPC's graceful
   * close would wait for the stream for good, and such connections, holding no slot, would be limited by nothing.
   */
  @Test
  void aConnectionWhoseRefusedCallStaysOpenIsStillClosedAfterTheDeadline() throws Exception {
    // 5 s: the refused call's answer comes before the deadline also on a busy machine.
    jar = TunnelServerJar.start("--port", "0", "--auth-tokens", tokenFile().getPath(), "--handshake-timeout", "5s");
    jar.awaitUrl();
    Socket socket = closer.add(new Socket("127.0.0.1", jar.port()));
    socket.setSoTimeout(30_000);
    OutputStream out = socket.getOutputStream();
    out.write(dev.wsgrpc.testing.Http2Wire.concat(PREFACE, dev.wsgrpc.testing.Http2Wire.settings(),
        dev.wsgrpc.testing.Http2Wire.headers(1, 0x4, // END_HEADERS, not END_STREAM: the call stays open
            dev.wsgrpc.testing.Http2Wire.grpcRequestBlock("/grpc.health.v1.Health/Check", "127.0.0.1"))));
    out.flush();
    java.io.DataInputStream in = new java.io.DataInputStream(socket.getInputStream());
    List<String> frames = new ArrayList<>();
    try {
      while (true) {
        dev.wsgrpc.testing.Http2Wire.Frame frame = dev.wsgrpc.testing.Http2Wire.read(in);
        if (frame.type == 1 && frame.streamId == 1) {
          frames.add("HEADERS 1");
        } else if (frame.type == 7) {
          frames.add("GOAWAY");
        }
      }
    } catch (java.io.EOFException closed) {
      // The server closed the connection: what the test waits for (a read timeout fails it).
    }
    assertTrue(frames.contains("HEADERS 1"), "the call was answered (refused): " + frames);
    assertTrue(frames.contains("GOAWAY"), "GOAWAY before the close: " + frames);
    String metrics = jar.metrics(jar.port());
    assertTrue(metrics.contains("wsgrpc_handshake_failures_total{reason=\"unauthorized\"} 1.0"), metrics);
    assertTrue(metrics.contains("wsgrpc_handshake_failures_total{reason=\"timeout\"} 1.0"), metrics);
  }

  @Test
  void relayModeCountsNativeConnectionsAgainstTheTunnelLimits() throws Exception {
    JavaReplica replica = closer.add(new JavaReplica("java"));
    jar = TunnelServerJar.start("--port", "0", "--mode", "relay", "--upstream", replica.address(),
        "--max-tunnels-per-client", "1");
    jar.awaitUrl();
    ManagedChannel first = h2c(jar.port());
    AtomicReference<Status> status = new AtomicReference<>();
    UpstreamReplicas.call(first, EchoService.payload(1), 30_000, status);
    assertTrue(status.get().isOk(), status.get().toString());
    // The first connection stays open, holding the client's only slot.
    UpstreamReplicas.call(h2c(jar.port()), EchoService.payload(1), 30_000, status);
    assertEquals(Status.Code.UNAVAILABLE, status.get().getCode(), status.get().toString());
    assertTrue(String.valueOf(status.get().getDescription())
        .contains("too many tunnels open from your address; retry later"), status.get().toString());
    assertEquals(1, replica.started.get(), "the refused call never reached the upstream");
  }

  @Test
  void aServerBuiltFromTheCredentialsAloneRefusesNativeCallsItCannotAuthenticateAndServesTunnels() throws Exception {
    // The omission: WebSocketServerCredentials with bearer tokens and native gRPC, and no TunnelPrincipal.interceptor().
    Recorder recorder = new Recorder();
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerCredentials.create(WebSocketServerOptions.newBuilder().nativeGrpc(true)
            .access(AccessPolicy.newBuilder().authenticator(BearerTokens.of(Map.of("s3cr3t-alice", "alice")))
                .build()).build()))
        .addService(ServerInterceptors.intercept(new EchoService(), recorder))
        .build().start();
    closer.add(server);
    int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    AtomicReference<Status> status = new AtomicReference<>();
    for (String credential : new String[] {null, BAD, GOOD}) {
      UpstreamReplicas.call(withAuthorization(h2c(port), credential), EchoService.payload(3), 30_000, status);
      assertEquals(Status.Code.UNAUTHENTICATED, status.get().getCode(), credential + ": " + status.get());
      assertTrue(String.valueOf(status.get().getDescription()).endsWith("; native gRPC connections to this server "
          + "are authenticated as a whole, without headers: send the credentials through a WebSocket tunnel"),
          status.get().toString());
      assertEquals(0, recorder.calls.get(), "no native call reaches the service, with " + credential);
    }
    UpstreamReplicas.call(tunnel("ws://127.0.0.1:" + port + "/grpc", GOOD), EchoService.payload(3), 30_000, status);
    assertTrue(status.get().isOk(), "a tunnel with the token is served: " + status.get());
    assertEquals(1, recorder.calls.get());
    UpstreamReplicas.call(tunnel("ws://127.0.0.1:" + port + "/grpc", null), EchoService.payload(3), 30_000, status);
    assertEquals(Status.Code.UNAVAILABLE, status.get().getCode(), status.get().toString());
    assertEquals(1, recorder.calls.get());
  }

  @Test
  void aServerBuiltFromTheCredentialsAloneAdmitsNativeConnectionsByTheirClientCertificate() throws Exception {
    TestCertificates certs = TestCertificates.create();
    Recorder recorder = new Recorder();
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerCredentials.create(WebSocketServerOptions.newBuilder().nativeGrpc(true)
            .tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem())
                .requireClientCertificates(certs.caPem()))
            .access(AccessPolicy.newBuilder().authenticator(TunnelAuthenticator.CLIENT_CERTIFICATE).build())
            .build()))
        .intercept(TunnelPrincipal.interceptor()) // here only for TunnelPrincipal.current()
        .addService(ServerInterceptors.intercept(new EchoService(), recorder))
        .build().start();
    closer.add(server);
    int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    ManagedChannel withCertificate = closer.add(NettyChannelBuilder.forAddress("127.0.0.1", port).overrideAuthority("localhost")
        .sslContext(GrpcSslContexts.forClient().trustManager(certs.caPem())
            .keyManager(certs.clientCertPem(), certs.clientKeyPem()).build()).build());
    AtomicReference<Status> status = new AtomicReference<>();
    UpstreamReplicas.call(withCertificate, EchoService.payload(2), 30_000, status);
    assertTrue(status.get().isOk(), status.get().toString());
    assertEquals(1, recorder.calls.get());
    assertEquals("CN=wsgrpc-test-client", String.valueOf(recorder.principal.get()));
  }

  private static HealthCheckResponse.ServingStatus health(Channel channel) {
    return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .check(HealthCheckRequest.getDefaultInstance()).getStatus();
  }

  @Test
  void mutualTlsRequiresTheClientCertificateOfNativeCallsTooAndNamesTheirPrincipal() throws Exception {
    JavaReplica replica = closer.add(new JavaReplica("java"));
    TestCertificates certs = TestCertificates.create();
    jar = TunnelServerJar.start("--port", "0", "--upstream", replica.address(),
        "--tls-cert", certs.serverCertPem().getPath(), "--tls-key", certs.serverKeyPem().getPath(),
        "--tls-client-ca", certs.caPem().getPath());
    jar.awaitUrl();
    // Health checks without a client certificate cannot reach /healthz on --port: the operator is told at start.
    jar.awaitLog("--tls-client-ca without --admin-port: /healthz on --port asks for a client certificate");
    ManagedChannel withCertificate = closer.add(NettyChannelBuilder.forAddress("localhost", jar.port())
        .sslContext(GrpcSslContexts.forClient().trustManager(certs.caPem())
            .keyManager(certs.clientCertPem(), certs.clientKeyPem()).build()).build());
    AtomicReference<Status> status = new AtomicReference<>();
    Metadata seen = UpstreamReplicas.call(withCertificate, EchoService.payload(2), 30_000, status);
    assertTrue(status.get().isOk(), status.get().toString());
    assertEquals("CN=wsgrpc-test-client", seen.get(UpstreamReplicas.seen("wsgrpc-principal")), seen.toString());
    assertEquals("native", seen.get(UpstreamReplicas.seen("wsgrpc-transport")), seen.toString());

    ManagedChannel anonymous = closer.add(NettyChannelBuilder.forAddress("localhost", jar.port())
        .sslContext(GrpcSslContexts.forClient().trustManager(certs.caPem()).build()).build());
    UpstreamReplicas.call(anonymous, EchoService.payload(2), 30_000, status);
    assertEquals(Status.Code.UNAVAILABLE, status.get().getCode(), status.get().toString());
    ManagedChannel anonymousTunnel = closer.add(WebSocketChannels.newChannelBuilder(WebSocketClientOptions
        .newBuilder("wss://localhost:" + jar.port() + "/grpc").tls(ClientTls.trusting(certs.caPem())).build())
        .build());
    UpstreamReplicas.call(anonymousTunnel, EchoService.payload(2), 30_000, status);
    assertNotEquals(Status.Code.OK, status.get().getCode(), status.get().toString());
    assertEquals(1, replica.started.get(), "only the call with a certificate reached the upstream");
  }
}
