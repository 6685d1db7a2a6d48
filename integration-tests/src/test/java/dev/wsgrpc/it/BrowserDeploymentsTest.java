package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.BearerTokens;
import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.TunnelInfo;
import dev.wsgrpc.server.TunnelListener;
import dev.wsgrpc.server.TunnelPrincipal;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.ExternalProgram;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The browser suite in Chromium through the deployments people run: the gateway jar (proxy mode,
 * {@code --browser-origins}) in front of a Python grpcio server, and nginx in front of the library server.
 */
class BrowserDeploymentsTest {

  private BrowserHarness browser;
  private Process python;
  private TunnelServerJar jar;
  private Server server;
  private ReverseProxy nginx;
  private final EchoService echo = new EchoService();

  @AfterEach
  void stop() throws Exception {
    if (nginx != null) {
      nginx.close();
    }
    if (jar != null) {
      jar.close();
    }
    if (python != null) {
      python.destroy();
      python.waitFor(10, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    echo.shutdown();
    if (browser != null) {
      browser.close();
    }
  }

  @TestFactory
  Stream<DynamicTest> gatewayInFrontOfPythonGrpcio() throws Exception {
    browser = BrowserHarness.start();
    int upstream = startPythonUpstream();
    jar = TunnelServerJar.start("--port", "0", "--upstream", "127.0.0.1:" + upstream,
        "--browser-origins", browser.origin(), "--browser-headers", "x-echo-initial,x-echo-trailing-bin",
        "--max-inbound-message", String.valueOf(DirectTunnelSetup.MAX_MESSAGE));
    int port = URI.create(jar.awaitUrl()).getPort();
    return BrowserHarness.tests(browser.run("http://127.0.0.1:" + port, "grpc-web", "grpc-websockets"));
  }

  /**
   * JSON over WebSocket from a plain {@code WebSocket} in the page, through the gateway jar in front of a grpc-java
   * upstream that serves server reflection (where the jar finds the schemas).
   */
  @TestFactory
  Stream<DynamicTest> gatewayJsonWithSchemasFromReflection() throws Exception {
    browser = BrowserHarness.start();
    server = io.grpc.netty.NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(echo, new MetadataEchoInterceptor()))
        .addService(io.grpc.protobuf.services.ProtoReflectionServiceV1.newInstance())
        .build()
        .start();
    jar = TunnelServerJar.start("--port", "0", "--upstream",
        "127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort(),
        "--browser-origins", browser.origin());
    int port = URI.create(jar.awaitUrl()).getPort();
    return BrowserHarness.tests(browser.run("http://127.0.0.1:" + port, "json-ws"));
  }

  @TestFactory
  Stream<DynamicTest> nginxInFrontOfTheLibraryServer() throws Exception {
    browser = BrowserHarness.start();
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder()
                .browser(BrowserOptions.newBuilder(List.of(browser.origin()))
                    .allowedHeaders(List.of("x-echo-initial", "x-echo-trailing-bin"))
                    .exposedHeaders(List.of("x-echo-initial"))
                    .build())
                .build())
        .maxInboundMessageSize(DirectTunnelSetup.MAX_MESSAGE)
        .addService(ServerInterceptors.intercept(echo, new MetadataEchoInterceptor()))
        .build()
        .start();
    int port = nginxBrowserConfIn(server);
    return BrowserHarness.tests(browser.run("http://127.0.0.1:" + port, "grpc-web", "grpc-websockets"));
  }

