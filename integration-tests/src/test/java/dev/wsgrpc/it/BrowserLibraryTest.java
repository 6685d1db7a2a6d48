package dev.wsgrpc.it;

import dev.wsgrpc.server.BearerTokens;
import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** The browser suite in Chromium against the library server: services in-process, browser protocols on. */
class BrowserLibraryTest {

  private static BrowserHarness browser;
  private static Server server;
  private static String target;
  private static Server guarded;
  private static String guardedTarget;

  @BeforeAll
  static void start() throws Exception {
    browser = BrowserHarness.start();
    BrowserOptions options = BrowserOptions.newBuilder(List.of(browser.origin()))
        .allowedHeaders(List.of("x-echo-initial", "x-echo-trailing-bin"))
        .exposedHeaders(List.of("x-echo-initial"))
        .build();
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder().browser(options).build())
        .maxInboundMessageSize(DirectTunnelSetup.MAX_MESSAGE)
        .addService(ServerInterceptors.intercept(new EchoService(), new MetadataEchoInterceptor()))
        .build()
        .start();
    target = "http://127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    guarded = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder()
                .browser(BrowserOptions.forOrigins(browser.origin()))
                .authenticator(BearerTokens.of(Map.of("browser-token", "alice")))
                .build())
        .maxInboundMessageSize(1024 * 1024)
        .addService(new EchoService())
        .build()
        .start();
    guardedTarget = "http://127.0.0.1:" + ((InetSocketAddress) guarded.getListenSockets().get(0)).getPort();
  }

  @AfterAll
  static void stop() throws Exception {
    for (Server s : new Server[] {server, guarded}) {
      if (s != null) {
        s.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
    if (browser != null) {
      browser.close();
    }
  }

  @TestFactory
  Stream<DynamicTest> grpcWebInChromium() throws Exception {
    return BrowserHarness.tests(browser.run(target, "grpc-web"));
  }

  /** A bearer-token authenticator and a 1 MiB message limit: the page's client sees each refusal as a status. */
  @TestFactory
  Stream<DynamicTest> grpcWebRefusalsInChromium() throws Exception {
    return BrowserHarness.tests(browser.run(guardedTarget, "grpc-web-guarded"));
  }
}
