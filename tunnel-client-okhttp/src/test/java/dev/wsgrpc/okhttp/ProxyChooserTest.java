package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The proxy rules are the Netty client's: explicit, then the platform's selector, then HTTPS_PROXY and NO_PROXY. */
class ProxyChooserTest {

  private final Map<String, String> env = new HashMap<>();
  private URI asked;

  private final ProxySelector directPlatform = selector(Proxy.NO_PROXY);

  private ProxySelector selector(Proxy answer) {
    return new ProxySelector() {
      @Override
      public List<Proxy> select(URI uri) {
        asked = uri;
        return Collections.singletonList(answer);
      }

      @Override
      public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {}
    };
  }

  private ProxyChooser.Choice choose(String url, ProxyOptions proxy, ProxySelector platform) throws IOException {
    OkHttpWebSocketOptions options = OkHttpWebSocketOptions.newBuilder(url).proxy(proxy).build();
    return new ProxyChooser(options, platform, env::get).choose();
  }

  @Test
  void explicitProxyWinsOverEverything() throws IOException {
    env.put("HTTPS_PROXY", "http://envproxy:8080");
    ProxyChooser.Choice c = choose("wss://edge.example.com/grpc",
        ProxyOptions.newBuilder().address("proxy.corp", 3128).credentials("alice", "pw").build(),
        selector(new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved("platform", 1))));
    assertEquals("HTTP proxy proxy.corp:3128 (from the proxy option)", c.describe());
    assertEquals("alice", c.username);
    assertEquals("pw", c.password);
  }

  @Test
  void directIgnoresTheEnvironment() throws IOException {
    env.put("HTTPS_PROXY", "http://envproxy:8080");
    assertNull(choose("wss://edge.example.com/grpc", ProxyOptions.DIRECT, directPlatform));
  }

  @Test
  void platformSelectorIsAskedForTheUrlsSchemeAndAuthority() throws IOException {
    ProxyChooser.Choice c = choose("wss://edge.example.com/grpc", ProxyOptions.SYSTEM,
        selector(new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved("platform", 3128))));
    assertEquals(URI.create("https://edge.example.com:443"), asked);
    assertEquals("HTTP proxy platform:3128 (from the platform's proxy settings)", c.describe());
  }

  @Test
  void httpsProxyForWssAndHttpProxyForWsWithCredentialsFromTheUrl() throws IOException {
    env.put("HTTPS_PROXY", "http://bob:p%40ss@secure-proxy:3129");
    env.put("http_proxy", "plain-proxy:3128");
    ProxyChooser.Choice wss = choose("wss://edge.example.com/grpc", ProxyOptions.SYSTEM, directPlatform);
    assertEquals("HTTP proxy secure-proxy:3129 (from HTTPS_PROXY)", wss.describe());
    assertEquals("bob", wss.username);
    assertEquals("p@ss", wss.password);
    assertFalse(wss.toString().contains("p@ss"), wss.toString());
    ProxyChooser.Choice ws = choose("ws://edge.example.com/grpc", ProxyOptions.SYSTEM, directPlatform);
    assertEquals("HTTP proxy plain-proxy:3128 (from http_proxy)", ws.describe());
    assertNull(ws.username);
  }

  @Test
  void explicitCredentialsWinOverTheUrls() throws IOException {
    env.put("HTTPS_PROXY", "http://bob:pw@secure-proxy:3129");
    ProxyChooser.Choice c = choose("wss://edge.example.com/grpc",
        ProxyOptions.newBuilder().credentials("alice", "pw2").build(), directPlatform);
    assertEquals("alice", c.username);
  }

  @Test
  void noProxyExemptsHostsDomainsCidrsAndPorts() throws IOException {
    env.put("HTTPS_PROXY", "http://proxy:3128");
    env.put("NO_PROXY", "localhost, .internal.example,10.0.0.0/8 other.example:8443");
    assertNull(choose("wss://a.internal.example/grpc", ProxyOptions.SYSTEM, directPlatform));
    assertNull(choose("wss://10.1.2.3/grpc", ProxyOptions.SYSTEM, directPlatform));
    assertNull(choose("wss://other.example:8443/grpc", ProxyOptions.SYSTEM, directPlatform));
    assertEquals("HTTP proxy proxy:3128 (from HTTPS_PROXY)",
        choose("wss://other.example/grpc", ProxyOptions.SYSTEM, directPlatform).describe());
    assertTrue(ProxyChooser.matchesNoProxy("::1", 443, "[::1]"));
    assertTrue(ProxyChooser.matchesNoProxy("anything", 443, "*"));
    assertFalse(ProxyChooser.matchesNoProxy("example.com.evil", 443, "example.com"));
  }

  @Test
  void unusableProxyUrlsAreRefusedWithoutThePassword() {
    env.put("HTTPS_PROXY", "https://bob:secret@proxy:3128");
    IOException e = assertThrows(IOException.class,
        () -> choose("wss://edge.example.com/grpc", ProxyOptions.SYSTEM, directPlatform));
    assertEquals("HTTPS_PROXY names a https:// proxy (https://<redacted>@proxy:3128); only http:// proxies, which "
        + "the tunnel reaches with CONNECT, are supported", e.getMessage());
  }

  /** {@code URISyntaxException}'s message quotes the whole URL, password included: only its reason is kept. */
  @Test
  void malformedProxyUrlSaysWhyWithoutThePasswordAndKeepsNoCauseQuotingIt() {
    env.put("HTTP_PROXY", "http://alice:pa%ss-SECRET@127.0.0.1:3128");
    IOException e = assertThrows(IOException.class,
        () -> choose("ws://edge.example.com/grpc", ProxyOptions.SYSTEM, directPlatform));
    assertEquals("HTTP_PROXY is not a proxy URL: http://<redacted>@127.0.0.1:3128 (Malformed escape pair at index "
        + "15)", e.getMessage());
    assertNull(e.getCause());
    env.put("HTTP_PROXY", "alice:SECRET@[::1:3128");
    e = assertThrows(IOException.class,
        () -> choose("ws://edge.example.com/grpc", ProxyOptions.SYSTEM, directPlatform));
    assertEquals("HTTP_PROXY is not a proxy URL: <redacted>@[::1:3128 (Expected closing bracket for IPv6 address at "
        + "index 22)", e.getMessage(), "the index is the setting's, without the http:// added to parse it");
    assertNull(e.getCause());
  }

  @Test
  void callWithAMalformedProxyUrlFailsNamingTheSettingWithoutThePassword() throws Exception {
    env.put("HTTP_PROXY", "http://alice:pa%ss-SECRET@127.0.0.1:3128");
    StatusRuntimeException e = callFails("ws://127.0.0.1:9/grpc");
    assertEquals("cannot choose a proxy for ws://127.0.0.1:9/grpc: HTTP_PROXY is not a proxy URL: "
        + "http://<redacted>@127.0.0.1:3128 (Malformed escape pair at index 15)", e.getStatus().getDescription());
    assertFalse(stackTrace(e).contains("SECRET"), stackTrace(e));
  }

  /** Through a proxy the target need not resolve here: a bad proxy setting is named, not the target's name. */
  @Test
  void callWithAMalformedProxyUrlToAnUnresolvableTargetNamesTheSettingNotTheTarget() throws Exception {
    env.put("HTTP_PROXY", "http://alice:pa%ss-SECRET@127.0.0.1:3128");
    StatusRuntimeException e = callFails("ws://edge.invalid/grpc");
    assertEquals("cannot choose a proxy for ws://edge.invalid/grpc: HTTP_PROXY is not a proxy URL: "
        + "http://<redacted>@127.0.0.1:3128 (Malformed escape pair at index 15)", e.getStatus().getDescription());
    assertFalse(stackTrace(e).contains("SECRET"), stackTrace(e));
  }

  @Test
  void callThroughAnUnresolvableProxyNamesTheProxyWithoutThePassword() throws Exception {
    env.put("HTTP_PROXY", "http://alice:SECRET@proxy.invalid:3128");
    StatusRuntimeException e = callFails("ws://127.0.0.1:9/grpc");
    String d = e.getStatus().getDescription();
    assertTrue(d.startsWith("cannot connect to HTTP proxy proxy.invalid:3128 (from HTTP_PROXY) for "
        + "ws://127.0.0.1:9/grpc"), d);
    assertFalse(stackTrace(e).contains("SECRET"), stackTrace(e));
  }

  private StatusRuntimeException callFails(String url) throws Exception {
    OkHttpWebSocketOptions options = OkHttpWebSocketOptions.newBuilder(url).build();
    ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(options,
        new ProxyChooser(options, directPlatform, env::get)).build();
    try {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
          .withDeadlineAfter(30, TimeUnit.SECONDS).unary(TestEcho.payload(1)));
      assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
      return e;
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private static String stackTrace(Throwable t) {
    StringWriter out = new StringWriter();
    t.printStackTrace(new PrintWriter(out));
    return out.toString();
  }
}
