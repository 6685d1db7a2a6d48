package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.BearerTokens;
import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The browser suite in Chromium against the library server (services in-process, browser protocols on): gRPC-Web
 * with connectrpc's client, gRPC over WebSocket with improbable's, and the refusals each shows the page.
 */
class BrowserLibraryTest {

  private static final List<Server> servers = new ArrayList<>();
  private static BrowserHarness browser;
  private static final EchoService echo = new EchoService();
  private static String open;
  private static String guarded;
  private static String otherOrigin;

  @BeforeAll
  static void start() throws Exception {
    browser = BrowserHarness.start();
    BrowserOptions pageOnly = BrowserOptions.newBuilder(List.of(browser.origin()))
        .allowedHeaders(List.of("x-echo-initial", "x-echo-trailing-bin"))
        .exposedHeaders(List.of("x-echo-initial"))
        .build();
    open = start(WebSocketServerOptions.newBuilder().browser(pageOnly).build(), DirectTunnelSetup.MAX_MESSAGE);
    guarded = start(WebSocketServerOptions.newBuilder()
        .browser(BrowserOptions.forOrigins(browser.origin()))
        .access(AccessPolicy.newBuilder()
            .authenticator(BearerTokens.of(Map.of("browser-token", "alice")))
            .build())
        .build(), 1024 * 1024);
    otherOrigin = start(WebSocketServerOptions.newBuilder()
        .browser(BrowserOptions.forOrigins("https://elsewhere.example"))
        .build(), 1024 * 1024);
  }

  private static String start(WebSocketServerOptions options, int maxMessage) throws Exception {
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), options)
        .maxInboundMessageSize(maxMessage)
        .addService(ServerInterceptors.intercept(echo, new MetadataEchoInterceptor()))
        .build()
        .start();
    servers.add(server);
    return "http://127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  @AfterAll
  static void stop() throws Exception {
    for (Server server : servers) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    echo.shutdown();
    if (browser != null) {
      browser.close();
    }
  }

  /** connectrpc's gRPC-Web transport: unary and server streaming, metadata, statuses, deadline, cancel, 4 MiB. */
  @TestFactory
  Stream<DynamicTest> grpcWebInChromium() throws Exception {
    return BrowserHarness.tests(browser.run(open, "grpc-web"));
  }

  /** improbable's WebsocketTransport: all four kinds, 1,000 messages each way, cancel and error mid-stream. */
  @TestFactory
  Stream<DynamicTest> grpcWebSocketsInChromium() throws Exception {
    echo.cancelSignals.drainPermits();
    List<BrowserHarness.CaseResult> results = browser.run(open, "grpc-websockets");
    return Stream.concat(BrowserHarness.tests(results), Stream.of(DynamicTest.dynamicTest(
        "grpc-websockets: closing the socket mid-stream cancels the call on the server",
        () -> assertTrue(echo.cancelSignals.tryAcquire(30, TimeUnit.SECONDS),
            "expected the server to see the bidi call cancelled"))));
  }

  /** A bearer-token authenticator and a 1 MiB message limit: the page's client sees each refusal as a status. */
  @TestFactory
  Stream<DynamicTest> refusalsInChromium() throws Exception {
    return BrowserHarness.tests(browser.run(guarded, "grpc-web-guarded", "grpc-websockets-guarded"));
  }

  /** A server that allows another origin only. */
  @TestFactory
  Stream<DynamicTest> wrongOriginInChromium() throws Exception {
    return BrowserHarness.tests(browser.run(otherOrigin, "wrong-origin"));
  }
}
