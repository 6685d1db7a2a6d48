package dev.wsgrpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.HttpConnectProxiedSocketAddress;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.proxy.HttpProxyHandler;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

class WebSocketProxyDetectorTest {

  private final Map<String, String> properties = new HashMap<>();
  private final Map<String, String> environment = new HashMap<>();

  private WebSocketProxyDetector detector(WebSocketClientOptions options) {
    return new WebSocketProxyDetector(options, properties::get, environment::get);
  }

  private WebSocketProxyDetector.Choice choose(String url) throws IOException {
    return detector(WebSocketClientOptions.newBuilder(url).build()).choose();
  }

  @Test
  void nothingConfiguredMeansDirect() throws IOException {
    assertNull(choose("wss://edge.example.com/grpc"));
  }

  @Test
  void explicitProxyWinsOverEverything() throws IOException {
    environment.put("HTTPS_PROXY", "http://env-proxy:8080");
    properties.put("https.proxyHost", "prop-proxy");
    WebSocketProxyDetector.Choice c = detector(WebSocketClientOptions.newBuilder("wss://edge.example.com/grpc")
        .proxy(ProxyOptions.newBuilder().address("explicit", 3128).credentials("alice", "pw").build()).build()).choose();
    assertEquals("HTTP proxy explicit:3128 (from the proxy option)", c.describe());
    assertEquals("alice", c.username);
    assertEquals("pw", c.password);
  }

  @Test
  void jvmPropertiesComeBeforeTheEnvironmentAndDependOnTheScheme() throws IOException {
    environment.put("HTTPS_PROXY", "http://env-proxy:8080");
    properties.put("https.proxyHost", "secure-proxy");
    properties.put("https.proxyPort", "8443");
    properties.put("http.proxyHost", "plain-proxy");
    assertEquals("HTTP proxy secure-proxy:8443 (from https.proxyHost)",
        choose("wss://edge.example.com/grpc").describe());
    assertEquals("HTTP proxy plain-proxy:80 (from http.proxyHost)", choose("ws://edge.example.com/grpc").describe());
  }

  @Test
  void jvmPropertiesSkipLoopbackByDefaultAndHonourNonProxyHosts() throws IOException {
    properties.put("https.proxyHost", "secure-proxy");
    assertNull(choose("wss://localhost:8443/grpc"));
    assertNull(choose("wss://127.0.0.1:8443/grpc"));
    properties.put("http.nonProxyHosts", "*.internal|intranet");
    assertNull(choose("wss://api.internal/grpc"));
    assertNull(choose("wss://intranet/grpc"));
    assertEquals("secure-proxy", choose("wss://localhost/grpc").host, "the explicit list replaces the default");
  }

  @Test
  void environmentProxyUrlGivesHostPortAndCredentials() throws IOException {
    environment.put("HTTPS_PROXY", "http://bob:p%40ss%3Aword@proxy.corp:3128/");
    WebSocketProxyDetector.Choice c = choose("wss://edge.example.com/grpc");
    assertEquals("HTTP proxy proxy.corp:3128 (from HTTPS_PROXY)", c.describe());
    assertEquals("bob", c.username);
    assertEquals("p@ss:word", c.password);
    assertFalse(c.toString().contains("p@ss"), c.toString());
  }

  /** {@code ::1:3128} would read as an address without a port. */
  @Test
  void anIpv6ProxyIsNamedInBrackets() throws IOException {
    environment.put("HTTPS_PROXY", "http://[::1]:3128");
    assertEquals("HTTP proxy [::1]:3128 (from HTTPS_PROXY)", choose("wss://edge.example.com/grpc").describe());
    for (String host : new String[] {"::1", "[::1]"}) {
      assertEquals("HTTP proxy [::1]:3128 (from the proxy option)",
          detector(WebSocketClientOptions.newBuilder("wss://edge.example.com/grpc")
              .proxy(ProxyOptions.of(host, 3128)).build()).choose().describe());
    }
  }

  @Test
  void lowerCaseNamesComeFirstAndWsUsesHttpProxy() throws IOException {
    environment.put("HTTPS_PROXY", "upper:1");
    environment.put("https_proxy", "lower:2");
    environment.put("HTTP_PROXY", "http://plain:3");
    assertEquals("HTTP proxy lower:2 (from https_proxy)", choose("wss://e.example/grpc").describe());
    assertEquals("HTTP proxy plain:3 (from HTTP_PROXY)", choose("ws://e.example/grpc").describe());
    environment.clear();
    environment.put("ALL_PROXY", "all:4");
    assertEquals("HTTP proxy all:4 (from ALL_PROXY)", choose("ws://e.example/grpc").describe());
  }

