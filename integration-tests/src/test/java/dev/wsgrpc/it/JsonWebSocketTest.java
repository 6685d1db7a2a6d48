package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.BearerTokens;
import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.JsonSchemas;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * JSON over a plain WebSocket ({@code wsgrpc-json}) against the library server, schemas from the registered Echo
 * service: from a plain {@code WebSocket} in Chromium (no generated code, no client library) and from Python's
 * {@code websockets} (Debian python3-websockets).
 */
class JsonWebSocketTest {

  private static final List<Server> servers = new ArrayList<>();
  private static final EchoService echo = new EchoService();
  /** The browser protocol each call's transport attributes named. */
  private static final java.util.Queue<String> protocols = new java.util.concurrent.ConcurrentLinkedQueue<>();
  private static String open;
  private static String guarded;

  @BeforeAll
  static void start() throws Exception {
    JsonSchemas schemas = JsonSchemas.of(List.of(echo));
    open = start(WebSocketServerOptions.newBuilder()
        .browser(BrowserOptions.newBuilder(List.of("*")).json(schemas).build()).build());
    guarded = start(WebSocketServerOptions.newBuilder()
        .browser(BrowserOptions.newBuilder(List.of("*")).json(schemas).build())
        .access(AccessPolicy.newBuilder().authenticator(BearerTokens.of(Map.of("json-token", "bob"))).build())
        .build());
  }

  private static String start(WebSocketServerOptions options) throws Exception {
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), options)
        .addService(ServerInterceptors.intercept(echo, new MetadataEchoInterceptor(), new ServerInterceptor() {
          @Override
          public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call,
              Metadata headers, ServerCallHandler<ReqT, RespT> next) {
            protocols.add(String.valueOf(call.getAttributes().get(WebSocketServers.BROWSER_PROTOCOL)));
            return next.startCall(call, headers);
          }
        }))
        .build()
        .start();
    servers.add(server);
    return "127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  @AfterAll
  static void stop() throws Exception {
    for (Server server : servers) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    echo.shutdown();
  }

  /** A plain WebSocket in Chromium: all four kinds, 1,000 messages each way, statuses, a bad message. */
  @TestFactory
  Stream<DynamicTest> plainWebSocketInChromium() throws Exception {
    BrowserHarness browser = BrowserHarness.start();
    try {
      return BrowserHarness.tests(browser.run("http://" + open, "json-ws"));
    } finally {
      browser.close();
    }
  }

  private static List<String> python(String address, String method, String metadata, String messages)
      throws Exception {
    return PythonJsonClient.call("ws://" + address + "/wsgrpc.testing.Echo/" + method, metadata, messages, null);
  }

  @Test
  void pythonUnaryWithMetadata() throws Exception {
    List<String> lines = python(open, "Unary", "{\"x-echo-initial\": \"from-python\"}",
        "[{\"payload\": \"aGk=\"}]");
    assertEquals(List.of("subprotocol wsgrpc-json", "{\"metadata\":{\"x-echo-initial\":\"from-python\"}}",
        "{\"message\":{\"payload\":\"aGk=\",\"messagesReceived\":\"1\",\"bytesReceived\":\"2\"}}",
        "{\"status\":{\"code\":0,\"message\":\"\",\"details\":[]}}", "close 1000"), lines);
    assertTrue(protocols.contains("json-ws"), "the call's transport attribute names the protocol: " + protocols);
  }

  @Test
  void pythonBidi() throws Exception {
    List<String> lines = python(open, "Bidi", "null", "[{\"payload\": \"YQ==\"}, {\"payload\": \"Yg==\"}]");
    assertEquals("{\"message\":{\"payload\":\"YQ==\",\"messagesReceived\":\"1\"}}", lines.get(2));
    assertEquals("{\"message\":{\"payload\":\"Yg==\",\"messagesReceived\":\"2\"}}", lines.get(3));
    assertEquals("close 1000", lines.get(lines.size() - 1));
  }

  @Test
  void pythonWithoutATokenIsRefusedWithAStatusAndWithOneItCalls() throws Exception {
    List<String> refused = python(guarded, "Unary", "null", "[{}]");
    assertTrue(refused.get(1).startsWith("{\"status\":{\"code\":16,"), refused.toString());
    List<String> called = python(guarded, "Unary", "{\"authorization\": \"Bearer json-token\"}",
        "[{\"payload\": \"aGk=\"}]");
    assertTrue(called.contains("{\"status\":{\"code\":0,\"message\":\"\",\"details\":[]}}"), called.toString());
  }
}
