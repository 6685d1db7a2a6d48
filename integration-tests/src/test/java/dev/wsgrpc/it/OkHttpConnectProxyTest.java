package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.okhttp.OkHttpWebSocketChannels;
import dev.wsgrpc.okhttp.OkHttpWebSocketOptions;
import dev.wsgrpc.okhttp.ProxyOptions;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.testing.integration.TestServiceImpl;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The OkHttp client's ws:// tunnels through a real corporate proxy (tinyproxy with Basic authentication), which
 * passes them only through {@code CONNECT}: a refusal fails UNAVAILABLE naming the proxy and its answer, in the
 * Netty client's words ({@link ConnectProxyTest}); {@code wsgrpc-cli interop --client okhttp} goes through the proxy
 * given by {@code --proxy} or by {@code http_proxy}. The suites over ws and wss through tinyproxy are in {@link
 * OkHttpClientSuitesTest}; malformed proxy answers are unit-tested in tunnel-client-okhttp's ProxyConnectTest.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class OkHttpConnectProxyTest {

  private final Closer closer = new Closer();
  private final ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(2);
  private int port;
  private String url;

  @BeforeEach
  void start() throws Exception {
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.DEFAULT)
        .addService(ServerInterceptors.intercept(new TestServiceImpl(scheduler), TestServiceImpl.interceptors()))
        .addService(new EchoService())
        .build().start();
    closer.add(server);
    port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    url = "ws://127.0.0.1:" + port + "/grpc";
  }

  @AfterEach
  void stop() throws Exception {
    closer.close();
    scheduler.shutdownNow();
  }

  private Tinyproxy tinyproxy(String... config) throws Exception {
    Tinyproxy proxy = Tinyproxy.start(config);
    closer.add(proxy);
    return proxy;
  }

  private Status fails(ProxyOptions proxy) {
    ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(
        OkHttpWebSocketOptions.newBuilder(url).proxy(proxy).build()).build();
    closer.add(channel);
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(10)));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
    return e.getStatus();
  }

  private static String tinyproxyVersion() throws Exception {
    Process p = new ProcessBuilder(ExternalProgram.which("tinyproxy"), "-v").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    p.waitFor(10, TimeUnit.SECONDS);
    return out.substring(out.lastIndexOf(' ') + 1);
  }

  @Test
  void wrongPasswordFailsUnavailableNamingTheProxyAndItsAnswer() throws Exception {
    Tinyproxy proxy = tinyproxy();
    Status status = fails(ProxyOptions.newBuilder().address("127.0.0.1", proxy.port())
        .credentials(Tinyproxy.USER, "wrong").build());
    // tinyproxy answers a wrong password with 401, a missing one with 407 (below); the Netty client says the same.
    assertEquals("HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option) answered CONNECT 127.0.0.1:"
        + port + " with 401 Unauthorized (Server: tinyproxy/" + tinyproxyVersion() + "): the proxy credentials were "
        + "refused", status.getDescription());
  }

  @Test
  void missingCredentialsGetTheProxys407() throws Exception {
    Tinyproxy proxy = tinyproxy();
    Status status = fails(ProxyOptions.of("127.0.0.1", proxy.port()));
    assertEquals("HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option) answered CONNECT 127.0.0.1:"
        + port + " with 407 Proxy Authentication Required (Server: tinyproxy/" + tinyproxyVersion() + "): the proxy "
        + "wants credentials and none were given", status.getDescription());
  }

  @Test
  void aProxyThatAllowsOnlyPort443RefusesTheTunnelsPortWith403() throws Exception {
    Tinyproxy proxy = tinyproxy("ConnectPort 443");
    Status status = fails(ProxyOptions.newBuilder().address("127.0.0.1", proxy.port())
        .credentials(Tinyproxy.USER, Tinyproxy.PASSWORD).build());
    String description = status.getDescription();
    assertTrue(description.startsWith("HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option) answered "
        + "CONNECT 127.0.0.1:" + port + " with 403 "), description);
    assertTrue(description.endsWith("(Server: tinyproxy/" + tinyproxyVersion() + "): the proxy does not allow "
        + "CONNECT to this host or port"), description);
  }

  @Test
  void cliInteropWithTheOkHttpClientGoesThroughTheProxyForWs() throws Exception {
    Tinyproxy proxy = tinyproxy();
    CliJar.Result r = CliJar.run("interop", "--client", "okhttp", url, "--proxy",
        Tinyproxy.USER + ":" + Tinyproxy.PASSWORD + "@127.0.0.1:" + proxy.port());
    assertEquals(0, r.exitCode, r.toString());
    assertTrue(r.stdout.endsWith("14 passed, 0 failed\n"), r.toString());
    long viaOption = proxy.connects("127.0.0.1:" + port);
    assertTrue(viaOption >= 1, "expected a CONNECT 127.0.0.1:" + port + " in\n" + proxy.log());

    // The same proxy named by http_proxy (ws), as the standard settings choose it.
    r = CliJar.run(Map.of("http_proxy", "http://" + Tinyproxy.USER + ":" + Tinyproxy.PASSWORD + "@127.0.0.1:"
        + proxy.port()), "interop", "--client", "okhttp", url, "--case", "empty_unary");
    assertEquals(0, r.exitCode, r.toString());
    assertEquals("PASS empty_unary\n1 passed, 0 failed\n", r.stdout, r.toString());
    assertTrue(proxy.connects("127.0.0.1:" + port) > viaOption, "expected another CONNECT in\n" + proxy.log());
  }
}