  @Test
  void noProxyExcludesHostsDomainsAddressesAndPorts() throws IOException {
    environment.put("HTTPS_PROXY", "http://proxy.corp:3128");
    environment.put("NO_PROXY", "internal.example, .corp.example,10.0.0.0/8 ,[::1], only-443.example:443");
    assertNull(choose("wss://internal.example/grpc"));
    assertNull(choose("wss://api.internal.example/grpc"));
    assertNull(choose("wss://corp.example/grpc"));
    assertNull(choose("wss://a.b.corp.example/grpc"));
    assertNull(choose("wss://10.1.2.3/grpc"));
    assertNull(choose("wss://[::1]:8443/grpc"));
    assertNull(choose("wss://only-443.example/grpc"));
    assertEquals("proxy.corp", choose("wss://only-443.example:8443/grpc").host);
    assertEquals("proxy.corp", choose("wss://notinternal.example/grpc").host);
    assertEquals("proxy.corp", choose("wss://11.0.0.1/grpc").host);
    environment.put("NO_PROXY", "*");
    assertNull(choose("wss://anything.example/grpc"));
  }

  @Test
  void useSystemProxyOffIgnoresTheStandardSettings() throws IOException {
    environment.put("HTTPS_PROXY", "http://proxy.corp:3128");
    assertNull(detector(WebSocketClientOptions.newBuilder("wss://e.example/grpc").proxy(ProxyOptions.DIRECT).build())
        .choose());
  }

  @Test
  void unusableSettingsSayWhy() {
    environment.put("HTTPS_PROXY", "https://user:secret@proxy.corp:3128");
    IOException e = assertThrows(IOException.class, () -> choose("wss://e.example/grpc"));
    assertEquals("HTTPS_PROXY names a https:// proxy (https://<redacted>@proxy.corp:3128); only http:// proxies, "
        + "which the tunnel reaches with CONNECT, are supported", e.getMessage());
    environment.clear();
    properties.put("https.proxyHost", "p");
    properties.put("https.proxyPort", "eighty");
    assertEquals("https.proxyPort is not a port: eighty",
        assertThrows(IOException.class, () -> choose("wss://e.example/grpc")).getMessage());
  }

  /** {@code URISyntaxException}'s message quotes the whole URL, password included: only its reason is kept. */
  @Test
  void malformedProxyUrlSaysWhyWithoutThePasswordAndKeepsNoCauseQuotingIt() {
    environment.put("HTTP_PROXY", "http://alice:pa%ss-SECRET@127.0.0.1:3128");
    IOException e = assertThrows(IOException.class, () -> choose("ws://e.example/grpc"));
    assertEquals("HTTP_PROXY is not a proxy URL: http://<redacted>@127.0.0.1:3128 (Malformed escape pair at index "
        + "15)", e.getMessage());
    assertNull(e.getCause());
    environment.put("HTTP_PROXY", "alice:SECRET@[::1:3128");
    e = assertThrows(IOException.class, () -> choose("ws://e.example/grpc"));
    assertEquals("HTTP_PROXY is not a proxy URL: <redacted>@[::1:3128 (Expected closing bracket for IPv6 address at "
        + "index 22)", e.getMessage(), "the index is the setting's, without the http:// added to parse it");
    assertNull(e.getCause());
  }

  @Test
  void callWithAMalformedProxyUrlFailsNamingTheSettingNotTheTargetAndLogsNoPassword() throws Exception {
    environment.put("HTTP_PROXY", "http://alice:pa%ss-SECRET@127.0.0.1:3128");
    List<String> logged = new ArrayList<>();
    StatusRuntimeException e = callFailsRecordingGrpcLogs("ws://127.0.0.1:9/grpc", logged);
    assertEquals("HTTP_PROXY is not a proxy URL: http://<redacted>@127.0.0.1:3128 (Malformed escape pair at index "
        + "15)", e.getStatus().getDescription());
    assertFalse(stackTrace(e).contains("SECRET"), stackTrace(e));
    assertFalse(logged.toString().contains("SECRET"), logged.toString());
  }

  @Test
  void callThroughAnUnresolvableProxyFailsNamingTheProxyNotTheTarget() throws Exception {
    environment.put("HTTP_PROXY", "http://alice:SECRET@proxy.invalid:3128");
    List<String> logged = new ArrayList<>();
    StatusRuntimeException e = callFailsRecordingGrpcLogs("ws://127.0.0.1:9/grpc", logged);
    assertEquals("cannot resolve the host of HTTP proxy proxy.invalid:3128 (from HTTP_PROXY)",
        e.getStatus().getDescription());
    assertFalse(stackTrace(e).contains("SECRET"), stackTrace(e));
    assertFalse(logged.toString().contains("SECRET"), logged.toString());
  }

