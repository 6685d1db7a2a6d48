package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.it.UpstreamReplicas.JavaReplica;
import dev.wsgrpc.it.UpstreamReplicas.PythonReplica;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ClientInterceptors;
import io.grpc.InternalMetadata;
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
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.File;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proxy mode ({@code --mode proxy}, the default): the gateway ends each tunnel's HTTP/2 with grpc-java's server and
 * forwards every call over one grpc-java channel, balanced {@code round_robin} over every upstream address with
 * {@code grpc.health.v1} checks. Real processes: the jar, Python grpcio replicas, and grpc-java replicas in this JVM.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class ProxyModeTest {

  private final Closer closer = new Closer();
  private TunnelServerJar jar;

  @AfterEach
  void stop() throws Exception {
    closer.close();
    if (jar != null) {
      jar.close();
    }
  }

  private ManagedChannel channel(String url) {
    return closer.add(WebSocketChannels.newChannel(url));
  }

  private String metrics() throws Exception {
    return jar.metrics(jar.port());
  }

  @Test
  void callsOnOneTunnelSpreadEvenlyOverThreeReplicasAndANewlyListedReplicaGetsCallsWithoutAReconnect()
      throws Exception {
    JavaReplica a = closer.add(new JavaReplica("java-a"));
    JavaReplica b = closer.add(new JavaReplica("java-b"));
    PythonReplica c = closer.add(new PythonReplica("python-c"));
    Path list = Files.createTempDirectory("proxy").resolve("upstreams.txt");
    UpstreamReplicas.writeList(list, List.of(a.address(), b.address(), c.address()));
    jar = TunnelServerJar.start("--port", "0", "--upstream-file", list.toString(), "--upstream-refresh", "1s");
    ManagedChannel channel = channel(jar.awaitUrl());

    // Until every replica has passed its health check and joined the rotation.
    Map<String, Integer> seen = new HashMap<>();
    for (int i = 0; i < 200 && seen.size() < 3; i++) {
      seen.merge(UpstreamReplicas.replicaOf(channel), 1, Integer::sum);
    }
    assertEquals(3, seen.size(), "replicas reached while warming up: " + seen);

    Map<String, Integer> counts = new HashMap<>();
    for (int i = 0; i < 300; i++) {
      counts.merge(UpstreamReplicas.replicaOf(channel), 1, Integer::sum);
    }
    for (String replica : List.of("java-a", "java-b", "python-c")) {
      int n = counts.getOrDefault(replica, 0);
      assertTrue(n >= 80 && n <= 120, replica + " got " + n + " of 300 calls (expected 100 +- 20 %): " + counts);
    }

    JavaReplica d = closer.add(new JavaReplica("java-d"));
    UpstreamReplicas.writeList(list, List.of(a.address(), b.address(), c.address(), d.address()));
    long start = System.nanoTime();
    boolean reached = false;
    for (int i = 0; i < 2_000 && !reached; i++) {
      reached = "java-d".equals(UpstreamReplicas.replicaOf(channel));
    }
    assertTrue(reached, "the replica added to the list got no call");
    long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
    assertTrue(seconds <= 10, "the new replica got its first call after " + seconds + " s (refresh: 1 s)");
    assertTrue(metrics().contains("wsgrpc_tunnels_total 1.0"), "one tunnel, never reconnected:\n" + metrics());
  }

  @Test
  void aKilledReplicaFailsItsCallsFastLaterCallsSucceedAndRetryingClientsSeeNoFailure() throws Exception {
    JavaReplica a = closer.add(new JavaReplica("java-a"));
    JavaReplica b = closer.add(new JavaReplica("java-b"));
    PythonReplica victim = closer.add(new PythonReplica("python-victim"));
    jar = TunnelServerJar.start("--port", "0", "--upstream",
        a.address() + "," + b.address() + "," + victim.address());
    String url = jar.awaitUrl();
    ManagedChannel plain = channel(url);
    Map<String, Integer> seen = new HashMap<>();
    for (int i = 0; i < 200 && seen.size() < 3; i++) {
      seen.merge(UpstreamReplicas.replicaOf(plain), 1, Integer::sum);
    }
    assertEquals(3, seen.size(), "replicas reached while warming up: " + seen);

    // A client with a retry policy on UNAVAILABLE, calling throughout.
    Map<String, Object> retry = Map.of("methodConfig", List.of(Map.of(
        "name", List.of(Map.of("service", "wsgrpc.testing.Echo")),
        "retryPolicy", Map.of("maxAttempts", 5.0, "initialBackoff", "0.05s", "maxBackoff", "0.5s",
            "backoffMultiplier", 2.0, "retryableStatusCodes", List.of("UNAVAILABLE")))));
    ManagedChannel retrying = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url).build())
        .defaultServiceConfig(retry).enableRetry().build();
    closer.add(retrying);
    ExecutorService pool = Executors.newCachedThreadPool();
    closer.add(pool::shutdownNow);
    AtomicInteger retryingFailures = new AtomicInteger();
    AtomicInteger retryingCalls = new AtomicInteger();
    CompletableFuture<Void> stopRetrying = new CompletableFuture<>();
    closer.add(() -> stopRetrying.complete(null)); // however the test ends: the loop must not outlive it
    CompletableFuture<Void> retryLoop = CompletableFuture.runAsync(() -> {
      while (!stopRetrying.isDone()) {
        AtomicReference<Status> status = new AtomicReference<>();
        UpstreamReplicas.call(retrying, EchoService.payload(8).toBuilder().setDelayMs(50).build(), 30_000, status);
        retryingCalls.incrementAndGet();
        if (!status.get().isOk()) {
          retryingFailures.incrementAndGet();
        }
      }
    }, pool);

    // Slow calls in flight on every replica, then the Python one is killed.
    int slow = 12;
    List<CompletableFuture<Status>> inFlight = new ArrayList<>();
    List<CompletableFuture<Long>> endedAt = new ArrayList<>();
    for (int i = 0; i < slow; i++) {
      CompletableFuture<Long> end = new CompletableFuture<>();
      endedAt.add(end);
      inFlight.add(CompletableFuture.supplyAsync(() -> {
        AtomicReference<Status> status = new AtomicReference<>();
        UpstreamReplicas.call(plain, EchoService.payload(8).toBuilder().setDelayMs(4_000).build(), 60_000, status);
        end.complete(System.nanoTime());
        return status.get();
      }, pool));
    }
    int before = victim.callsStarted.get();
    victim.awaitCallsStarted(before + 1);
    long killedAt = System.nanoTime();
    victim.kill();

    int unavailable = 0;
    for (int i = 0; i < slow; i++) {
      Status status = inFlight.get(i).get(60, TimeUnit.SECONDS);
      if (status.getCode() == Status.Code.UNAVAILABLE) {
        unavailable++;
        long ms = TimeUnit.NANOSECONDS.toMillis(endedAt.get(i).get() - killedAt);
        assertTrue(ms <= 2_000, "a call on the killed replica failed after " + ms + " ms (expected <= 2 s)");
      } else {
        assertEquals(Status.Code.OK, status.getCode(), status.toString());
      }
    }
    assertTrue(unavailable >= 1, "no call was in flight on the killed replica");

    // Every call from now on reaches a live replica.
    for (int i = 0; i < 100; i++) {
      String replica = UpstreamReplicas.replicaOf(plain);
      assertTrue(replica.startsWith("java-"), replica);
    }
    stopRetrying.complete(null);
    retryLoop.get(60, TimeUnit.SECONDS);
    assertTrue(retryingCalls.get() > 0);
    assertEquals(0, retryingFailures.get(), "failed calls of the retrying client, of " + retryingCalls.get());
  }

  @Test
  void aReplicaAnsweringNotServingStopsGettingCalls() throws Exception {
    JavaReplica a = closer.add(new JavaReplica("java-a"));
    JavaReplica b = closer.add(new JavaReplica("java-b"));
    jar = TunnelServerJar.start("--port", "0", "--upstream", a.address() + "," + b.address());
    ManagedChannel channel = channel(jar.awaitUrl());
    Map<String, Integer> seen = new HashMap<>();
    for (int i = 0; i < 200 && seen.size() < 2; i++) {
      seen.merge(UpstreamReplicas.replicaOf(channel), 1, Integer::sum);
    }
    assertEquals(2, seen.size(), "replicas reached while warming up: " + seen);

    b.serving(false);
    // The health watch reports it within moments; calls already picked may still land there meanwhile.
    int sinceLastB = 0;
    for (int i = 0; i < 5_000 && sinceLastB < 50; i++) {
      sinceLastB = "java-b".equals(UpstreamReplicas.replicaOf(channel)) ? 0 : sinceLastB + 1;
    }
    assertEquals(50, sinceLastB, "java-b kept getting calls after answering NOT_SERVING");
    for (int i = 0; i < 100; i++) {
      assertEquals("java-a", UpstreamReplicas.replicaOf(channel));
    }
  }

  /** Calls over {@code tunnels} tunnels in turn, one call each: Netty gives accepted connections its loops in turn. */
  private List<Status> callOverTunnels(String url, int tunnels) {
    List<Status> statuses = new ArrayList<>();
    for (int i = 0; i < tunnels; i++) {
      AtomicReference<Status> status = new AtomicReference<>();
      UpstreamReplicas.call(channel(url), EchoService.payload(1), 30_000, status);
      statuses.add(status.get());
    }
    return statuses;
  }

  /** The jar's WARN lines that contain {@code text}. */
  private List<String> warns(String text) {
    return jar.stderr().lines().filter(l -> l.contains(" WARN ") && l.contains(text)).collect(Collectors.toList());
  }

  @Test
  void aDeadUpstreamIsNamedInOneWarnForTheCallsOfEveryEventLoopAndEachLoopsFailedConnectionCounts()
      throws Exception {
    int dead = ExternalProgram.freePort();
    jar = TunnelServerJar.start("--port", "0", "--event-loop-threads", "4", "--upstream", "localhost:" + dead);
    String url = jar.awaitUrl();

    // Eight tunnels: two on each of the four loops, each loop with its own upstream channel.
    for (Status status : callOverTunnels(url, 8)) {
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    }
    // A call fails only once its channel has seen its connection fail, and that failure is counted first.
    String metrics = metrics();
    Matcher failures = Pattern.compile("(?m)^wsgrpc_upstream_connect_failures_total (\\S+)$").matcher(metrics);
    assertTrue(failures.find(), metrics);
    assertTrue(Double.parseDouble(failures.group(1)) >= 4, "one failure per loop at least:\n" + metrics);
    assertFalse(metrics.contains("wsgrpc_upstream_keepalive_failures_total"), "relay mode's only:\n" + metrics);
    assertFalse(metrics.contains("wsgrpc_relay_abusive_connections_total"), "relay mode's only:\n" + metrics);

    List<String> lines = warns("proxy mode: cannot connect to upstream localhost:" + dead + " (");
    // At most one line every 10 s, each later one saying how many were held back: one fresh line for every loop.
    List<String> fresh = lines.stream().filter(l -> !l.contains("more like this suppressed"))
        .collect(Collectors.toList());
    assertEquals(1, fresh.size(), jar.stderr());
    assertTrue(fresh.get(0).endsWith("): Connection refused"), fresh.get(0));
    assertFalse(jar.stderr().contains("\tat "), "no stack trace:\n" + jar.stderr());
  }

  @Test
  void anUpstreamWhoseCertificateIsNotTrustedIsNamedInAWarnWithTheFailedTlsHandshake() throws Exception {
    TestCertificates certs = TestCertificates.create();
    Server upstream = closer.add(NettyServerBuilder.forPort(0)
        .sslContext(GrpcSslContexts.forServer(certs.serverCertPem(), certs.serverKeyPem()).build())
        .addService(new EchoService())
        .build().start());
    int port = ((InetSocketAddress) upstream.getListenSockets().get(0)).getPort();
    // --upstream-tls without --upstream-trust-cert: the JDK's CAs, which never signed the test CA.
    jar = TunnelServerJar.start("--port", "0", "--upstream", "localhost:" + port, "--upstream-tls");

    for (Status status : callOverTunnels(jar.awaitUrl(), 2)) {
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    }
    List<String> lines = warns("proxy mode: cannot connect to upstream localhost:" + port + " (");
    assertEquals(1, lines.size(), jar.stderr());
    // The JDK's own words follow (from Java 25 with the alert first: "(certificate_unknown) PKIX path ...").
    String line = lines.get(0);
    assertTrue(line.contains("): TLS handshake failed: ") && line.contains("PKIX path building failed"), line);
  }

  @Test
  void aBadUpstreamFileIsOneWarnForTheResolversOfEveryEventLoopAndGrpcsOwnLinesStayOut() throws Exception {
    Path list = Files.createTempDirectory("proxy").resolve("upstreams.txt");
    Files.write(list, List.of("# the replicas", "grpc-1.internal"));
    jar = TunnelServerJar.start("--port", "0", "--event-loop-threads", "4", "--upstream-file", list.toString());

    for (Status status : callOverTunnels(jar.awaitUrl(), 8)) {
      // The reason is the resolver's own: every loop's resolver has read the file and reported it first.
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
      assertTrue(status.getDescription().contains("no upstream address: --upstream-file " + list),
          status.toString());
    }
    assertEquals(1, warns("--upstream-file " + list).size(), jar.stderr());
    assertFalse(jar.stderr().contains("Failed to resolve name"), jar.stderr());
    assertFalse(jar.stderr().contains("ManagedChannelImpl"), jar.stderr());
  }

  @Test
  void upstreamsLearnTheCallersAddressPrincipalAndTransportAndCallersCannotForgeThem() throws Exception {
    JavaReplica java = closer.add(new JavaReplica("java"));
    PythonReplica python = closer.add(new PythonReplica("python"));
    TestCertificates certs = TestCertificates.create();
    File tokens = File.createTempFile("tokens", ".txt");
    tokens.deleteOnExit();
    Files.write(tokens.toPath(), List.of("s3cr3t alice"));

    // wss, with a bearer token; forged headers in the call.
    jar = TunnelServerJar.start("--port", "0", "--upstream", java.address() + "," + python.address(),
        "--tls-cert", certs.serverCertPem().getPath(), "--tls-key", certs.serverKeyPem().getPath(),
        "--auth-tokens", tokens.getPath());
    String url = jar.awaitUrl();
    ManagedChannel wss = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
        .tls(ClientTls.trusting(certs.caPem())).header("Authorization", "Bearer s3cr3t").build()).build();
    closer.add(wss);
    ManagedChannel nativeTls = NettyChannelBuilder.forAddress("localhost", jar.port())
        .sslContext(GrpcSslContexts.forClient().trustManager(certs.caPem()).build()).build();
    closer.add(nativeTls);
    // Native calls need the token too (per call, as metadata): without it, refused before the upstream.
    AtomicReference<Status> refused = new AtomicReference<>();
    UpstreamReplicas.call(nativeTls, EchoService.payload(4), 30_000, refused);
    assertEquals(Status.Code.UNAUTHENTICATED, refused.get().getCode(), refused.get().toString());
    Metadata token = new Metadata();
    token.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer s3cr3t");
    // A tunnel call's own authorization (a token for the upstream) is the caller's, forwarded as it came.
    Metadata upstreamToken = new Metadata();
    upstreamToken.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer for-the-upstream");
    for (int i = 0; i < 4; i++) { // both replicas, in turn
      Metadata wssSeen = UpstreamReplicas.forgedCall(wss, upstreamToken);
      assertEquals("Bearer for-the-upstream", wssSeen.get(UpstreamReplicas.seen("authorization")), wssSeen.toString());
      assertEquals("127.0.0.1", wssSeen.get(UpstreamReplicas.seen("wsgrpc-client-address")), wssSeen.toString());
      assertEquals("alice", wssSeen.get(UpstreamReplicas.seen("wsgrpc-principal")), wssSeen.toString());
      assertEquals("wss", wssSeen.get(UpstreamReplicas.seen("wsgrpc-transport")), wssSeen.toString());
      assertNull(wssSeen.get(UpstreamReplicas.seen("wsgrpc-forged")), wssSeen.toString());

      Metadata nativeSeen = UpstreamReplicas.forgedCall(nativeTls, token);
      assertEquals("127.0.0.1", nativeSeen.get(UpstreamReplicas.seen("wsgrpc-client-address")));
      assertEquals("alice", nativeSeen.get(UpstreamReplicas.seen("wsgrpc-principal")), nativeSeen.toString());
      assertEquals("native", nativeSeen.get(UpstreamReplicas.seen("wsgrpc-transport")), nativeSeen.toString());
      // The gateway's own token, checked, goes no further: upstreams never hold a credential that opens the gateway.
      assertNull(nativeSeen.get(UpstreamReplicas.seen("authorization")), nativeSeen.toString());
    }
    jar.close();

    // ws, behind a trusted proxy that names the client.
    jar = TunnelServerJar.start("--port", "0", "--upstream", java.address(), "--trusted-proxies", "127.0.0.1/32");
    ManagedChannel ws = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(jar.awaitUrl())
        .header("X-Forwarded-For", "198.51.100.7").build()).build();
    closer.add(ws);
    Metadata wsSeen = forgedCall(ws);
    assertEquals("198.51.100.7", wsSeen.get(UpstreamReplicas.seen("wsgrpc-client-address")), wsSeen.toString());
    assertNull(wsSeen.get(UpstreamReplicas.seen("wsgrpc-principal")), wsSeen.toString());
    assertEquals("ws", wsSeen.get(UpstreamReplicas.seen("wsgrpc-transport")), wsSeen.toString());
  }

  /**
   * A gRPC-Web call passes the same checks as a tunnel's and a native one's: it needs the gateway's token, which goes
   * no further, and the caller metadata the upstream reads is the gateway's, whatever the request forged.
   */
  @Test
  void aGrpcWebCallNeedsTheTokenWhichStopsAtTheGatewayAndCannotForgeTheCallerMetadata() throws Exception {
    JavaReplica replica = closer.add(new JavaReplica("java"));
    File tokens = File.createTempFile("tokens", ".txt");
    tokens.deleteOnExit();
    Files.write(tokens.toPath(), List.of("s3cr3t alice"));
    jar = TunnelServerJar.start("--port", "0", "--upstream", replica.address(), "--auth-tokens", tokens.getPath(),
        "--browser-origins", "*");
    jar.awaitUrl();
    byte[] body = grpcWebBody(EchoService.payload(4));
    String forged = "wsgrpc-principal: root\r\nwsgrpc-transport: forged\r\nwsgrpc-client-address: 10.6.6.6\r\n"
        + "wsgrpc-forged: yes\r\n";
    String head = "POST /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n" + forged;
    try (RawHttp.KeptAlive browser = new RawHttp.KeptAlive(jar.port())) {
      RawHttp.Answer refused = browser.send(head + "Content-Length: " + body.length + "\r\n\r\n", body);
      // A trailers-only answer, the status in the headers; the connection is closed after it.
      assertEquals("16", refused.headers.get("grpc-status"), "UNAUTHENTICATED without the token: " + refused.headers);
      assertEquals(0, replica.started.get(), "the refused call never reached the upstream");
    }
    try (RawHttp.KeptAlive browser = new RawHttp.KeptAlive(jar.port())) {
      String answer = browser.send(head + "Authorization: Bearer s3cr3t\r\nContent-Length: " + body.length
          + "\r\n\r\n", body).bodyText();
      assertTrue(answer.contains("grpc-status: 0\r\n"), answer);
      assertTrue(answer.contains("seen-wsgrpc-principal: alice\r\n"), answer);
      assertTrue(answer.contains("seen-wsgrpc-transport: grpc-web\r\n"), answer);
      assertTrue(answer.contains("seen-wsgrpc-client-address: 127.0.0.1\r\n"), answer);
      assertFalse(answer.contains("seen-wsgrpc-forged"), answer);
      assertFalse(answer.contains("seen-authorization"), "the gateway's token goes no further: " + answer);
    }
  }

  @Test
  void headerNamesThatGrpcKeysRefuseAreStrippedOrForwardedWithoutFailingTheCall() throws Exception {
    // HTTP/2 allows '!' or '~' in a header name; grpc-java's Metadata.Key does not. Such a name once made the
    // gateway's start of the call throw: UNKNOWN for the caller, a stack trace per call, a call in flight for good.
    JavaReplica java = closer.add(new JavaReplica("java"));
    File tokens = File.createTempFile("tokens", ".txt");
    tokens.deleteOnExit();
    Files.write(tokens.toPath(), List.of("s3cr3t alice"));
    jar = TunnelServerJar.start("--port", "0", "--upstream", java.address(), "--auth-tokens", tokens.getPath());
    jar.awaitUrl();
    ManagedChannel h2c = closer.add(NettyChannelBuilder.forAddress("127.0.0.1", jar.port()).usePlaintext().build());
    Metadata odd = InternalMetadata.newMetadata(
        "wsgrpc-forged!".getBytes(StandardCharsets.US_ASCII), "yes".getBytes(StandardCharsets.US_ASCII),
        "x-odd~".getBytes(StandardCharsets.US_ASCII), "kept".getBytes(StandardCharsets.US_ASCII));
    // Without the token: refused as unauthenticated, the odd name notwithstanding.
    AtomicReference<Status> refused = new AtomicReference<>();
    UpstreamReplicas.call(ClientInterceptors.intercept(h2c, MetadataUtils.newAttachHeadersInterceptor(odd)),
        EchoService.payload(4), 30_000, refused);
    assertEquals(Status.Code.UNAUTHENTICATED, refused.get().getCode(), refused.get().toString());
    // With it: forwarded, the reserved name stripped (the replica reads every wsgrpc-* name with a Key).
    Metadata extra = new Metadata();
    extra.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer s3cr3t");
    extra.merge(odd);
    Metadata seen = UpstreamReplicas.forgedCall(h2c, extra);
    assertEquals("alice", seen.get(UpstreamReplicas.seen("wsgrpc-principal")), seen.toString());
    assertEquals("native", seen.get(UpstreamReplicas.seen("wsgrpc-transport")), seen.toString());
    // No call left in flight (counted once each status has left, so a scrape right after may see one still).
    jar.awaitMetrics(jar.port(), m -> m.contains("\ngrpc_server_calls_in_flight 0.0\n"));
    assertFalse(jar.stderr().contains("Exception"), jar.stderr());
  }

  @Test
  void forwardingHeadersTheClientSentEndWithTheAddressTheGatewayEstablished() throws Exception {
    // An upstream that trusts the gateway as its proxy takes the right-most X-Forwarded-For entry, Forwarded's last
    // for= or X-Real-IP. Inside a tunnel, over native gRPC and from a browser, all three are the client's to write.
    JavaReplica replica = closer.add(new JavaReplica("java"));
    jar = TunnelServerJar.start("--port", "0", "--upstream", replica.address(), "--browser-origins", "*");
    ManagedChannel ws = channel(jar.awaitUrl());
    ManagedChannel h2c = closer.add(NettyChannelBuilder.forAddress("127.0.0.1", jar.port()).usePlaintext().build());
    Metadata forged = new Metadata();
    forged.put(ascii("x-forwarded-for"), "10.6.6.6");
    forged.put(ascii("x-forwarded-for"), "10.6.6.7, 10.6.6.8");
    forged.put(ascii("forwarded"), "for=10.6.6.6;proto=https");
    forged.put(ascii("x-real-ip"), "10.6.6.6");
    for (ManagedChannel channel : List.of(ws, h2c)) {
      Metadata seen = UpstreamReplicas.forgedCall(channel, forged);
      assertEquals(List.of("10.6.6.6, 10.6.6.7, 10.6.6.8, 127.0.0.1"), seen(seen, "x-forwarded-for"), seen.toString());
      assertEquals(List.of("for=10.6.6.6;proto=https, for=127.0.0.1"), seen(seen, "forwarded"), seen.toString());
      assertEquals(List.of("127.0.0.1"), seen(seen, "x-real-ip"), seen.toString());
    }
    // A call without them: X-Forwarded-For and X-Real-IP are made; Forwarded is only appended to.
    Metadata plain = UpstreamReplicas.forgedCall(h2c, new Metadata());
    assertEquals(List.of("127.0.0.1"), seen(plain, "x-forwarded-for"), plain.toString());
    assertEquals(List.of(), seen(plain, "forwarded"), plain.toString());
    assertEquals(List.of("127.0.0.1"), seen(plain, "x-real-ip"), plain.toString());
    // gRPC-Web: the request's own headers become the call's metadata.
    byte[] body = grpcWebBody(EchoService.payload(4));
    try (RawHttp.KeptAlive browser = new RawHttp.KeptAlive(jar.port())) {
      String answer = browser.send("POST /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nX-Forwarded-For: 10.6.6.6\r\n"
          + "Forwarded: for=10.6.6.6\r\nX-Real-IP: 10.6.6.6\r\nContent-Length: " + body.length + "\r\n\r\n", body)
          .bodyText();
      assertTrue(answer.contains("grpc-status: 0\r\n"), answer);
      assertTrue(answer.contains("seen-x-forwarded-for: 10.6.6.6, 127.0.0.1\r\n"), answer);
      assertTrue(answer.contains("seen-forwarded: for=10.6.6.6, for=127.0.0.1\r\n"), answer);
      assertTrue(answer.contains("seen-x-real-ip: 127.0.0.1\r\n"), answer);
    }
    jar.close();

    // Behind a trusted proxy that named an IPv6 client in the tunnel's upgrade: that address, bracketed in Forwarded.
    jar = TunnelServerJar.start("--port", "0", "--upstream", replica.address(), "--trusted-proxies", "127.0.0.1/32");
    ManagedChannel proxied = closer.add(WebSocketChannels.newChannelBuilder(
        WebSocketClientOptions.newBuilder(jar.awaitUrl()).header("X-Forwarded-For", "2001:db8::7").build()).build());
    Metadata seen = UpstreamReplicas.forgedCall(proxied, forged);
    String client = seen.get(UpstreamReplicas.seen("wsgrpc-client-address"));
    assertEquals("2001:db8:0:0:0:0:0:7", client, seen.toString());
    assertEquals(List.of("10.6.6.6, 10.6.6.7, 10.6.6.8, " + client), seen(seen, "x-forwarded-for"), seen.toString());
    assertEquals(List.of("for=10.6.6.6;proto=https, for=\"[" + client + "]\""), seen(seen, "forwarded"),
        seen.toString());
    assertEquals(List.of(client), seen(seen, "x-real-ip"), seen.toString());
  }

  /** A gRPC-Web request body: {@code request} as one uncompressed message. */
  private static byte[] grpcWebBody(com.google.protobuf.MessageLite request) {
    byte[] bytes = request.toByteArray();
    return java.nio.ByteBuffer.allocate(5 + bytes.length).put((byte) 0).putInt(bytes.length).put(bytes).array();
  }

  private static Metadata.Key<String> ascii(String name) {
    return Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER);
  }

  /** Every line of {@code header} the replica reported, in the order it received them. */
  private static List<String> seen(Metadata report, String header) {
    List<String> lines = new ArrayList<>();
    Iterable<String> values = report.getAll(UpstreamReplicas.seen(header));
    if (values != null) {
      values.forEach(lines::add);
    }
    return lines;
  }

  /** A call that tries to forge every caller header; returns the replica's report of what it saw. */
  private static Metadata forgedCall(ManagedChannel channel) {
    return UpstreamReplicas.forgedCall(channel, new Metadata());
  }

  @Test
  void deadlinesCancellationAndUpstreamAbortsCrossTheProxy() throws Exception {
    JavaReplica replica = closer.add(new JavaReplica("java"));
    jar = TunnelServerJar.start("--port", "0", "--upstream", replica.address());
    ManagedChannel channel = channel(jar.awaitUrl());
    UpstreamReplicas.replicaOf(channel); // connected

    // The caller's 30 s reach the upstream as at most 30 s.
    AtomicReference<Status> status = new AtomicReference<>();
    Metadata trailers = UpstreamReplicas.call(channel, EchoService.payload(1), 30_000, status);
    assertEquals(Status.Code.OK, status.get().getCode(), status.get().toString());
    long seen = Long.parseLong(trailers.get(UpstreamReplicas.SEEN_TIMEOUT_MS));
    assertTrue(seen > 0 && seen <= 30_000, "the upstream saw " + seen + " ms left");

    // A deadline that passes while the upstream works ends the call DEADLINE_EXCEEDED, and the upstream's call too.
    // Long enough for the call to reach the upstream on a busy machine: one that expires before, it never sees.
    trailers = UpstreamReplicas.call(channel, EchoService.payload(1).toBuilder().setDelayMs(60_000).build(), 3_000,
        status);
    assertEquals(Status.Code.DEADLINE_EXCEEDED, status.get().getCode(), status.get().toString());
    replica.cancelled.awaitAtLeast(1, "upstream calls cancelled by the deadline");

    // A client cancel reaches the upstream's handler.
    int started = replica.started.get();
    io.grpc.Context.CancellableContext context = io.grpc.Context.current().withCancellation();
    CompletableFuture<Void> call = CompletableFuture.runAsync(() -> context.run(() -> {
      try {
        EchoGrpc.newBlockingStub(channel).unary(EchoService.payload(1).toBuilder().setDelayMs(30_000).build());
      } catch (StatusRuntimeException expected) {
        // cancelled
      }
    }));
    replica.started.awaitAtLeast(started + 1, "calls that reached the upstream");
    context.cancel(null);
    call.get(30, TimeUnit.SECONDS);
    replica.cancelled.awaitAtLeast(2, "upstream calls cancelled (the deadline's, then the client's)");

    // An upstream abort reaches the client with its code, description and trailers.
    trailers = UpstreamReplicas.call(channel, EchoRequest.newBuilder()
        .setPayload(ByteString.copyFromUtf8("no such order: 42"))
        .setFailWith(Status.Code.FAILED_PRECONDITION.value()).build(), 30_000, status);
    assertEquals(Status.Code.FAILED_PRECONDITION, status.get().getCode());
    assertEquals("no such order: 42", status.get().getDescription());
    assertEquals("java", trailers.get(UpstreamReplicas.REPLICA), trailers.toString());
  }

  @Test
  void compressedRequestsAndResponsesCrossTheProxyIntact() throws Exception {
    // An upstream that answers gzip-compressed, and reports the encoding each request arrived with.
    BlockingQueue<String> encodings = new LinkedBlockingQueue<>();
    Server upstream = NettyServerBuilder.forAddress(
        new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(new EchoGrpc.EchoImplBase() {
          @Override
          public void unary(EchoRequest request, StreamObserver<EchoResponse> out) {
            ((ServerCallStreamObserver<?>) out).setCompression("gzip");
            out.onNext(EchoResponse.newBuilder().setPayload(request.getPayload()).build());
            out.onCompleted();
          }
        }, new ServerInterceptor() {
          @Override
          public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call,
              Metadata headers, ServerCallHandler<ReqT, RespT> next) {
            String encoding = headers.get(Metadata.Key.of("grpc-encoding", Metadata.ASCII_STRING_MARSHALLER));
            encodings.add(encoding == null ? "identity" : encoding);
            return next.startCall(call, headers);
          }
        })).build().start();
    closer.add(upstream);
    jar = TunnelServerJar.start("--port", "0", "--upstream",
        "127.0.0.1:" + ((InetSocketAddress) upstream.getListenSockets().get(0)).getPort());
    ManagedChannel channel = channel(jar.awaitUrl());
    // A first call, whose answer tells the gateway that the upstream reads gzip (grpc-accept-encoding).
    EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoRequest.getDefaultInstance());
    assertEquals("identity", encodings.poll(30, TimeUnit.SECONDS));
    // Compressible and incompressible payloads, gzip and identity from the client.
    byte[] random = new byte[256 * 1024];
    new Random(7).nextBytes(random);
    for (byte[] bytes : List.of(new byte[256 * 1024], random)) {
      for (String compression : List.of("gzip", "identity")) {
        EchoRequest request = EchoRequest.newBuilder()
            .setPayload(ByteString.copyFrom(bytes)).build();
        assertEquals(request.getPayload(), EchoGrpc.newBlockingStub(channel).withCompression(compression)
            .withDeadlineAfter(30, TimeUnit.SECONDS).unary(request).getPayload());
        // The gateway reads messages as opaque bytes after grpc-java has decompressed them, and forwards gzip
        // messages gzip to an upstream that reads gzip, others whole: see docs/GATEWAY.md.
        assertEquals(compression, encodings.poll(30, TimeUnit.SECONDS));
      }
    }
  }

  @Test
  void aBrowserMessageThatDecompressesPastTheLimitIsRefusedResourceExhaustedSayingTheLimit() throws Exception {
    // A library server ends such a call 2 UNKNOWN (grpc-java's choice, BrowserStatusTest); proxy mode reads callers'
    // messages with its own marshaller, so a browser learns the limit (docs/BROWSERS.md). Zeros compress well: the
    // length prefix is far below --max-inbound-message, the message four times over it.
    JavaReplica replica = closer.add(new JavaReplica("java"));
    jar = TunnelServerJar.start("--port", "0", "--upstream", replica.address(), "--browser-origins", "*",
        "--max-inbound-message", "1024");
    jar.awaitUrl();
    java.io.ByteArrayOutputStream compressed = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream gzip = new java.util.zip.GZIPOutputStream(compressed)) {
      gzip.write(EchoService.payload(4096).toByteArray());
    }
    byte[] body = java.nio.ByteBuffer.allocate(5 + compressed.size()).put((byte) 1).putInt(compressed.size())
        .put(compressed.toByteArray()).array();
    try (RawHttp.KeptAlive browser = new RawHttp.KeptAlive(jar.port())) {
      RawHttp.Answer answer = browser.send("POST /wsgrpc.testing.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nGrpc-Encoding: gzip\r\n"
          + "Content-Length: " + body.length + "\r\n\r\n", body);
      String trailers = answer.headers + " " + answer.bodyText();
      assertEquals(200, answer.status, trailers);
      assertEquals("8", answer.headers.get("grpc-status"), trailers);
      assertEquals("expected a request message of at most 1024 bytes but it decompressed to more than 1024 bytes",
          java.net.URLDecoder.decode(answer.headers.get("grpc-message"), StandardCharsets.UTF_8), trailers);
    }
  }
}
