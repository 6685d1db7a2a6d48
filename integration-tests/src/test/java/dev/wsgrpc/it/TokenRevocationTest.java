package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.BearerTokens;
import dev.wsgrpc.server.TunnelPrincipal;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.integration.Messages.ResponseParameters;
import io.grpc.testing.integration.Messages.StreamingOutputCallRequest;
import io.grpc.testing.integration.Messages.StreamingOutputCallResponse;
import io.grpc.testing.integration.TestServiceGrpc;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Revocation in {@code tunnel-server.jar --auth-tokens FILE} fails closed: a token edited out of the file (even by an
 * edit that keeps the file's length and modification time) closes the tunnels it opened with WebSocket close 1008
 * and opens no new ones; an emptied or deleted file refuses everyone. Native gRPC calls (h2c on the same port) in
 * flight with a revoked token end {@code UNAUTHENTICATED}, in demo and in proxy mode, while calls of other tokens on
 * the same connection go on.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class TokenRevocationTest {

  private final List<ManagedChannel> channels = new ArrayList<>();
  private TunnelServerJar jar;

  @AfterEach
  void stop() throws Exception {
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (jar != null) {
      jar.close();
    }
  }

  private ManagedChannel channel(String url, String token) {
    ManagedChannel c = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
        .header("Authorization", "Bearer " + token).build()).build();
    channels.add(c);
    return c;
  }

  /**
   * A bidirectional call kept open: it ends only when its tunnel does, or when it is revoked. Over the interop
   * service's FullDuplexCall ({@link #fullDuplex}) or Echo's Bidi ({@link #echoBidi}, which proxy mode's upstream
   * serves).
   */
  private static final class OpenCall<ReqT, RespT> {
    final LinkedBlockingQueue<RespT> responses = new LinkedBlockingQueue<>();
    final CompletableFuture<Status> end = new CompletableFuture<>();
    final StreamObserver<ReqT> requests;
    final ReqT pingRequest;

    private OpenCall(java.util.function.Function<StreamObserver<RespT>, StreamObserver<ReqT>> open, ReqT pingRequest) {
      this.pingRequest = pingRequest;
      requests = open.apply(new StreamObserver<RespT>() {
        @Override
        public void onNext(RespT value) {
          responses.add(value);
        }

        @Override
        public void onError(Throwable t) {
          end.complete(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
          end.complete(Status.OK);
        }
      });
    }

    static OpenCall<StreamingOutputCallRequest, StreamingOutputCallResponse> fullDuplex(io.grpc.Channel channel) {
      return new OpenCall<>(TestServiceGrpc.newStub(channel)::fullDuplexCall, StreamingOutputCallRequest.newBuilder()
          .addResponseParameters(ResponseParameters.newBuilder().setSize(10)).build());
    }

    static OpenCall<EchoRequest, EchoResponse> echoBidi(io.grpc.Channel channel) {
      return new OpenCall<>(EchoGrpc.newStub(channel)::bidi, EchoService.payload(10));
    }

    /** One request and its response: the call (and so the tunnel) is alive. */
    void ping() throws InterruptedException {
      requests.onNext(pingRequest);
      assertTrue(responses.poll(30, TimeUnit.SECONDS) != null, "a response on the open call");
    }

    /** Waits (at most 30 s: two reload periods and plenty more) for the tunnel to end; returns how. */
    Status awaitEnd() throws Exception {
      return end.get(30, TimeUnit.SECONDS);
    }
  }

  private static void assertClosedWith1008(Status status) {
    assertEquals(Status.Code.PERMISSION_DENIED, status.getCode(), status.toString()); // the client maps 1008 so
    assertTrue(status.getDescription().contains("1008 (Policy Violation): the bearer token was revoked"),
        status.toString());
  }

  private static boolean serves(ManagedChannel channel) {
    try {
      return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance()).getStatus() == HealthCheckResponse.ServingStatus.SERVING;
    } catch (StatusRuntimeException e) {
      assertTrue(e.getStatus().getDescription().contains("but was 401 Unauthorized"), e.getStatus().toString());
      return false;
    }
  }

  /** A channel of one native h2c connection to {@code port} (grpc-java's, no tunnel). */
  private ManagedChannel nativeConnection(int port) {
    ManagedChannel c = io.grpc.netty.NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    channels.add(c);
    return c;
  }

  /** {@code connection} with {@code token} as the calls' metadata: several tokens may share one connection. */
  private static io.grpc.Channel withToken(io.grpc.Channel connection, String token) {
    io.grpc.Metadata headers = new io.grpc.Metadata();
    headers.put(io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER),
        "Bearer " + token);
    return io.grpc.ClientInterceptors.intercept(connection,
        io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  /** Waits (at most 10 s: a reload period is 1 s) for a native call to end; asserts it ended as revoked. */
  private static void assertRevoked(CompletableFuture<Status> end) throws Exception {
    Status status = end.get(10, TimeUnit.SECONDS);
    assertEquals(Status.Code.UNAUTHENTICATED, status.getCode(), status.toString());
    assertEquals("the bearer token was revoked", status.getDescription(), status.toString());
  }

  private static Status.Code refusedCode(io.grpc.Channel channel) {
    try {
      HealthGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance());
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  @Test
  void aRevokedTokenEndsTheNativeCallsItAdmittedAndNotTheOtherCallsOfTheirConnection() throws Exception {
    File tokens = new File(Files.createTempDirectory("tokens").toFile(), "tokens.txt");
    Files.writeString(tokens.toPath(), "alpha-t0ken alice\nbravo-t0ken bob\n");
    jar = TunnelServerJar.start("--port", "0", "--auth-tokens", tokens.getPath());
    jar.awaitUrl();
    ManagedChannel connection = nativeConnection(jar.port());
    OpenCall<?, ?> alice = OpenCall.fullDuplex(withToken(connection, "alpha-t0ken"));
    alice.ping();
    OpenCall<?, ?> bob = OpenCall.fullDuplex(withToken(connection, "bravo-t0ken"));
    bob.ping();

    UpstreamReplicas.writeList(tokens.toPath(), List.of("bravo-t0ken bob"));
    assertRevoked(alice.end);
    bob.ping(); // bob's call, on the same connection, goes on
    assertEquals(Status.Code.UNAUTHENTICATED, refusedCode(withToken(connection, "alpha-t0ken")),
        "a new call with the revoked token is refused");
    assertEquals(Status.Code.OK, refusedCode(withToken(connection, "bravo-t0ken")));
    bob.ping();
    bob.requests.onCompleted();
    assertEquals(Status.OK, bob.awaitEnd());
    jar.awaitLog("Ending 1 native gRPC call(s)");
    assertFalse(jar.stderr().contains("t0ke"), "tokens never reach the logs:\n" + jar.stderr());
  }

  @Test
  void inProxyModeARevokedTokensNativeCallEndsAndItsUpstreamCallIsCancelled() throws Exception {
    File tokens = new File(Files.createTempDirectory("tokens").toFile(), "tokens.txt");
    Files.writeString(tokens.toPath(), "alpha-t0ken alice\nbravo-t0ken bob\n");
    try (UpstreamReplicas.JavaReplica replica = new UpstreamReplicas.JavaReplica("java")) {
      jar = TunnelServerJar.start("--port", "0", "--upstream", replica.address(), "--auth-tokens",
          tokens.getPath());
      jar.awaitUrl();
      ManagedChannel connection = nativeConnection(jar.port());
      OpenCall<?, ?> alice = OpenCall.echoBidi(withToken(connection, "alpha-t0ken"));
      alice.ping();
      OpenCall<?, ?> bob = OpenCall.echoBidi(withToken(connection, "bravo-t0ken"));
      bob.ping();

      UpstreamReplicas.writeList(tokens.toPath(), List.of("bravo-t0ken bob"));
      assertRevoked(alice.end);
      replica.cancelled.awaitAtLeast(1, "upstream calls cancelled"); // the proxy's handler saw it cancelled
      bob.ping();
      bob.requests.onCompleted();
      assertEquals(Status.OK, bob.end.get(30, TimeUnit.SECONDS));
      assertEquals(1, replica.cancelled.get(), "only alice's upstream call was cancelled");
    }
  }

  /** What an Echo bidi handler saw of its call: its context cancelled, its onCancel, and sends that failed. */
  private static final class SeenByHandler {
    final CountDownLatch contextCancelled = new CountDownLatch(1);
    final CountDownLatch onCancel = new CountDownLatch(1);
    volatile Throwable sendFailed;
  }

  @Test
  void theLibraryEndsARevokedTokensNativeCallAndItsHandlerSeesItCancelled() throws Exception {
    AtomicReference<Map<String, String>> current = new AtomicReference<>(
        Map.of("alpha-t0ken", "alice", "bravo-t0ken", "bob"));
    BearerTokens bearer = BearerTokens.from(current::get);
    Map<Object, SeenByHandler> seen = new ConcurrentHashMap<>();
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.newBuilder().nativeGrpc(true)
            .access(AccessPolicy.newBuilder().authenticator(bearer).build()).build())
        .addService(new EchoGrpc.EchoImplBase() {
          @Override
          public StreamObserver<EchoRequest> bidi(StreamObserver<EchoResponse> responses) {
            SeenByHandler handler = new SeenByHandler();
            seen.put(TunnelPrincipal.current(), handler);
            ServerCallStreamObserver<EchoResponse> call = (ServerCallStreamObserver<EchoResponse>) responses;
            call.setOnCancelHandler(handler.onCancel::countDown);
            Context.current().addListener(c -> handler.contextCancelled.countDown(), Runnable::run);
            return new StreamObserver<EchoRequest>() {
              @Override
              public void onNext(EchoRequest value) {
                try {
                  responses.onNext(EchoResponse.newBuilder().setPayload(value.getPayload()).build());
                } catch (RuntimeException e) {
                  handler.sendFailed = e;
                }
              }

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onCompleted() {
                responses.onCompleted();
              }
            };
          }
        })
        .build().start();
    try {
      ManagedChannel connection = nativeConnection(((InetSocketAddress) server.getListenSockets().get(0)).getPort());
      OpenCall<?, ?> alice = OpenCall.echoBidi(withToken(connection, "alpha-t0ken"));
      alice.ping();
      OpenCall<?, ?> bob = OpenCall.echoBidi(withToken(connection, "bravo-t0ken"));
      bob.ping();
      assertEquals(0, bearer.refresh(), "nothing changed");

      current.set(Map.of("bravo-t0ken", "bob"));
      assertEquals(1, bearer.refresh(), "alice's call is being ended");
      assertRevoked(alice.end);
      SeenByHandler aliceHandler = seen.get("alice");
      assertTrue(aliceHandler.contextCancelled.await(5, TimeUnit.SECONDS), "the handler's context is cancelled");
      assertTrue(aliceHandler.onCancel.await(5, TimeUnit.SECONDS), "the handler's onCancel ran");
      bob.ping(); // the other call on the same connection goes on
      bob.ping();
      assertEquals(1, seen.get("bob").contextCancelled.getCount());
      bob.requests.onCompleted();
      assertEquals(Status.OK, bob.end.get(30, TimeUnit.SECONDS));
      assertEquals(null, aliceHandler.sendFailed, "the handler's sends after the revocation failed");
      current.set(Map.of());
      assertEquals(0, bearer.refresh(), "ended calls are forgotten");
    } finally {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /**
   * Writes {@code text} over the start of {@code file} without truncating it first, as an editor saving in place
   * does: {@code Files.writeString} truncates and then writes, and a check of the file in between reads an empty
   * file, which revokes every token (bob's tunnel too).
   */
  private static void overwrite(File file, String text) throws IOException {
    try (FileChannel out = FileChannel.open(file.toPath(), StandardOpenOption.WRITE)) {
      out.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), 0);
    }
  }

  private static int count(String text, String part) {
    return text.split(java.util.regex.Pattern.quote(part), -1).length - 1;
  }

  /** Relay mode, which reads no call, closes the tunnels of a revoked token with 1008 as the other modes do. */
  @Test
  void inRelayModeARevokedTokensTunnelIsClosedWith1008() throws Exception {
    UpstreamReplicas.JavaReplica replica = new UpstreamReplicas.JavaReplica("java");
    try {
      File tokens = new File(Files.createTempDirectory("tokens").toFile(), "tokens.txt");
      Files.writeString(tokens.toPath(), "alpha-t0ken alice\nbravo-t0ken bob\n");
      jar = TunnelServerJar.start("--port", "0", "--mode", "relay", "--upstream", replica.address(),
          "--no-native-grpc", "--auth-tokens", tokens.getPath());
      String url = jar.awaitUrl();
      OpenCall<?, ?> alice = OpenCall.echoBidi(channel(url, "alpha-t0ken"));
      alice.ping();
      OpenCall<?, ?> bob = OpenCall.echoBidi(channel(url, "bravo-t0ken"));
      bob.ping();
      Files.writeString(tokens.toPath(), "bravo-t0ken bob\n");
      assertClosedWith1008(alice.awaitEnd());
      bob.ping(); // bob's tunnel, whose token did not change, stays open
    } finally {
      replica.close();
    }
  }

  @Test
  void revokedTokensCloseTheirTunnelsWith1008AndAnEmptiedOrDeletedFileRefusesEveryone() throws Exception {
    File tokens = new File(Files.createTempDirectory("tokens").toFile(), "tokens.txt");
    Files.writeString(tokens.toPath(), "alpha-t0ken alice\nbravo-t0ken bob\n");
    jar = TunnelServerJar.start("--port", "0", "--auth-tokens", tokens.getPath());
    String url = jar.awaitUrl();
    OpenCall<?, ?> alice = OpenCall.fullDuplex(channel(url, "alpha-t0ken"));
    alice.ping();
    OpenCall<?, ?> bob = OpenCall.fullDuplex(channel(url, "bravo-t0ken"));
    bob.ping();

    // alice's token changes in place: same length, and the modification time put back as it was.
    FileTime mtime = Files.getLastModifiedTime(tokens.toPath());
    long length = tokens.length();
    overwrite(tokens, "alpha-t0kem alice\nbravo-t0ken bob\n");
    Files.setLastModifiedTime(tokens.toPath(), mtime);
    assertEquals(length, tokens.length());
    assertClosedWith1008(alice.awaitEnd());
    assertFalse(serves(channel(url, "alpha-t0ken")), "the revoked token opens no new tunnel");
    assertTrue(serves(channel(url, "alpha-t0kem")), "its replacement does");
    bob.ping(); // bob's tunnel, whose token did not change, stays open
    jar.awaitLog("close=server/1008");

    // An emptied file: no token is valid.
    Files.writeString(tokens.toPath(), "");
    assertClosedWith1008(bob.awaitEnd());
    assertFalse(serves(channel(url, "bravo-t0ken")));
    jar.awaitLog("No bearer token is valid now");

    // Tokens again, then the file deleted: everyone refused, and an ERROR says why.
    int loaded = count(jar.stderr(), "Loaded the new bearer tokens");
    UpstreamReplicas.writeList(tokens.toPath(), List.of("charlie-t0ken carol"));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (count(jar.stderr(), "Loaded the new bearer tokens") == loaded) {
      assertTrue(System.nanoTime() < deadline, "charlie's token was not loaded within 60 s:\n" + jar.stderr());
      Thread.sleep(20); // the jar's log is a file: poll it, as TunnelServerJar.awaitLog does
    }
    OpenCall<?, ?> carol = OpenCall.fullDuplex(channel(url, "charlie-t0ken"));
    carol.ping();
    assertTrue(tokens.delete());
    assertClosedWith1008(carol.awaitEnd());
    assertFalse(serves(channel(url, "charlie-t0ken")));
    jar.awaitLog("cannot be loaded (missing: ");
    assertFalse(jar.stderr().contains("t0ke"), "tokens never reach the logs:\n" + jar.stderr());
  }
}