  /** Calls through a channel whose detector reads this test's settings; adds what grpc-java logs to {@code logged}. */
  private StatusRuntimeException callFailsRecordingGrpcLogs(String url, List<String> logged) throws Exception {
    WebSocketClientOptions options = WebSocketClientOptions.newBuilder(url).build();
    Logger grpc = Logger.getLogger("io.grpc");
    Handler recorder = new Handler() {
      @Override
      public void publish(LogRecord record) {
        synchronized (logged) {
          logged.add(record.getMessage() + " " + Arrays.toString(record.getParameters()) + " "
              + (record.getThrown() == null ? "" : stackTrace(record.getThrown())));
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    grpc.addHandler(recorder);
    ManagedChannel channel = WebSocketChannels.newChannelBuilder(options, detector(options)).build();
    try {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(
          channel, AnyUnary.METHOD, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), new byte[0]));
      assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
      return e;
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      grpc.removeHandler(recorder);
    }
  }

  private static String stackTrace(Throwable t) {
    StringWriter out = new StringWriter();
    t.printStackTrace(new PrintWriter(out));
    return out.toString();
  }

  @Test
  void proxyForAnswersWithTheTargetThroughTheProxy() throws IOException {
    WebSocketProxyDetector d = detector(WebSocketClientOptions.newBuilder("wss://edge.example.com/grpc")
        .proxy(ProxyOptions.newBuilder().address("127.0.0.1", 3128).credentials("alice", "pw").build()).build());
    InetSocketAddress target = InetSocketAddress.createUnresolved("edge.example.com", 443);
    HttpConnectProxiedSocketAddress a = assertInstanceOf(HttpConnectProxiedSocketAddress.class, d.proxyFor(target));
    assertEquals(target, a.getTargetAddress());
    assertEquals(new InetSocketAddress("127.0.0.1", 3128), a.getProxyAddress());
    assertEquals("alice", a.getUsername());
    assertEquals("pw", a.getPassword());
    assertNull(detector(WebSocketClientOptions.newBuilder("wss://edge.example.com/grpc").build()).proxyFor(target));
  }

  // ---- error descriptions ---------------------------------------------------------------------------------------

  @Test
  void proxyRefusalNamesTheProxyItsStatusAndServer() {
    WebSocketClientOptions options = WebSocketClientOptions.newBuilder("wss://localhost:8443/grpc")
        .proxy(ProxyOptions.newBuilder().address("127.0.0.1", 3128).credentials("alice", "wrong").build()).build();
    ConnectErrorInterceptor interceptor = new ConnectErrorInterceptor(options, detector(options));
    DefaultHttpHeaders headers = new DefaultHttpHeaders();
    headers.set("Server", "tinyproxy/1.11.1");
    Status status = Status.UNAVAILABLE.withDescription("io exception\nChannel Pipeline: [a, b]").withCause(
        new HttpProxyHandler.HttpProxyConnectException("http, basic, /127.0.0.1:3128 => localhost:8443, status: 407 "
            + "Proxy Authentication Required", headers));
    Status described = interceptor.describe(status);
    assertEquals(Status.Code.UNAVAILABLE, described.getCode());
    assertEquals("HTTP proxy 127.0.0.1:3128 (from the proxy option) answered CONNECT localhost:8443 with 407 Proxy "
        + "Authentication Required (Server: tinyproxy/1.11.1): the proxy credentials were refused",
        described.getDescription());
    assertTrue(described.getCause() == status.getCause(), "the cause is kept");
  }

  @Test
  void refusedConnectionNamesTheAddressDialed() {
    WebSocketClientOptions options = WebSocketClientOptions.newBuilder("ws://127.0.0.1:1/grpc").build();
    ConnectErrorInterceptor interceptor = new ConnectErrorInterceptor(options, detector(options));
    Status described = interceptor.describe(Status.UNAVAILABLE.withDescription("io exception")
        .withCause(new ConnectException("Connection refused: /127.0.0.1:1")));
    assertEquals("cannot connect to ws://127.0.0.1:1/grpc: Connection refused: /127.0.0.1:1",
        described.getDescription());
    Status other = Status.UNAVAILABLE.withDescription("WebSocket closed by x with 1001 (Going Away)");
    assertTrue(interceptor.describe(other) == other, "tunnel statuses are left alone");
    assertEquals("expected HTTP 101 but was 403 Forbidden from ws://127.0.0.1:1/grpc", interceptor.describe(
        Status.UNAVAILABLE.withDescription("expected HTTP 101 but was 403 Forbidden from ws://127.0.0.1:1/grpc\n"
            + "Channel Pipeline: [wsgrpc-http-codec, ClientUpgradeHandler#0]")).getDescription(),
        "grpc's list of handler names is dropped");
  }
}
