package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the client says when a real nginx on the path answers the upgrade with something else: a page, a redirect,
 * an error, or a proxied request stripped of its Upgrade headers. Each description names the status line, the URL
 * and the {@code Server} header, so a user can tell which hop broke it. Also: the connect-to override, with nginx
 * choosing its certificate by SNI and refusing TLS to any other name.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MiddleboxAnswersTest {

  /** A name no resolver knows: only the connect-to override can reach it. */
  private static final String EDGE_NAME = "edge.wsgrpc.test";

  private static final EchoService service = new EchoService();
  private static TestCertificates certs;
  private static Server server;
  private static ReverseProxy nginx;
  private static ReverseProxy tlsNginx;
  private static String nginxVersion;

  @BeforeAll
  static void start() throws Exception {
    ReverseProxy.Kind.NGINX.require();
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), WebSocketServerOptions.DEFAULT)
        .addService(service).build().start();
    int upstream = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    int port = ExternalProgram.freePort();
    // Misconfigurations users meet on the way, each on its own path.
    nginx = ReverseProxy.nginx(port, "server {\n"
        + "    listen 127.0.0.1:" + port + ";\n"
        + "    location /page { default_type text/html; return 200 '<html><body>Welcome!</body></html>'; }\n"
        + "    location /moved { return 301 https://edge.example.com/grpc; }\n"
        + "    location /bad { return 400; }\n"
        + "    location /gateway { proxy_pass http://127.0.0.1:" + ExternalProgram.freePort() + "/grpc; }\n"
        // proxy_http_version 1.1 but no Upgrade/Connection headers: the hop-by-hop headers are dropped.
        + "    location /stripped { proxy_pass http://127.0.0.1:" + upstream + "/grpc; proxy_http_version 1.1; }\n"
        // nginx's defaults: HTTP/1.0 to the upstream, no Upgrade.
        + "    location /defaults { proxy_pass http://127.0.0.1:" + upstream + "/grpc; }\n"
        + "}\n").start();
    certs = TestCertificates.create(EDGE_NAME);
    // TLS only for SNI edge.wsgrpc.test: any other name, or none (as for an IP address), is refused in the handshake.
    tlsNginx = ReverseProxy.nginxTunnel(upstream, certs, "1h", EDGE_NAME, "server {\n"
        + "    listen 127.0.0.1:${PORT} ssl default_server;\n"
        + "    ssl_reject_handshake on;\n"
        + "}\n").start();
    Process v = new ProcessBuilder(ReverseProxy.Kind.NGINX.require(), "-v").redirectErrorStream(true).start();
    String banner = new String(v.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    v.waitFor(10, TimeUnit.SECONDS);
    nginxVersion = banner.substring(banner.indexOf("nginx/"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (nginx != null) {
      nginx.close();
    }
    if (tlsNginx != null) {
      tlsNginx.close();
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    service.shutdown();
  }

  private static Status callThrough(WebSocketClientOptions options) throws InterruptedException {
    ManagedChannel channel = WebSocketChannels.newChannelBuilder(options).build();
    try {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
          .withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(10)));
      assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
      return e.getStatus();
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private static String url(String path) {
    return "ws://127.0.0.1:" + nginx.port() + path;
  }

  private static String describe(String path) throws InterruptedException {
    return callThrough(WebSocketClientOptions.newBuilder(url(path)).build()).getDescription();
  }

  @Test
  void pageInsteadOfTheUpgrade() throws Exception {
    assertEquals("expected HTTP 101 but was 200 OK from " + url("/page") + " (Server: " + nginxVersion + "): a proxy "
        + "on the path did not pass the Upgrade and Connection headers, or the URL is not a WebSocket endpoint",
        describe("/page"));
  }

  @Test
  void redirect() throws Exception {
    assertEquals("expected HTTP 101 but was 301 Moved Permanently from " + url("/moved") + " (Server: " + nginxVersion
        + "): redirected to https://edge.example.com/grpc", describe("/moved"));
  }

  @Test
  void badRequest() throws Exception {
    assertEquals("expected HTTP 101 but was 400 Bad Request from " + url("/bad") + " (Server: " + nginxVersion + ")",
        describe("/bad"));
  }

  @Test
  void badGatewayWhenTheUpstreamIsDown() throws Exception {
    assertEquals("expected HTTP 101 but was 502 Bad Gateway from " + url("/gateway") + " (Server: " + nginxVersion
        + ")", describe("/gateway"));
  }

  @Test
  void proxyStrippingUpgradeHeaders() throws Exception {
    // nginx answers with the tunnel server's refusal, which says what was missing when it arrived.
    assertEquals("expected HTTP 101 but was 400 Bad Request from " + url("/stripped") + " (Server: " + nginxVersion
        + "); it said: \"expected 'Upgrade: websocket' but was missing\"", describe("/stripped"));
  }

  @Test
  void proxyWithNginxDefaults() throws Exception {
    assertEquals("expected HTTP 101 but was 400 Bad Request from " + url("/defaults") + " (Server: " + nginxVersion
        + "); it said: \"expected HTTP/1.1 but was HTTP/1.0\"", describe("/defaults"));
  }

  @Test
  void connectToDialsOneAddressWhileHostAndSniCarryTheUrlsHost() throws Exception {
    // The URL's host resolves nowhere; the channel dials nginx instead, which serves only SNI edge.wsgrpc.test and
    // routes by the Host header.
    ManagedChannel channel = WebSocketChannels.newChannelBuilder(
        WebSocketClientOptions.newBuilder("wss://" + EDGE_NAME + "/grpc")
            .connectTo("127.0.0.1", tlsNginx.port())
            .tls(ClientTls.trusting(certs.caPem()))
            .build()).build();
    try {
      assertEquals(10, EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .unary(EchoService.payload(10)).getPayload().size());
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    // The control: dialing the same address by IP sends no SNI, and nginx refuses the handshake.
    Status refused = callThrough(WebSocketClientOptions.newBuilder("wss://127.0.0.1:" + tlsNginx.port() + "/grpc")
        .tls(ClientTls.trusting(certs.caPem())).build());
    assertTrue(refused.getDescription().startsWith("TLS handshake with wss://127.0.0.1:" + tlsNginx.port()
        + "/grpc failed: "), refused.getDescription());
  }
}