  /**
   * nginx with upstream keepalive ({@code nginx-browser.conf}) pools its connections to the server across the users
   * of its clients: each gRPC-Web request is admitted on its own, and its call sees its own principal and client.
   */
  @Test
  void nginxPoolsGrpcWebRequestsOfDifferentUsersOnItsUpstreamConnections() throws Exception {
    java.util.concurrent.atomic.AtomicInteger connections = new java.util.concurrent.atomic.AtomicInteger();
    java.util.Queue<String> seen = new java.util.concurrent.ConcurrentLinkedQueue<>();
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder()
                .browser(BrowserOptions.forOrigins("*"))
                .access(AccessPolicy.newBuilder()
                    .authenticator(BearerTokens.of(Map.of("tok-alice", "alice", "tok-bob", "bob")))
                    .trustedProxies(List.of("127.0.0.0/8"))
                    .build())
                .listener(new TunnelListener() {
                  @Override
                  public void tunnelOpened(TunnelInfo tunnel) {
                    connections.incrementAndGet();
                  }
                })
                .build())
        .addService(ServerInterceptors.intercept(echo, new io.grpc.ServerInterceptor() {
          @Override
          public <ReqT, RespT> io.grpc.ServerCall.Listener<ReqT> interceptCall(io.grpc.ServerCall<ReqT, RespT> call,
              io.grpc.Metadata headers, io.grpc.ServerCallHandler<ReqT, RespT> next) {
            seen.add(TunnelPrincipal.current() + " " + ((InetSocketAddress) call.getAttributes()
                .get(io.grpc.Grpc.TRANSPORT_ATTR_REMOTE_ADDR)).getAddress().getHostAddress());
            return next.startCall(call, headers);
          }
        }))
        .build()
        .start();
    int port = nginxBrowserConfIn(server);
    java.net.http.HttpClient http = java.net.http.HttpClient.newBuilder()
        .version(java.net.http.HttpClient.Version.HTTP_1_1).build();
    byte[] message = dev.wsgrpc.testing.proto.EchoRequest.getDefaultInstance().toByteArray();
    byte[] body = java.nio.ByteBuffer.allocate(5 + message.length).put((byte) 0).putInt(message.length)
        .put(message).array();
    List<String> expected = new java.util.ArrayList<>();
    for (int i = 0; i < 6; i++) {
      String user = i % 2 == 0 ? "alice" : "bob";
      String client = "198.51.100." + (i + 1);
      expected.add(user + " " + client);
      java.net.http.HttpResponse<String> answer = http.send(java.net.http.HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + port + "/wsgrpc.testing.Echo/Unary"))
          .header("Content-Type", "application/grpc-web+proto")
          .header("Authorization", "Bearer tok-" + user)
          .header("X-Forwarded-For", client)
          .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(body))
          .timeout(java.time.Duration.ofSeconds(30))
          .build(), java.net.http.HttpResponse.BodyHandlers.ofString(StandardCharsets.ISO_8859_1));
      assertTrue(answer.body().contains("grpc-status: 0\r\n"), "call " + i + " as " + user + ": "
          + answer.headers().map() + " " + answer.body());
    }
    assertEquals(expected, new java.util.ArrayList<>(seen));
    assertTrue(connections.get() < expected.size(),
        "expected nginx to send several requests on one upstream connection but it opened " + connections.get());
  }

  /** Starts the Python grpcio Echo server of the browser suite and returns its port. */
  private int startPythonUpstream() throws Exception {
    String interpreter = ExternalProgram.requirePythonWithGrpc();
    Path copy = Files.createTempFile("browser_upstream", ".py");
    copy.toFile().deleteOnExit();
    Files.copy(Paths.get(getClass().getResource("/python/browser_upstream.py").toURI()), copy,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    python = new ProcessBuilder(interpreter, copy.toString()).redirectErrorStream(true).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(python.getInputStream(), StandardCharsets.UTF_8));
    String line = out.readLine();
    if (line == null || !line.trim().matches("\\d+")) {
      throw new AssertionError("python grpcio server did not start: " + line);
    }
    return Integer.parseInt(line.trim());
  }

  /** Starts nginx with proxies/nginx-browser.conf in front of {@code server} (as {@link #nginx}); returns its port. */
  private int nginxBrowserConfIn(Server server) throws Exception {
    int port = ExternalProgram.freePort();
    Map<String, String> values = new LinkedHashMap<>();
    values.put("LISTEN", "127.0.0.1:" + port);
    values.put("UPSTREAM", "127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort());
    nginx = ReverseProxy.nginx(port, ReverseProxy.template("proxies/nginx-browser.conf", values)).start();
    return port;
  }
}
