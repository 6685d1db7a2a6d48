package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.ProxyOptions;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The client through a corporate HTTP CONNECT proxy (a real tinyproxy with Basic authentication) to a wss tunnel
 * server: configured explicitly and through the JVM's standard properties; with a wrong password the RPC fails
 * UNAVAILABLE naming the proxy and its 407. (The environment variables are exercised through the command-line
 * tool, whose environment a test can set.)
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConnectProxyTest {

  private final EchoService service = new EchoService();
  private final Map<String, String> savedProperties = new HashMap<>();
  private TestCertificates certs;
  private Server server;
  private Tinyproxy proxy;
  private ManagedChannel channel;
  private String url;

  @BeforeEach
  void start() throws Exception {
    proxy = Tinyproxy.start();
    certs = TestCertificates.create();
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.newBuilder().tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem())).build())
        .addService(service).build().start();
    url = "wss://localhost:" + port() + "/grpc";
  }

  @AfterEach
  void stop() throws Exception {
    for (Map.Entry<String, String> e : savedProperties.entrySet()) {
      if (e.getValue() == null) {
        System.clearProperty(e.getKey());
      } else {
        System.setProperty(e.getKey(), e.getValue());
      }
    }
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (proxy != null) {
      proxy.close();
    }
    service.shutdown();
  }

  /** The version tinyproxy names in its Server header, from its startup banner in the log. */
  private String tinyproxyVersion() throws Exception {
    Process p = new ProcessBuilder(dev.wsgrpc.testing.ExternalProgram.which("tinyproxy"), "-v")
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
    p.waitFor(10, TimeUnit.SECONDS);
    return out.substring(out.lastIndexOf(' ') + 1);
  }

  private int port() {
    return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  private void setProperty(String name, String value) {
    savedProperties.putIfAbsent(name, System.getProperty(name));
    System.setProperty(name, value);
  }

  private WebSocketClientOptions.Builder options() {
    return WebSocketClientOptions.newBuilder(url).tls(ClientTls.trusting(certs.caPem()));
  }

  private int echo(int size) {
    return EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .unary(EchoService.payload(size)).getPayload().size();
  }

  @Test
  void wssThroughAnExplicitProxyWithBasicAuth() {
    channel = WebSocketChannels.newChannelBuilder(options()
        .proxy(ProxyOptions.newBuilder().address("127.0.0.1", proxy.port())
            .credentials(Tinyproxy.USER, Tinyproxy.PASSWORD).build())
        .build()).build();
    assertEquals(1000, echo(1000));
    assertEquals(1, proxy.connects("localhost:" + port()), "one CONNECT through the proxy:\n" + proxy.log());
  }

  @Test
  void wrongPasswordFailsUnavailableNamingTheProxyAndItsAnswer() throws Exception {
    channel = WebSocketChannels.newChannelBuilder(options()
        .proxy(ProxyOptions.newBuilder().address("127.0.0.1", proxy.port()).credentials(Tinyproxy.USER, "wrong")
            .build())
        .build()).build();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> echo(10));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    // tinyproxy answers a wrong password with 401 (a missing one with 407, below); the message quotes either.
    assertEquals("HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option) answered CONNECT localhost:"
        + port() + " with 401 Unauthorized (Server: tinyproxy/" + tinyproxyVersion() + "): the proxy credentials "
        + "were refused", e.getStatus().getDescription());
  }

  @Test
  void missingCredentialsGetTheProxys407() throws Exception {
    channel = WebSocketChannels.newChannelBuilder(options().proxy(ProxyOptions.of("127.0.0.1", proxy.port())).build()).build();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> echo(10));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option) answered CONNECT localhost:"
        + port() + " with 407 Proxy Authentication Required (Server: tinyproxy/" + tinyproxyVersion() + "): the "
        + "proxy wants credentials and none were given", e.getStatus().getDescription());
  }

  @Test
  void jvmProxyPropertiesChooseTheProxy() {
    setProperty("https.proxyHost", "127.0.0.1");
    setProperty("https.proxyPort", String.valueOf(proxy.port()));
    // The JDK's default exempts loopback; here the server is on loopback, so exempt nothing.
    setProperty("http.nonProxyHosts", "");
    channel = WebSocketChannels.newChannelBuilder(options()
        .proxy(ProxyOptions.newBuilder().credentials(Tinyproxy.USER, Tinyproxy.PASSWORD).build())
        .build()).build();
    assertEquals(100, echo(100));
    assertEquals(1, proxy.connects("localhost:" + port()), proxy.log());
  }

  @Test
  void nonProxyHostsLetLoopbackGoDirect() {
    setProperty("https.proxyHost", "127.0.0.1");
    setProperty("https.proxyPort", String.valueOf(proxy.port()));
    setProperty("http.nonProxyHosts", "localhost|127.*");
    channel = WebSocketChannels.newChannelBuilder(options().build()).build();
    assertEquals(100, echo(100));
    assertEquals(0, proxy.connects("localhost:" + port()), proxy.log());
  }

  @Test
  void proxyThatCannotBeReachedIsNamed() throws Exception {
    int closed = dev.wsgrpc.testing.ExternalProgram.freePort();
    channel = WebSocketChannels.newChannelBuilder(options().proxy(ProxyOptions.of("127.0.0.1", closed)).build()).build();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> echo(10));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().startsWith("cannot connect to HTTP proxy 127.0.0.1:" + closed
        + " (from the proxy option) for " + url + ": Connection refused"), e.getStatus().getDescription());
  }
}
