package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.interop.InteropCases;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.Observers;
import dev.wsgrpc.testing.RawTunnelClient;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.integration.Messages.ResponseParameters;
import io.grpc.testing.integration.Messages.StreamingOutputCallRequest;
import io.grpc.testing.integration.Messages.StreamingOutputCallResponse;
import io.grpc.testing.integration.TestServiceGrpc;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code java -jar tunnel-server.jar} started as a real process: options, demo mode, plain HTTP, drain, TLS. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class TunnelServerJarTest {

  private static final List<String> OPTIONS = Arrays.asList("--port", "--bind", "--path", "--upstream",
      "--upstream-tls", "--upstream-trust-cert", "--tls-cert", "--tls-key", "--drain-timeout", "--trusted-proxies",
      "--forwarded-header", "--handshake-timeout", "--max-inbound-frame", "--max-outbound-frame", "--auth-tokens",
      "--tls-client-ca", "--allowed-origins", "--allow-cross-site-credentials", "--max-tunnels",
      "--max-tunnels-per-client", "--max-handshakes-per-client", "--ipv6-client-prefix",
      "--max-request-headers", "--max-concurrent-streams", "--max-inbound-message", "--idle-timeout", "--native-grpc",
      "--mode", "--upstream-file", "--upstream-refresh", "--upstream-health-check", "--upstream-health-service",
      "--upstream-authority", "--upstream-client-cert", "--upstream-client-key", "--max-inbound-metadata",
      "--max-rst-frames", "--max-control-frames", "--upstream-keepalive", "--upstream-keepalive-timeout",
      "--event-loop-threads", "--max-pending-bytes", "--max-connection-age", "--browser-origins", "--browser-headers",
      "--browser-body-timeout", "--browser-keepalive-timeout", "--browser-send-timeout",
      "--admin-port", "--admin-address", "--admin-hosts", "--descriptor-set", "--reflection-refresh",
      "--health-file");

  /** The durations' defaults as docs/GATEWAY.md's option table writes them, and --help must: 5m, not 300s. */
  private static final Map<String, String> DURATION_DEFAULTS = Map.ofEntries(Map.entry("--drain-timeout", "30s"),
      Map.entry("--handshake-timeout", "10s"), Map.entry("--reflection-refresh", "5m"),
      Map.entry("--browser-body-timeout", "60s"), Map.entry("--browser-keepalive-timeout", "75s"),
      Map.entry("--browser-send-timeout", "60s"), Map.entry("--idle-timeout", "30m"),
      Map.entry("--upstream-refresh", "30s"), Map.entry("--upstream-keepalive", "5m"),
      Map.entry("--upstream-keepalive-timeout", "20s"), Map.entry("--max-connection-age", "0 (never)"));

  private static final String HELP_HINT = "Run 'java -jar tunnel-server.jar --help' for the options.";

  private final Closer closer = new Closer();
  private TunnelServerJar jar;
  private ManagedChannel channel;

  @AfterEach
  void stop() throws Exception {
    closer.close();
  }

  private static ManagedChannel tunnel(String url) {
    return WebSocketChannels.newChannel(url);
  }

  private static HealthCheckResponse.ServingStatus health(ManagedChannel channel) {
    return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .check(HealthCheckRequest.getDefaultInstance()).getStatus();
  }

  /** GET on the jar's port; returns "STATUS body". */
  private static String get(int port, String path) throws Exception {
    return get(port, path, null);
  }

  /** GET on the jar's port with this {@code Authorization} (none if null); returns "STATUS body". */
  private static String get(int port, String path, String authorization) throws Exception {
    HttpURLConnection c = (HttpURLConnection) new URL("http://127.0.0.1:" + port + path).openConnection();
    if (authorization != null) {
      c.setRequestProperty("Authorization", authorization);
    }
    c.setConnectTimeout(30_000);
    c.setReadTimeout(30_000);
    int status = c.getResponseCode();
    byte[] body = (status < 400 ? c.getInputStream() : c.getErrorStream()).readAllBytes();
    return status + " " + new String(body, StandardCharsets.UTF_8);
  }

  @Test
  void helpDocumentsEveryOptionWithItsDefaultAndVariable() throws Exception {
    jar = closer.add(TunnelServerJar.start("--help"));
    assertEquals(0, jar.awaitExit(Duration.ofSeconds(60)));
    String help = jar.stdout().replaceAll("\\s+", " ");
    for (String option : OPTIONS) {
      String variable = "TUNNEL_" + option.substring(2).replace('-', '_').toUpperCase();
      assertTrue(help.contains(option) || help.contains("--[no-]" + option.substring(2)),
          option + " missing from --help:\n" + jar.stdout());
      assertTrue(help.contains("Env: " + variable), variable + " missing from --help:\n" + jar.stdout());
    }
    assertEquals(OPTIONS.size(), help.split("Default: ", -1).length - 1, "every option states its default");
    for (Map.Entry<String, String> duration : DURATION_DEFAULTS.entrySet()) {
      // The option's description (the usage line above has it in brackets), then its default up to the full stop.
      int description = help.indexOf(" " + duration.getKey() + "=DURATION ");
      int shown = help.indexOf("Default: ", description) + "Default: ".length();
      assertEquals(duration.getValue(), help.substring(shown, help.indexOf(". ", shown)), duration.getKey());
    }
  }

  @Test
  void badOptionsExit2NamingTheOption() throws Exception {
    Map<String, String> cases = Map.of(
        "--bogus", "Unknown option: '--bogus'",
        "--port=abc", "Invalid value for option '--port': 'abc' is not an int",
        "--drain-timeout=soon", "'soon' is not a duration",
        "--tls-cert=/tmp/x.pem", "--tls-cert and --tls-key go together",
        "--upstream=nohost", "--upstream: nohost (expected: HOST:PORT)",
        "--trusted-proxies=proxy.example.com", "--trusted-proxies: proxy.example.com (expected: an IP address",
        "--max-tunnels=0", "--max-tunnels: 0 (expected: > 0)",
        "--max-inbound-frame=0", "--max-inbound-frame: 0 (expected: > 0)",
        "--ipv6-client-prefix=0", "--ipv6-client-prefix: 0 (expected: 1 to 128)",
        "--forwarded-header=X-Real-IP", "--forwarded-header: X-Real-IP (expected: X-Forwarded-For or Forwarded)");
    for (Map.Entry<String, String> c : cases.entrySet()) {
      try (TunnelServerJar bad = TunnelServerJar.start(c.getKey())) {
        assertEquals(2, bad.awaitExit(Duration.ofSeconds(60)), c.getKey() + ":\n" + bad.stderr());
        assertTrue(bad.stderr().contains(c.getValue()), c.getKey() + ":\n" + bad.stderr());
        // The message and where the options are: not the whole --help after it, nor a stack trace.
        assertTrue(bad.stderr().endsWith("\n" + HELP_HINT + "\n"), c.getKey() + ":\n" + bad.stderr());
        assertFalse(bad.stderr().contains("Usage:"), c.getKey() + ":\n" + bad.stderr());
        assertFalse(bad.stderr().contains("\tat "), c.getKey() + ":\n" + bad.stderr());
      }
    }
  }

  /**
   * A duration too long for the timers it sets is refused at start, as --handshake-timeout's always was: relay mode
   * took --drain-timeout 999999999999h and crashed at SIGTERM with "long overflow", and took --idle-timeout and
   * --upstream-keepalive to overflow when a tunnel opened.
   */
  @Test
  void durationsTooLongForTheirTimersExit2NamingTheOption() throws Exception {
    for (String flag : List.of("--drain-timeout", "--idle-timeout", "--upstream-keepalive", "--handshake-timeout")) {
      try (TunnelServerJar bad = TunnelServerJar.start("--mode=relay", "--upstream=127.0.0.1:1", "--port=0",
          flag + "=999999999999h")) {
        assertEquals(2, bad.awaitExit(Duration.ofSeconds(60)), flag + ":\n" + bad.stderr());
        assertEquals(flag + ": 999999999999h (expected: at most 2147483647 ms, about 24.8 days)\n" + HELP_HINT
            + "\n", bad.stderr(), flag);
      }
    }
  }

  @Test
  void badFilesUrlsAndEnvironmentValuesExit2WithOneLineSayingWhatIsWrong() throws Exception {
    File dir = Files.createTempDirectory("bad-options").toFile();
    File cert = new File(dir, "cert.pem");
    File key = new File(dir, "key.pem");
    TestCertificates.writeRsaWithPkcs1Key(cert, key);
    File missing = new File(dir, "nothere.pem");
    Map<List<String>, String> cases = Map.of(
        List.of("--tls-cert", cert.getPath(), "--tls-key", key.getPath()),
        "--tls-key: " + key + " (expected: a PEM PKCS#8 private key, -----BEGIN PRIVATE KEY-----; found a PKCS#1 RSA "
            + "key, -----BEGIN RSA PRIVATE KEY-----, which Java cannot read: convert it with openssl pkcs8 -topk8 "
            + "-nocrypt -in " + key + " -out " + new File(dir, "key-pkcs8.pem") + ")",
        List.of("--tls-cert", missing.getPath(), "--tls-key", key.getPath()),
        "--tls-cert: " + missing + " (expected: a PEM certificate chain; no such file)",
        List.of("--upstream", "http://foo:50051"),
        "--upstream: http://foo:50051 (expected: HOST:PORT, or one target URI such as dns:///HOST:PORT; http:// is a "
            + "URL, not a gRPC target: write foo:50051)",
        List.of("--auth-tokens", missing.getPath()),
        "--auth-tokens: " + missing + " (expected: a file of 'TOKEN PRINCIPAL' lines; no such file)");
    for (Map.Entry<List<String>, String> c : cases.entrySet()) {
      try (TunnelServerJar bad = TunnelServerJar.start(c.getKey().toArray(new String[0]))) {
        assertEquals(2, bad.awaitExit(Duration.ofSeconds(60)), c.getKey() + ":\n" + bad.stderr());
        assertEquals(c.getValue() + "\n" + HELP_HINT + "\n", bad.stderr(), c.getKey().toString());
      }
    }
    // From the environment (systemd, Kubernetes): the line names the variable and its value.
    try (TunnelServerJar bad = TunnelServerJar.start(Map.of("TUNNEL_UPSTREAM_TLS", "yes"))) {
      assertEquals(2, bad.awaitExit(Duration.ofSeconds(60)), bad.stderr());
      assertEquals("TUNNEL_UPSTREAM_TLS=yes: Invalid value for option '--upstream-tls': 'yes' is not a boolean\n"
          + HELP_HINT + "\n", bad.stderr());
    }
  }

  @Test
  void aGatewayThatCannotStartSaysWhyInOneLineAndExitsWith1() throws Exception {
    try (java.net.ServerSocket taken = new java.net.ServerSocket(0)) {
      try (TunnelServerJar bad = TunnelServerJar.start("--port", String.valueOf(taken.getLocalPort()))) {
        assertEquals(1, bad.awaitExit(Duration.ofSeconds(60)), bad.stderr());
        assertTrue(bad.stderr().contains("\ntunnel-server: cannot start: Failed to bind to address /0.0.0.0:"
            + taken.getLocalPort() + ": Address already in use\n"), bad.stderr());
        assertFalse(bad.stderr().contains("\tat "), "no stack trace:\n" + bad.stderr());
      }
    }
    try (TunnelServerJar bad = TunnelServerJar.start("--port", "0", "--mode", "relay", "--upstream",
        "upstream.invalid:50051")) {
      assertEquals(1, bad.awaitExit(Duration.ofSeconds(60)), bad.stderr());
      assertTrue(bad.stderr().contains("\ntunnel-server: cannot start: no upstream name resolves; check --upstream "
          + "and DNS: upstream.invalid"), bad.stderr());
      assertFalse(bad.stderr().contains("\tat "), "no stack trace:\n" + bad.stderr());
    }
  }

  @Test
  void environmentVariablesSetOptionsAndTheCommandLineWins() throws Exception {
    jar = closer.add(TunnelServerJar.start(Map.of("TUNNEL_PATH", "/from-env", "TUNNEL_PORT", "1"), "--port", "0"));
    String url = jar.awaitUrl();
    assertTrue(url.endsWith("/from-env"), url);
    assertTrue(jar.port() > 1, url);
    channel = closer.add(tunnel(url));
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, health(channel));
  }

  @Test
  void demoModeServesHealthReflectionAndTheInteropCasesThroughTheTunnel() throws Exception {
    jar = closer.add(TunnelServerJar.start("--port", "0"));
    channel = closer.add(tunnel(jar.awaitUrl()));
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, health(channel));

    // What grpcurl and friends do first: list the services through reflection.
    CompletableFuture<ServerReflectionResponse> listed = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> reflection = ServerReflectionGrpc.newStub(channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS).serverReflectionInfo(Observers.firstValue(listed));
    reflection.onNext(ServerReflectionRequest.newBuilder().setListServices("*").build());
    reflection.onCompleted();
    List<String> services = listed.get(30, TimeUnit.SECONDS).getListServicesResponse().getServiceList().stream()
        .map(ServiceResponse::getName).collect(Collectors.toList());
    assertTrue(services.containsAll(Arrays.asList("grpc.health.v1.Health", "grpc.testing.TestService",
        "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection")), services.toString());

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int failed = InteropCases.run(channel, InteropCases.ALL_CASES, new PrintStream(out, true, "UTF-8"));
    assertEquals(0, failed, out.toString(StandardCharsets.UTF_8));
  }

  @Test
  void plainGrpcOverH2cSharesThePort() throws Exception {
    jar = closer.add(TunnelServerJar.start("--port", "0"));
    jar.awaitUrl();
    channel = closer.add(NettyChannelBuilder.forAddress("127.0.0.1", jar.port()).usePlaintext().build());
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, health(channel));
  }

  @Test
  void wssAndPlainGrpcOverTlsH2ShareThePort() throws Exception {
    TestCertificates certs = TestCertificates.create();
    jar = closer.add(TunnelServerJar.start("--port", "0", "--tls-cert", certs.serverCertPem().getPath(),
        "--tls-key", certs.serverKeyPem().getPath()));
    String url = jar.awaitUrl();
    assertTrue(url.startsWith("wss://"), url);
    channel = closer.add(WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
        .tls(ClientTls.trusting(certs.caPem())).build()).build());
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, health(channel));
    ManagedChannel h2 = NettyChannelBuilder.forAddress("localhost", jar.port())
        .sslContext(GrpcSslContexts.forClient().trustManager(certs.caPem()).build()).build();
    try {
      assertEquals(HealthCheckResponse.ServingStatus.SERVING, health(h2));
    } finally {
      h2.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void browsersGetGrpcWebOverHttp11WhereTlsAlsoServesNativeGrpc() throws Exception {
    // A browser offers ALPN h2 and http/1.1: with --browser-origins the gateway prefers http/1.1, since gRPC-Web over
    // HTTP/2 would reach gRPC's own handler (415); native gRPC clients offer h2 alone and keep it.
    TestCertificates certs = TestCertificates.create();
    jar = closer.add(TunnelServerJar.start("--port", "0", "--tls-cert", certs.serverCertPem().getPath(),
        "--tls-key", certs.serverKeyPem().getPath(), "--browser-origins", "*"));
    jar.awaitUrl();
    HttpClient browserLike = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_2).sslContext(certs.jdkClientContext()).build();
    HttpResponse<byte[]> answer = browserLike.send(HttpRequest.newBuilder(
            URI.create("https://localhost:" + jar.port() + "/grpc.health.v1.Health/Check"))
        .header("Content-Type", "application/grpc-web+proto")
        .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[5])) // one empty message
        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, answer.statusCode(), new String(answer.body(), StandardCharsets.ISO_8859_1));
    assertEquals(HttpClient.Version.HTTP_1_1, answer.version());
    assertTrue(new String(answer.body(), StandardCharsets.ISO_8859_1).contains("grpc-status: 0"));
    ManagedChannel h2 = NettyChannelBuilder.forAddress("localhost", jar.port())
        .sslContext(GrpcSslContexts.forClient().trustManager(certs.caPem()).build()).build();
    try {
      assertEquals(HealthCheckResponse.ServingStatus.SERVING, health(h2));
    } finally {
      h2.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void healthzAndMetricsReportWhatHappened() throws Exception {
    jar = closer.add(TunnelServerJar.start("--port", "0"));
    String url = jar.awaitUrl();
    assertEquals("200 serving\n", get(jar.port(), "/healthz"));
    channel = closer.add(tunnel(url));
    health(channel);
    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    jar.awaitLog("tunnel closed");
    ManagedChannel wrongPath = tunnel(url.replace("/grpc", "/nope"));
    try {
      assertThrows(StatusRuntimeException.class, () -> health(wrongPath));
    } finally {
      wrongPath.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    String metrics = get(jar.port(), "/metrics");
    assertTrue(metrics.startsWith("200 "), metrics);
    assertTrue(metrics.contains("\nwsgrpc_tunnels_total 1.0\n"), metrics);
    assertTrue(metrics.contains("\nwsgrpc_tunnels_open 0.0\n"), metrics);
    assertTrue(metrics.contains("wsgrpc_handshake_failures_total{reason=\"not_found\"}"), metrics);
    assertTrue(metrics.contains(
        "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Check\",grpc_service=\"grpc.health.v1.Health\","
        + "grpc_type=\"UNARY\"} 1.0"), metrics);
    assertTrue(metrics.matches("(?s).*\nwsgrpc_tunnel_received_bytes_total [1-9][0-9.E]*\n.*"), metrics);
    assertTrue(metrics.matches("(?s).*\nwsgrpc_tunnel_sent_bytes_total [1-9][0-9.E]*\n.*"), metrics);
    // Demo mode has no upstream: no upstream or relay metric reads 0 as if nothing had failed.
    assertFalse(metrics.contains("wsgrpc_upstream_"), metrics);
    assertFalse(metrics.contains("wsgrpc_relay_"), metrics);
    assertTrue(metrics.contains("wsgrpc_tunnels_closed_total{closed_by=\"client\",code=\"1000\"} 1.0"), metrics);
    assertTrue(jar.stderr().contains("tunnel open client=/127.0.0.1:"), jar.stderr());
  }

  /**
   * The close codes of applications (3000-4999), which a client chooses freely, count as {@code code="other"}: each
   * would otherwise add a series to the public metrics (about 2000 of them).
   */
  @Test
  void closeCodesAClientChoosesCountAsOtherAndAddNoSeriesToTheMetrics() throws Exception {
    jar = closer.add(TunnelServerJar.start("--port", "0"));
    jar.awaitUrl();
    for (int code : new int[] {4001, 4002, 3000, 1000}) {
      try (RawTunnelClient tunnel = RawTunnelClient.connect(new InetSocketAddress("127.0.0.1", jar.port()), "/grpc",
          "wsgrpc.v1", Duration.ofSeconds(30))) {
        tunnel.sendClose(code);
        assertEquals(code, tunnel.awaitEnd(), "the server echoes a valid code");
      }
    }
    for (int code : new int[] {4001, 4002, 3000, 1000}) {
      jar.awaitLog("close=client/" + code); // the access log's line comes once the tunnel is counted
    }
    String metrics = get(jar.port(), "/metrics");
    assertTrue(metrics.contains("wsgrpc_tunnels_closed_total{closed_by=\"client\",code=\"other\"} 3.0"), metrics);
    assertTrue(metrics.contains("wsgrpc_tunnels_closed_total{closed_by=\"client\",code=\"1000\"} 1.0"), metrics);
    assertFalse(metrics.contains("code=\"4001\""), metrics);
  }

  /**
   * {@code --browser-origins} lets pages call gRPC, not read {@code /metrics} or {@code /healthz}: their answers carry
   * no CORS headers, so a page of another site cannot read them through a visitor's browser (which may reach a
   * gateway on an intranet or localhost that the page's site cannot).
   */
  @Test
  void browserOriginsDoNotLetPagesReadMetricsOrHealth() throws Exception {
    jar = closer.add(TunnelServerJar.start("--port", "0", "--browser-origins", "*"));
    jar.awaitUrl();
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    for (String path : new String[] {"/metrics", "/healthz"}) {
      // HttpURLConnection would drop Origin, a restricted header there.
      HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + jar.port()
          + path)).header("Origin", "https://evil.example").timeout(Duration.ofSeconds(30)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, answer.statusCode(), path);
      assertTrue(answer.headers().firstValue("access-control-allow-origin").isEmpty(),
          path + ": " + answer.headers().map());
    }
  }

  @Test
  void demoModeSaysLoudlyThatItIsNotForProduction() throws Exception {
    jar = closer.add(TunnelServerJar.start("--port", "0"));
    jar.awaitUrl();
    jar.awaitLog("WARN  TunnelServerMain - DEMO MODE: serving test services (grpc.health.v1.Health, ");
    jar.awaitLog("This is not for production: give --upstream HOST:PORT");
  }

  @Test
  void adminPortServesMetricsWhichThePublicPortThenRefuses() throws Exception {
    jar = closer.add(TunnelServerJar.start("--port", "0", "--admin-port", "0"));
    String url = jar.awaitUrl();
    int admin = jar.adminPort();
    assertTrue(jar.stdout().contains("admin listener on http://127.0.0.1:" + admin), "loopback by default");
    channel = closer.add(tunnel(url));
    health(channel);
    String metrics = get(admin, "/metrics");
    assertTrue(metrics.startsWith("200 "), metrics);
    assertTrue(metrics.contains("\nwsgrpc_tunnels_total 1.0\n"), metrics);
    assertEquals("200 serving\n", get(admin, "/healthz"));
    // The public port (what a CDN passes on) keeps /healthz for origin checks and no longer shows the metrics.
    assertTrue(get(jar.port(), "/metrics").startsWith("404 "));
    assertEquals("200 serving\n", get(jar.port(), "/healthz"));
    assertTrue(get(admin, "/grpc").startsWith("404 "));
  }

  /**
   * The admin listener answers requests for its address, localhost or a name of --admin-hosts, and 421 to a name a
   * web page re-resolved to it (DNS rebinding); the public port, reached by names, answers /healthz for any.
   */
  @Test
  void adminPortAnswersItsAddressesAndListedNamesOnly() throws Exception {
    jar = closer.add(TunnelServerJar.start("--port", "0", "--admin-port", "0", "--admin-hosts", "wsgrpc-gateway"));
    jar.awaitUrl();
    int admin = jar.adminPort();
    String rebound = getFor(admin, "rebind.example:" + admin, "/metrics");
    assertTrue(rebound.startsWith("HTTP/1.1 421 Misdirected Request\r\n"), rebound);
    assertTrue(rebound.endsWith("\r\n\r\nexpected a Host that is an IP address, localhost or a name --admin-hosts "
        + "lists but was 'rebind.example:" + admin + "'\n"), rebound);
    for (String host : List.of("wsgrpc-gateway:" + admin, "localhost:" + admin, "127.0.0.1:" + admin)) {
      String metrics = getFor(admin, host, "/metrics");
      assertTrue(metrics.startsWith("HTTP/1.1 200 OK\r\n") && metrics.contains("# TYPE "), metrics);
    }
    String publicHealth = getFor(jar.port(), "rebind.example", "/healthz");
    assertTrue(publicHealth.startsWith("HTTP/1.1 200 OK\r\n"), publicHealth);
  }

  /** GET {@code path} on {@code port} with {@code Host: host}; returns the whole answer. */
  private static String getFor(int port, String host, String path) throws Exception {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
      socket.setSoTimeout(30_000);
      socket.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }

  /** Connects, sends {@code bytes} (perhaps none) and returns the milliseconds until the jar closed the connection. */
  private static long millisUntilClosed(int port, byte[] bytes) throws Exception {
    long start = System.nanoTime(); // before the connect: the jar's clock may start before this thread resumes
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
      socket.setSoTimeout(30_000);
      socket.getOutputStream().write(bytes);
      assertEquals(-1, socket.getInputStream().read(), "no answer to an unfinished TLS handshake");
      return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }
  }

  @Test
  void relayModeTlsHandshakesEndAtTheHandshakeTimeoutAndAThousandFailuresAreCountedNotLogged() throws Exception {
    TestCertificates certs = TestCertificates.create();
    jar = closer.add(TunnelServerJar.start("--port", "0", "--admin-port", "0", "--mode", "relay", "--upstream",
        "127.0.0.1:1", "--tls-cert", certs.serverCertPem().getPath(), "--tls-key", certs.serverKeyPem().getPath(),
        "--handshake-timeout", "1s"));
    jar.awaitUrl();
    long start = System.nanoTime();
    // Netty's own TLS handshake timeout is 10 s: these end at the configured 1 s.
    long silent = millisUntilClosed(jar.port(), new byte[0]);
    assertTrue(silent >= 900 && silent < 8_000, "a silent client was closed after " + silent + " ms");
    long half = millisUntilClosed(jar.port(), new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01});
    assertTrue(half >= 900 && half < 8_000, "half a ClientHello was closed after " + half + " ms");
    for (int i = 0; i < 1000; i++) {
      PeerTriggeredLogsTest.sendAndAwaitClose(jar.port(), PeerTriggeredLogsTest.NOT_TLS.get(i % 3));
    }
    int admin = jar.adminPort();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    String metrics = get(admin, "/metrics");
    while (!metrics.contains("wsgrpc_handshake_failures_total{reason=\"tls\"} 1002.0")
        && System.nanoTime() < deadline) {
      Thread.sleep(50);
      metrics = get(admin, "/metrics");
    }
    assertTrue(metrics.contains("wsgrpc_handshake_failures_total{reason=\"tls\"} 1002.0"), metrics);
    String log = jar.stderr();
    assertFalse(log.contains("DEMO MODE"), log);
    assertFalse(log.contains("\tat "), "a stack trace:\n" + log);
    assertFalse(log.contains("not-for-logs") || log.contains("6e6f742d666f722d6c6f6773"), "request bytes:\n" + log);
    long lines = log.lines().filter(l -> l.contains("TLS handshake")).count();
    assertTrue(lines <= PeerTriggeredLogsTest.allowedLines(System.nanoTime() - start), lines + " lines:\n" + log);
  }

  @Test
  void aFloodOfTunnelsCannotFloodTheAccessLog() throws Exception {
    jar = closer.add(TunnelServerJar.start("--port", "0", "--admin-port", "0"));
    jar.awaitUrl();
    int tunnels = 1000;
    long start = System.nanoTime();
    for (int i = 0; i < tunnels; i++) {
      try (java.net.Socket socket = new java.net.Socket("127.0.0.1", jar.port())) {
        socket.setSoTimeout(30_000);
        socket.getOutputStream().write(("GET /grpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wsgrpc.v1\r\n\r\n")
            .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        java.io.InputStream in = socket.getInputStream();
        byte[] status = new byte[12];
        int n = 0;
        while (n < status.length) {
          int r = in.read(status, n, status.length - n);
          assertTrue(r > 0, "the connection closed before the status line");
          n += r;
        }
        assertEquals("HTTP/1.1 101", new String(status, java.nio.charset.StandardCharsets.ISO_8859_1));
      } // closed without a Close frame: the gateway logs (or holds back) a close line
    }
    int admin = jar.adminPort();
    // Wait for the gateway to have seen every tunnel close (an event it counts), then read the log.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    String metrics = get(admin, "/metrics");
    while (!metrics.contains("wsgrpc_tunnels_open 0.0") && System.nanoTime() < deadline) {
      Thread.sleep(50);
      metrics = get(admin, "/metrics");
    }
    assertTrue(metrics.contains("wsgrpc_tunnels_total " + tunnels + ".0"), metrics);
    long elapsedSeconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start) + 1;
    // 100 in a row, then ten a second, for each of the two lines.
    long allowed = 2 * (100 + 10 * elapsedSeconds);
    String log = jar.stderr();
    long lines = log.lines().filter(l -> l.contains("tunnel open") || l.contains("tunnel closed")).count();
    assertTrue(lines <= allowed, lines + " access-log lines for " + tunnels + " tunnels in " + elapsedSeconds
        + " s (at most " + allowed + " expected)");
    if (lines < 2L * tunnels) {
      assertTrue(log.contains("more like this suppressed"), "the held-back lines are counted:\n" + log);
    }
  }

  @Test
  void adminPortOutOfRangeOrEqualToThePortIsABadOption() throws Exception {
    for (String[] c : new String[][] {{"--admin-port=70000", "--admin-port: 70000 (expected: 0 to 65535)"},
        {"--admin-port=8080", "--admin-port: 8080 (expected: a port other than --port)"}}) {
      try (TunnelServerJar bad = TunnelServerJar.start(c[0])) {
        assertEquals(2, bad.awaitExit(Duration.ofSeconds(60)), c[0] + ":\n" + bad.stderr());
        assertTrue(bad.stderr().contains(c[1]), c[0] + ":\n" + bad.stderr());
      }
    }
  }

  /**
   * Runs the health check as the container image does: {@code java -cp tunnel-server.jar ...HealthCheck}, no
   * arguments, {@code TUNNEL_HEALTH_FILE} in its environment. Returns "EXIT-CODE OUTPUT".
   */
  private static String imageHealthCheck(Path healthFile) throws Exception {
    ProcessBuilder check = new ProcessBuilder(Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", TunnelServerJar.jar().getPath(), "dev.wsgrpc.gateway.HealthCheck").redirectErrorStream(true);
    check.environment().keySet().removeIf(k -> k.startsWith("TUNNEL_"));
    check.environment().put("TUNNEL_HEALTH_FILE", healthFile.toString());
    Process process = check.start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertTrue(process.waitFor(60, TimeUnit.SECONDS));
    return process.exitValue() + " " + output;
  }

  @Test
  void theImagesHealthCheckFollowsOptionsGivenOnTheCommandLine(@TempDir Path dir) throws Exception {
    // The image's HEALTHCHECK has no arguments: options given after the image name reach it through the file.
    Path file = dir.resolve("health");
    assertTrue(imageHealthCheck(file).startsWith("1 unhealthy: java.io.IOException: " + file + " is missing"));
    jar = closer.add(TunnelServerJar.start(Map.of("TUNNEL_HEALTH_FILE", file.toString()), "--port", "0"));
    jar.awaitUrl();
    assertEquals("http://127.0.0.1:" + jar.port() + "/healthz", Files.readString(file).trim());
    assertEquals("0 healthy: HTTP/1.1 200 OK", imageHealthCheck(file));
    jar.terminate();
    assertEquals(0, jar.awaitExit(Duration.ofSeconds(60)), jar.stderr());
    assertFalse(Files.exists(file), "deleted when the gateway exits");

    // With an admin listener, the check asks it.
    jar = closer.add(TunnelServerJar.start("--port", "0", "--admin-port", "0", "--health-file", file.toString()));
    jar.awaitUrl();
    assertEquals("http://127.0.0.1:" + jar.adminPort() + "/healthz", Files.readString(file).trim());
    assertEquals("0 healthy: HTTP/1.1 200 OK", imageHealthCheck(file));
  }

  @Test
  void sigtermLetsALongStreamFinishThenExitsZero() throws Exception {
    jar = closer.add(TunnelServerJar.start("--port", "0", "--drain-timeout", "30s"));
    String url = jar.awaitUrl();
    channel = closer.add(tunnel(url));
    int messages = 20; // 6 s: the drain lasts while the refusals below are checked
    StreamingOutputCallRequest.Builder request = StreamingOutputCallRequest.newBuilder();
    for (int i = 0; i < messages; i++) {
      request.addResponseParameters(ResponseParameters.newBuilder().setSize(100).setIntervalUs(300_000));
    }
    AtomicInteger received = new AtomicInteger();
    CountDownLatch first = new CountDownLatch(1);
    CompletableFuture<Status> done = new CompletableFuture<>();
    TestServiceGrpc.newStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS).streamingOutputCall(request.build(),
        new StreamObserver<StreamingOutputCallResponse>() {
          @Override
          public void onNext(StreamingOutputCallResponse value) {
            received.incrementAndGet();
            first.countDown();
          }

          @Override
          public void onError(Throwable t) {
            done.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            done.complete(Status.OK);
          }
        });
    assertTrue(first.await(30, TimeUnit.SECONDS));
    jar.terminate();
    jar.awaitLog("Draining");
    // While draining: load balancers see 503, and new tunnels are refused with 503 (native connections likewise).
    assertTrue(get(jar.port(), "/healthz").startsWith("503 draining"));
    ManagedChannel late = tunnel(url);
    try {
      StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () -> health(late));
      assertTrue(refused.getStatus().getDescription().contains("but was 503 Service Unavailable"),
          refused.getStatus().toString());
    } finally {
      late.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    // Native gRPC too: its call ends UNAVAILABLE with the reason.
    ManagedChannel lateNative = NettyChannelBuilder.forAddress("127.0.0.1", jar.port()).usePlaintext().build();
    try {
      StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () -> health(lateNative));
      assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode(), refused.getStatus().toString());
      assertEquals("draining: this server is shutting down, retry elsewhere", refused.getStatus().getDescription());
    } finally {
      lateNative.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    assertEquals(Status.Code.OK, done.get(60, TimeUnit.SECONDS).getCode(), "the stream in flight completes");
    assertEquals(messages, received.get());
    assertEquals(0, jar.awaitExit(Duration.ofSeconds(60)), jar.stderr());
    assertTrue(jar.stderr().contains("Stopped: 1 tunnel(s) drained, 0 closed at the drain deadline"), jar.stderr());
    // The drain timeout as it was written, not as java.time prints it (PT30S).
    assertTrue(jar.stderr().contains("Received SIGTERM: draining for up to 30s\n"), jar.stderr());
    assertTrue(jar.stderr().contains("1 open tunnel(s) get GOAWAY and have 30s to finish their calls"), jar.stderr());
  }

  @Test
  void renewedCertificateFilesAreUsedWithoutARestart() throws Exception {
    TestCertificates first = TestCertificates.create();
    TestCertificates second = TestCertificates.create();
    File dir = Files.createTempDirectory("rotation").toFile();
    File cert = new File(dir, "cert.pem");
    File key = new File(dir, "key.pem");
    first.renew(cert, key);
    jar = closer.add(TunnelServerJar.start("--port", "0", "--tls-cert", cert.getPath(), "--tls-key", key.getPath()));
    String url = jar.awaitUrl();
    assertTrue(servesTrusting(url, first.caPem()));

    // A renewer that has written the new key and not yet the certificate: every handshake would fail with that pair,
    // so the gateway keeps serving the previous one, and says why.
    Files.copy(second.serverKeyPem().toPath(), key.toPath(), StandardCopyOption.REPLACE_EXISTING);
    jar.awaitLog("the key does not belong to the certificate CN=localhost, the first in the chain");
    assertTrue(servesTrusting(url, first.caPem()), "the previous certificate and key are still served");

    // Renew: write the new files the way certbot does (new files moved into place).
    second.renew(cert, key);

    jar.awaitLog("Loaded the new TLS certificate");
    assertTrue(servesTrusting(url, second.caPem()), "new connections get the new certificate");
    assertFalse(servesTrusting(url, first.caPem()), "the old certificate is no longer served");
  }

  private static boolean servesTrusting(String url, File ca) throws InterruptedException {
    ManagedChannel c = WebSocketChannels.newChannelBuilder(
        WebSocketClientOptions.newBuilder(url).tls(ClientTls.trusting(ca)).build()).build();
    try {
      return health(c) == HealthCheckResponse.ServingStatus.SERVING;
    } catch (StatusRuntimeException e) {
      return false;
    } finally {
      c.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void bearerTokensFromAFileAreRequiredAndReloadedWhenItChanges() throws Exception {
    File dir = Files.createTempDirectory("tokens").toFile();
    File tokens = new File(dir, "tokens.txt");
    Files.writeString(tokens.toPath(), "# token principal\nalpha-t0ken alice\n");
    jar = closer.add(TunnelServerJar.start("--port", "0", "--auth-tokens", tokens.getPath()));
    String url = jar.awaitUrl();
    assertFalse(servesWithToken(url, null));
    assertTrue(servesWithToken(url, "alpha-t0ken"));
    jar.awaitLog("principal=alice");
    // /metrics on the tunnel port is behind the same gate (no --admin-port); /healthz stays open for load balancers.
    assertEquals("401 the bearer token is not valid\n", get(jar.port(), "/metrics", "Bearer guess"));
    assertTrue(get(jar.port(), "/metrics").startsWith("401 expected a bearer token in Authorization"));
    assertTrue(get(jar.port(), "/metrics", "Bearer alpha-t0ken").contains("wsgrpc_tunnels_total"));
    assertEquals("200 serving\n", get(jar.port(), "/healthz"));

    File next = new File(dir, "tokens.new");
    Files.writeString(next.toPath(), "beta-t0ken bob\n");
    Files.move(next.toPath(), tokens.toPath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    jar.awaitLog("Loaded the new bearer tokens");
    assertTrue(servesWithToken(url, "beta-t0ken"));
    assertFalse(servesWithToken(url, "alpha-t0ken"), "a removed token no longer opens tunnels");
    assertTrue(get(jar.port(), "/metrics", "Bearer alpha-t0ken").startsWith("401 "), "nor shows the metrics");
    assertTrue(get(jar.port(), "/metrics", "Bearer beta-t0ken").startsWith("200 "));
    assertFalse(jar.stderr().contains("t0ken"), "tokens never reach the logs:\n" + jar.stderr());
  }

  private static boolean servesWithToken(String url, String token) throws InterruptedException {
    WebSocketClientOptions.Builder options = WebSocketClientOptions.newBuilder(url);
    if (token != null) {
      options.header("Authorization", "Bearer " + token);
    }
    ManagedChannel c = WebSocketChannels.newChannelBuilder(options.build()).build();
    try {
      return health(c) == HealthCheckResponse.ServingStatus.SERVING;
    } catch (StatusRuntimeException e) {
      assertTrue(e.getStatus().getDescription().contains("but was 401 Unauthorized"), e.getStatus().toString());
      return false;
    } finally {
      c.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aFrameOverTheLimitIsClosedWith1009LoggedAndCounted() throws Exception {
    jar = closer.add(TunnelServerJar.start("--port", "0", "--max-inbound-frame", "2048"));
    String url = jar.awaitUrl();
    channel = closer.add(WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url).build()).build());
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> TestServiceGrpc
        .newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .unaryCall(io.grpc.testing.integration.Messages.SimpleRequest.newBuilder()
            .setPayload(io.grpc.testing.integration.Messages.Payload.newBuilder()
                .setBody(com.google.protobuf.ByteString.copyFrom(new byte[20_000]))).build()));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
    jar.awaitLog("tunnel closed");
    assertTrue(jar.stderr().contains("Max frame length of 2048 has been exceeded. (1009 (Message Too Big)) - raise "
        + "the frame limit on this side or lower it on the other"), jar.stderr());
    assertTrue(get(jar.port(), "/metrics").contains(
        "wsgrpc_tunnels_closed_total{closed_by=\"server\",code=\"1009\"} 1.0"), jar.stderr());
  }

  @Test
  void forwardedForNamesTheClientOnlyFromTrustedProxies() throws Exception {
    jar = closer.add(TunnelServerJar.start("--port", "0", "--trusted-proxies", "127.0.0.0/8"));
    String url = jar.awaitUrl();
    channel = closer.add(WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
        .header("X-Forwarded-For", "198.51.100.7").build()).build());
    health(channel);
    jar.awaitLog("tunnel open client=/198.51.100.7:0");
    jar.close();

    jar = closer.add(TunnelServerJar.start("--port", "0", "--trusted-proxies", "10.0.0.0/8"));
    url = jar.awaitUrl();
    ManagedChannel untrusted = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
        .header("X-Forwarded-For", "198.51.100.7").build()).build();
    try {
      health(untrusted);
    } finally {
      untrusted.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    jar.awaitLog("tunnel open client=/127.0.0.1:");
    assertFalse(jar.stderr().contains("198.51.100.7"), jar.stderr());
  }

}
