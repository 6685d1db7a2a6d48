package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.WireFrames;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.testing.integration.TestServiceImpl;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code java -jar wsgrpc-cli.jar} run as a user runs it, against a tunnel server behind a real nginx that
 * terminates TLS: {@code forward} with a Python grpcio client, {@code probe} step by step (and through a real
 * CONNECT proxy named by {@code HTTPS_PROXY}), and {@code interop}. Output and exit codes are asserted.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class CommandLineToolTest {

  private static final ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(2);
  private static final EchoService echo = new EchoService();
  private static ProxiedTunnelSetup full;
  private static Server healthOnly;
  private static String url;
  private static String healthOnlyUrl;
  private static String ca;
  private static String nginxVersion;

  @BeforeAll
  static void start() throws Exception {
    CliJar.jar();
    HealthStatusManager health = new HealthStatusManager();
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.SERVING);
    // client -> nginx (TLS, Server: nginx) -> tunnel server with the interop service, health and Echo.
    full = ProxiedTunnelSetup.nginx(true);
    full.start(ServerInterceptors.intercept(new TestServiceImpl(scheduler), TestServiceImpl.interceptors()),
        health.getHealthService().bindService(), echo.bindService());
    url = full.url();
    ca = full.options().build().tls().trustCertificates().getPath();
    healthOnly = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.DEFAULT).addService(health.getHealthService()).build().start();
    healthOnlyUrl = "ws://127.0.0.1:" + ((InetSocketAddress) healthOnly.getListenSockets().get(0)).getPort()
        + "/grpc";
    Process v = new ProcessBuilder(ReverseProxy.Kind.NGINX.require(), "-v").redirectErrorStream(true).start();
    String banner = new String(v.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    v.waitFor(10, TimeUnit.SECONDS);
    nginxVersion = banner.substring(banner.indexOf("nginx/"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (full != null) {
      full.close();
    }
    if (healthOnly != null) {
      healthOnly.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    scheduler.shutdownNow();
    echo.shutdown();
  }

  private static int nginxPort() {
    return full.proxy().port();
  }

  /** The lines of {@code text} that start with {@code label} (probe's step lines). */
  private static List<String> lines(String text, String label) {
    return text.lines().filter(l -> l.startsWith(label + " ")).collect(Collectors.toList());
  }

  private static void assertStep(CliJar.Result r, String label, String... parts) {
    List<String> found = lines(r.stdout, label);
    assertEquals(1, found.size(), "one '" + label + "' line:\n" + r);
    for (String part : parts) {
      assertTrue(found.get(0).contains(part), "'" + label + "' line should contain '" + part + "':\n" + r);
    }
  }

  // ---- forward --------------------------------------------------------------------------------------------------

  @Test
  void forwardCarriesAPythonGrpcClientThroughNginxAndTls() throws Exception {
    String python = ExternalProgram.requirePythonWithGrpc();
    Path script = Files.createTempFile("forward_client", ".py");
    script.toFile().deleteOnExit();
    Files.write(script, ReverseProxy.template("python/forward_client.py", Map.of())
        .getBytes(StandardCharsets.UTF_8));
    int port = ExternalProgram.freePort();
    try (ExternalProgram forward = CliJar.start(port, "forward", "--listen", "127.0.0.1:" + port, "--to", url,
        "--trust-certificates", ca, "--use-system-proxy", "false")) {
      Process client = new ProcessBuilder(python, script.toString(), "127.0.0.1:" + port)
          .redirectErrorStream(true).start();
      String output = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(client.waitFor(120, TimeUnit.SECONDS), "the Python client finished");
      assertEquals(0, client.exitValue(), output + "\nforward:\n" + forward.output());
      assertTrue(output.contains("unary 1 MiB ok") && output.contains("bidi 200 messages ok")
          && output.contains("4 channels ok") && output.contains(": all ok"), output);
      String log = forward.output();
      assertTrue(log.contains("forward: listening on 127.0.0.1:" + port + " -> " + url), log);
      assertTrue(log.lines().filter(l -> l.endsWith(": tunnel open")).count() >= 5,
          "one tunnel per connection (one channel, then four):\n" + log);
    }
  }

  @Test
  void forwardClosesTheLocalConnectionWhenTheTunnelCannotOpen() throws Exception {
    int port = ExternalProgram.freePort();
    try (ExternalProgram forward = CliJar.start(port, "forward", "--listen", "127.0.0.1:" + port, "--to",
        "wss://localhost:" + nginxPort() + "/nope", "--trust-certificates", ca, "--use-system-proxy", "false")) {
      try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
        s.setSoTimeout(60_000);
        assertEquals(-1, s.getInputStream().read(), "the local connection is closed");
      }
      String expected = "tunnel failed at upgrade: expected HTTP 101 but was 404 Not Found from wss://localhost:"
          + nginxPort() + "/nope (Server: " + nginxVersion + ")";
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!forward.output().contains(expected) && System.nanoTime() < deadline) {
        // The line is written just before the connection is closed; give the file a moment.
        Thread.sleep(20);
      }
      assertTrue(forward.output().contains(expected), forward.output());
    }
  }

  // ---- probe ----------------------------------------------------------------------------------------------------

  @Test
  void probePrintsEveryStepThenLatencyAndThroughput() throws Exception {
    CliJar.Result r = CliJar.run("probe", url, "--trust-certificates", ca, "--calls", "50", "--duration", "2s");
    assertEquals(0, r.exitCode, r.toString());
    assertTrue(r.stdout.startsWith("probe " + url + "\n"), r.toString());
    assertStep(r, "dns", "localhost -> ");
    assertStep(r, "tcp", "connected to ");
    assertStep(r, "tls", "TLSv1.", "ALPN http/1.1", "certificate CN=localhost", "issued by CN=wsgrpc test CA");
    assertStep(r, "upgrade", "101 Switching Protocols, subprotocol wsgrpc.v1, Server: " + nginxVersion);
    assertStep(r, "rpc", "grpc.health.v1.Health/Check: SERVING", "grpc.testing.TestService served");
    assertStep(r, "latency", "50 calls of grpc.testing.TestService/EmptyCall: p50 ", " ms, p99 ");
    assertStep(r, "upload", " MiB/s");
    assertStep(r, "download", " MiB/s");
    assertTrue(r.stdout.endsWith("ok\n"), r.toString());
    assertTrue(lines(r.stdout, "proxy").isEmpty(), "no proxy on this path:\n" + r);
    // Measurements longer than a second show their progress (the first line after about a second: 1 s, or 2 on a
    // machine busy enough to wake the probe half a second late).
    assertTrue(Pattern.compile("(?m)^  \\.\\.\\. upload: \\d+ s, ").matcher(r.stderr).find()
        && Pattern.compile("(?m)^  \\.\\.\\. download: \\d+ s, ").matcher(r.stderr).find(), r.toString());
  }

  @Test
  void probeMeasuresLatencyWithHealthChecksWhenThereIsNoTestService() throws Exception {
    CliJar.Result r = CliJar.run("probe", healthOnlyUrl, "--calls", "20");
    assertEquals(0, r.exitCode, r.toString());
    assertStep(r, "upgrade", "101 Switching Protocols, subprotocol wsgrpc.v1");
    assertStep(r, "rpc", "SERVING", "grpc.testing.TestService not served");
    assertStep(r, "latency", "20 calls of grpc.health.v1.Health/Check");
    assertTrue(lines(r.stdout, "upload").isEmpty(), r.toString());
    assertTrue(lines(r.stdout, "tls").isEmpty(), "ws: no TLS step:\n" + r);
  }

  @Test
  void probeNamesTheFailedStepAndTheHop() throws Exception {
    CliJar.Result r = CliJar.run("probe", "wss://localhost:" + nginxPort() + "/nope", "--trust-certificates", ca);
    assertEquals(1, r.exitCode, r.toString());
    assertEquals("probe failed at upgrade: expected HTTP 101 but was 404 Not Found from wss://localhost:"
        + nginxPort() + "/nope (Server: " + nginxVersion + ") [hop: " + nginxVersion + " at 127.0.0.1:" + nginxPort()
        + "]\n", r.stderr, r.toString());
    assertStep(r, "tls", "CN=localhost");

    int closed = ExternalProgram.freePort();
    r = CliJar.run("probe", "ws://127.0.0.1:" + closed + "/grpc");
    assertEquals(1, r.exitCode, r.toString());
    assertEquals("probe failed at tcp: cannot connect to 127.0.0.1:" + closed + ": Connection refused [hop: "
        + "127.0.0.1:" + closed + "]\n", r.stderr, r.toString());

    r = CliJar.run("probe", url);
    assertEquals(1, r.exitCode, r.toString());
    assertTrue(r.stderr.startsWith("probe failed at tls: TLS handshake with " + url + " failed: "), r.toString());
    assertTrue(r.stderr.trim().endsWith("[hop: 127.0.0.1:" + nginxPort() + "]"), r.toString());
    assertEquals(1, r.stderr.lines().count(), "one line:\n" + r);
  }

  /**
   * A server that accepts every upgrade and closes the tunnel at once with 1013, in the same write as its 101, as a
   * relaying gateway whose upstream is down does. Returns its port; it serves until the test's socket is closed.
   */
  private static ServerSocket acceptAndCloseWith1013() throws IOException {
    return acceptAndCloseWith1013("no upstream");
  }

  /** As {@link #acceptAndCloseWith1013()}, with this reason in the Close. */
  private static ServerSocket acceptAndCloseWith1013(String reason) throws IOException {
    ServerSocket server = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
    Thread accepting = new Thread(() -> {
      while (!server.isClosed()) {
        try (Socket s = server.accept()) {
          java.io.BufferedReader in = new java.io.BufferedReader(
              new java.io.InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
          String key = null;
          for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
            if (line.regionMatches(true, 0, "Sec-WebSocket-Key:", 0, 18)) {
              key = line.substring(18).trim();
            }
          }
          java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
          out.writeBytes(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              + "Sec-WebSocket-Accept: " + Http11Tokens.acceptFor(key)
              + "\r\nSec-WebSocket-Protocol: wsgrpc.v1\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
          out.writeBytes(WireFrames.frame(true, 0, 0x8, false, // Close 1013, unmasked as a server's
              concat(new byte[] {0x03, (byte) 0xf5}, reason.getBytes(StandardCharsets.UTF_8))));
          s.getOutputStream().write(out.toByteArray());
          s.getOutputStream().flush();
          while (s.getInputStream().read() != -1) {
            // until the client closes
          }
        } catch (Exception e) {
          // the next connection, or the server closed
        }
      }
    }, "close-1013");
    accepting.setDaemon(true);
    accepting.start();
    return server;
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] both = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, both, a.length, b.length);
    return both;
  }

  /** A server's words reach the probe's output as printable ASCII only: no line or escape sequence of its own. */
  @Test
  void aServersWordsArePrintedWithoutItsControlCharacters() throws Exception {
    try (ServerSocket server = acceptAndCloseWith1013("down\n\u001b[32mprobe ok: all fine")) {
      CliJar.Result r = CliJar.run("probe", "ws://127.0.0.1:" + server.getLocalPort() + "/grpc");
      assertEquals(1, r.exitCode, r.toString());
      assertTrue(r.stderr.contains("with 1013 (Try Again Later): down?"), r.toString());
      assertFalse(r.stderr.contains("\u001b"), r.toString());
      assertEquals(1, r.stderr.lines().count(), "one line:\n" + r);
    }
  }

  @Test
  void aTunnelClosedRightAfterItsUpgradeFailsTheProbeInOneLine() throws Exception {
    try (ServerSocket server = acceptAndCloseWith1013()) {
      CliJar.Result r = CliJar.run("probe", "ws://127.0.0.1:" + server.getLocalPort() + "/grpc");
      assertEquals(1, r.exitCode, r.toString());
      assertStep(r, "upgrade", "101 Switching Protocols");
      assertFalse(r.stderr.contains("tail of the pipeline"), "Netty's warning about an unhandled failure:\n" + r);
      assertTrue(r.stderr.startsWith("probe failed at rpc: "), r.toString());
      assertTrue(r.stderr.contains("with 1013 (Try Again Later): no upstream"), r.toString());
      assertEquals(1, r.stderr.lines().count(), "one line:\n" + r);
    }
  }

  @Test
  void probeQuotesTheRefusalBodyAsChannelsDo() throws Exception {
    String other = healthOnlyUrl.replace("/grpc", "/other");
    CliJar.Result r = CliJar.run("probe", other);
    assertEquals(1, r.exitCode, r.toString());
    assertTrue(r.stderr.startsWith("probe failed at upgrade: expected HTTP 101 but was 404 Not Found from " + other),
        r.toString());
    assertTrue(r.stderr.contains("; it said: \"no WebSocket endpoint at /other\" [hop: "), r.toString());
    assertEquals(1, r.stderr.lines().count(), "one line:\n" + r);
  }

  @Test
  void probeGoesThroughTheProxyNamedByHttpsProxy() throws Exception {
    try (Tinyproxy proxy = Tinyproxy.start()) {
      String proxyUrl = "http://" + Tinyproxy.USER + ":" + Tinyproxy.PASSWORD + "@127.0.0.1:" + proxy.port();
      CliJar.Result r = CliJar.run(Map.of("HTTPS_PROXY", proxyUrl), "probe", url, "--trust-certificates", ca,
          "--calls", "5", "--duration", "0");
      assertEquals(0, r.exitCode, r.toString());
      assertStep(r, "tcp", "connected to 127.0.0.1:" + proxy.port());
      assertStep(r, "proxy", "CONNECT localhost:" + nginxPort() + " through HTTP proxy 127.0.0.1:" + proxy.port()
          + " (from HTTPS_PROXY): established");
      assertStep(r, "upgrade", "Server: " + nginxVersion);
      // The probe's own tunnel and the gRPC channel's: both through the proxy.
      assertEquals(2, proxy.connects("localhost:" + nginxPort()), proxy.log());

      r = CliJar.run(Map.of("HTTPS_PROXY", proxyUrl, "NO_PROXY", "example.com,localhost"), "probe", url,
          "--trust-certificates", ca, "--calls", "5", "--duration", "0");
      assertEquals(0, r.exitCode, r.toString());
      assertTrue(lines(r.stdout, "proxy").isEmpty(), "NO_PROXY names localhost:\n" + r);
      assertEquals(2, proxy.connects("localhost:" + nginxPort()), proxy.log());

      r = CliJar.run(Map.of("https_proxy", "http://" + Tinyproxy.USER + ":wrong@127.0.0.1:" + proxy.port()),
          "probe", url, "--trust-certificates", ca);
      assertEquals(1, r.exitCode, r.toString());
      assertTrue(r.stderr.startsWith("probe failed at proxy: HTTP proxy 127.0.0.1:" + proxy.port() + " (from "
          + "https_proxy) answered CONNECT localhost:" + nginxPort() + " with 401 Unauthorized (Server: tinyproxy/"),
          r.toString());
      // The library's words for it, hint included, as a channel's status would say.
      assertTrue(r.stderr.endsWith("): the proxy credentials were refused [hop: HTTP proxy 127.0.0.1:" + proxy.port()
          + " (from https_proxy)]\n"), r.toString());
    }
  }

  @Test
  void optionMistakesExitWith2AndSayWhatWasExpected() throws Exception {
    CliJar.Result r = CliJar.run("probe", url, "--header", "no-colon-here");
    assertEquals(2, r.exitCode, r.toString());
    // Not echoed: an argument without a colon may be a pasted token.
    assertEquals("probe: --header: <redacted> (expected: NAME:VALUE; found no ':')\n", r.stderr);
    r = CliJar.run("probe", "http://example.com/grpc");
    assertEquals(2, r.exitCode, r.toString());
    assertEquals("probe: url: http://example.com/grpc (expected: a ws:// or wss:// URL)\n", r.stderr);
    r = CliJar.run("probe", url, "--connect-to", "nowhere");
    assertEquals(2, r.exitCode, r.toString());
    assertEquals("probe: --connect-to: nowhere (expected: HOST:PORT)\n", r.stderr);
  }

  // ---- interop --------------------------------------------------------------------------------------------------

  @Test
  void interopPassesEveryCaseThroughNginx() throws Exception {
    CliJar.Result r = CliJar.run("interop", url, "--trust-certificates", ca);
    assertEquals(0, r.exitCode, r.toString());
    assertTrue(r.stdout.contains("PASS empty_unary\n") && r.stdout.contains("PASS custom_metadata\n"), r.toString());
    assertTrue(r.stdout.endsWith("14 passed, 0 failed\n"), r.toString());
  }

  @Test
  void interopWithTheOkHttpClientPassesEveryCaseThroughNginx() throws Exception {
    CliJar.Result r = CliJar.run("interop", "--client", "okhttp", url, "--trust-certificates", ca);
    assertEquals(0, r.exitCode, r.toString());
    assertTrue(r.stdout.contains("PASS empty_unary\n") && r.stdout.contains("PASS custom_metadata\n"), r.toString());
    assertTrue(r.stdout.endsWith("14 passed, 0 failed\n"), r.toString());
  }

  @Test
  void interopWithTheOkHttpClientTakesTheSameOptionsAndRefusesAnUnknownClient() throws Exception {
    CliJar.Result r = CliJar.run("interop", "--client", "okhttp", "wss://localhost:1/grpc", "--connect-to",
        "127.0.0.1:" + nginxPort(), "--trust-certificates", ca, "--header", "X-Tenant: blue", "--ping-interval", "2s",
        "--ping-timeout", "5s", "--case", "empty_unary");
    assertEquals(0, r.exitCode, r.toString());
    assertEquals("PASS empty_unary\n1 passed, 0 failed\n", r.stdout);
    CliJar.Result unknown = CliJar.run("interop", "--client", "curl", url);
    assertEquals(2, unknown.exitCode, unknown.toString());
    assertEquals("interop: --client: curl (expected: netty or okhttp)\n", unknown.stderr);
  }

  @Test
  void interopOffersABearerTokenSubprotocolWithEitherClientAndNeverPrintsIt() throws Exception {
    String token = "cli-S3cret-t0ken";
    File tokens = new File(Files.createTempDirectory("tokens").toFile(), "tokens.txt");
    Files.writeString(tokens.toPath(), token + " alice\n");
    try (TunnelServerJar gateway = TunnelServerJar.start("--port", "0", "--bind", "127.0.0.1", "--auth-tokens",
        tokens.getPath())) {
      String gatewayUrl = gateway.awaitUrl();
      String[] cases = {"--case", "empty_unary", "--case", "large_unary", "--case", "ping_pong"};
      // The gateway wants the token: without it, either client's upgrade is refused.
      CliJar.Result refused = CliJar.run(concat(new String[] {"interop", "--client", "okhttp", gatewayUrl,
          "--case", "empty_unary"}));
      assertEquals(1, refused.exitCode, refused.toString());
      assertTrue(refused.stdout.contains("401 Unauthorized"), refused.toString());
      for (String client : new String[] {"netty", "okhttp"}) {
        // As a browser offers it: the OkHttp client takes it through bearerTokenSubprotocol, in any case of prefix.
        for (String offer : new String[] {"wsgrpc.v1,bearer." + token, "Bearer." + token + ",wsgrpc.v1"}) {
          CliJar.Result r = CliJar.run(concat(new String[] {"interop", "--client", client, gatewayUrl,
              "--subprotocols", offer}, cases));
          assertEquals(0, r.exitCode, client + " " + r);
          assertEquals("PASS empty_unary\nPASS large_unary\nPASS ping_pong\n3 passed, 0 failed\n", r.stdout,
              client + " " + r);
          assertFalse(r.toString().contains(token), client + " " + r);
        }
      }
      // The OkHttp client offers one token: two are refused before anything is dialed, neither shown.
      CliJar.Result two = CliJar.run("interop", "--client", "okhttp", gatewayUrl, "--subprotocols",
          "wsgrpc.v1,bearer." + token + ",bearer.other-" + token);
      assertEquals(2, two.exitCode, two.toString());
      assertEquals("interop: --subprotocols: bearer.<redacted>,bearer.<redacted> (expected: at most one "
          + "bearer.<token> with --client okhttp)\n", two.stderr);
      gateway.close();
      assertFalse((gateway.stdout() + gateway.stderr()).contains(token), gateway.stdout() + gateway.stderr());
    }
  }

  private static String[] concat(String[]... parts) {
    return java.util.Arrays.stream(parts).flatMap(java.util.Arrays::stream).toArray(String[]::new);
  }

  @Test
  void interopReportsEachFailingCaseAndExits1() throws Exception {
    CliJar.Result r = CliJar.run("interop", healthOnlyUrl, "--case", "empty_unary", "--case", "large_unary");
    assertEquals(1, r.exitCode, r.toString());
    assertTrue(r.stdout.startsWith("FAIL empty_unary: expected the call to succeed but it failed with "
        + "UNIMPLEMENTED"), r.toString());
    assertTrue(r.stdout.endsWith("0 passed, 2 failed\n"), r.toString());
    assertFalse(r.stdout.contains("PASS"), r.toString());
  }

  @Test
  void connectToAndHeaderOptionsReachTheLibrary() throws Exception {
    // Dial nginx by address for a URL whose port has nothing behind it: connect-to does the rest.
    CliJar.Result r = CliJar.run("interop", "wss://localhost:1/grpc", "--connect-to", "127.0.0.1:" + nginxPort(),
        "--trust-certificates", ca, "--header", "X-Tenant: blue", "--case", "empty_unary");
    assertEquals(0, r.exitCode, r.toString());
    assertEquals("PASS empty_unary\n1 passed, 0 failed\n", r.stdout);
    assertTrue(new File(ca).isFile());
  }
}
