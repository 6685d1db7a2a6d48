package dev.wsgrpc.it;

import static dev.wsgrpc.it.TunnelClient.OKHTTP;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.ManagedChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The shared suites with the OkHttp client for Android ({@code tunnel-client-okhttp}), over ws and wss, against
 * every kind of server on the path: the library server, nginx, HAProxy, a corporate CONNECT proxy (tinyproxy with
 * Basic authentication, over ws and wss), websockify in front of a plain grpc-java server, and the gateway jar in front of Python's
 * grpcio. The Netty client runs the same suites in the {@code *EndToEndTest}/{@code *InteropTest} classes; only the
 * client dimension differs. To keep CI short, the full end-to-end suite runs on two setups (ws direct, wss through
 * nginx), the interop cases on the rest; {@link ReconnectTest} covers failures with both clients.
 */
class OkHttpClientSuitesTest {

  @Nested
  class WsEndToEnd extends AbstractEndToEndSuite {
    @Override
    protected TunnelSetup newSetup() {
      return DirectTunnelSetup.ws(OKHTTP);
    }
  }

  @Nested
  class NginxWssEndToEnd extends AbstractEndToEndSuite {
    @Override
    protected TunnelSetup newSetup() {
      return ProxiedTunnelSetup.nginx(true).client(OKHTTP);
    }
  }

  @Nested
  class WsInterop extends AbstractInteropSuite {
    @Override
    protected TunnelSetup newSetup() {
      return DirectTunnelSetup.ws(OKHTTP);
    }
  }

  @Nested
  class WssInterop extends AbstractInteropSuite {
    @Override
    protected TunnelSetup newSetup() {
      return DirectTunnelSetup.wss(OKHTTP);
    }
  }

  @Nested
  class NginxWsInterop extends AbstractInteropSuite {
    @Override
    protected TunnelSetup newSetup() {
      return ProxiedTunnelSetup.nginx(false).client(OKHTTP);
    }
  }

  @Nested
  class HaproxyWsInterop extends AbstractInteropSuite {
    @Override
    protected TunnelSetup newSetup() {
      return ProxiedTunnelSetup.haproxy(false).client(OKHTTP);
    }
  }

  @Nested
  class HaproxyWssInterop extends AbstractInteropSuite {
    @Override
    protected TunnelSetup newSetup() {
      return ProxiedTunnelSetup.haproxy(true).client(OKHTTP);
    }
  }

  /** ws:// through tinyproxy: the OkHttp client CONNECTs for ws as for wss (as the Netty client does). */
  @Nested
  class TinyproxyWsEndToEnd extends AbstractEndToEndSuite {
    private ConnectProxyTunnelSetup setup;

    @Override
    protected TunnelSetup newSetup() {
      setup = new ConnectProxyTunnelSetup(OKHTTP, false);
      return setup;
    }

    @AfterEach
    void wentThroughTheProxy() {
      assertWentThrough(setup);
    }
  }

  @Nested
  class TinyproxyWsInterop extends AbstractInteropSuite {
    private ConnectProxyTunnelSetup setup;

    @Override
    protected TunnelSetup newSetup() {
      setup = new ConnectProxyTunnelSetup(OKHTTP, false);
      return setup;
    }

    @AfterEach
    void wentThroughTheProxy() {
      assertWentThrough(setup);
    }
  }

  @Nested
  class TinyproxyWssInterop extends AbstractInteropSuite {
    private ConnectProxyTunnelSetup setup;

    @Override
    protected TunnelSetup newSetup() {
      setup = new ConnectProxyTunnelSetup(OKHTTP);
      return setup;
    }

    @AfterEach
    void wentThroughTheProxy() {
      assertWentThrough(setup);
    }
  }

  private static void assertWentThrough(ConnectProxyTunnelSetup setup) {
    String target = setup.connectTarget();
    assertTrue(setup.proxy().connects(target) >= 1, "expected a CONNECT " + target + " in\n" + setup.proxy().log());
  }

  @Nested
  class WebsockifyInterop extends AbstractInteropSuite {
    @Override
    protected TunnelSetup newSetup() {
      return new WebsockifyTunnelSetup(OKHTTP);
    }
  }

  /** The gateway jar (relay mode) in front of Python's grpcio, over ws and wss. */
  @Nested
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  class GatewayBeforePythonGrpcio {
    private final Closer closer = new Closer();

    @AfterEach
    void stop() throws Exception {
      closer.close();
    }

    @Test
    void unaryAndStreamingOverWs() throws Exception {
      TunnelServerJar jar = PythonEchoServer.behindTheGateway(closer, null);
      PythonEchoServer.assertEchoes(closer.add(OKHTTP.newChannel(jar.awaitUrl())));
    }

    @Test
    void unaryAndStreamingOverWss() throws Exception {
      TestCertificates certs = TestCertificates.create();
      String url = PythonEchoServer.behindTheGateway(closer, certs).awaitUrl();
      assertTrue(url.startsWith("wss://"), url);
      PythonEchoServer.assertEchoes(closer.add(OKHTTP.newChannel(new TunnelClient.Target(url).trust(certs.caPem()))));
    }
  }
}
