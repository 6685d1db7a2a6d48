package dev.wsgrpc.it;

import static dev.wsgrpc.it.TunnelClient.OKHTTP;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
 * Basic authentication), websockify in front of a plain grpc-java server, and the gateway jar in front of Python's
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
      String target = setup.url().replaceAll("^wss://([^/]+)/.*$", "$1");
      assertTrue(setup.proxy().connects(target) >= 1, "expected a CONNECT " + target + " in\n" + setup.proxy().log());
    }
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
    private PythonEchoServer python;
    private TunnelServerJar jar;
    private ManagedChannel channel;

    @AfterEach
    void stop() throws Exception {
      if (channel != null) {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
      if (jar != null) {
        jar.close();
      }
      if (python != null) {
        python.close();
      }
    }

    @Test
    void unaryAndStreamingOverWs() throws Exception {
      python = PythonEchoServer.start();
      jar = TunnelServerJar.start("--port", "0", "--mode", "relay", "--upstream", "127.0.0.1:" + python.port());
      channel = OKHTTP.newChannel(jar.awaitUrl());
      PythonEchoServer.assertEchoes(channel);
    }

    @Test
    void unaryAndStreamingOverWss() throws Exception {
      python = PythonEchoServer.start();
      TestCertificates certs = TestCertificates.create();
      jar = TunnelServerJar.start("--port", "0", "--mode", "relay", "--upstream", "127.0.0.1:" + python.port(),
          "--tls-cert", certs.serverCertPem().getPath(), "--tls-key", certs.serverKeyPem().getPath());
      String url = jar.awaitUrl();
      assertTrue(url.startsWith("wss://"), url);
      channel = OKHTTP.newChannel(new TunnelClient.Target(url).trust(certs.caPem()));
      PythonEchoServer.assertEchoes(channel);
    }
  }
}
