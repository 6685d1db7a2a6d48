package dev.wsgrpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.testing.TestCertificates;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.File;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class WebSocketClientOptionsTest {

  private static WebSocketClientOptions options(String url) {
    return WebSocketClientOptions.newBuilder(url).build();
  }

  private static String message(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  // ---- defaults and what the URL gives ------------------------------------------------------------------------

  @Test
  void defaults() {
    WebSocketClientOptions o = options("ws://example.com/grpc");
    assertEquals("ws://example.com/grpc", o.url().toString());
    assertFalse(o.isSecure());
    assertEquals("example.com", o.host());
    assertEquals(80, o.port());
    assertEquals("/grpc", o.requestTarget());
    assertEquals("example.com", o.hostHeader());
    assertEquals("dns:///example.com:80", o.target());
    assertEquals(Collections.emptyMap(), o.headers());
    assertNull(o.headersSupplier());
    assertEquals(Collections.singletonList("wsgrpc.v1"), o.subprotocols());
    assertNull(o.origin());
    assertEquals(Duration.ofSeconds(10), o.settings().handshakeTimeout());
    assertNull(o.tls().sslContext());
    assertNull(o.tls().trustCertificates());
    assertEquals(1024 * 1024, o.settings().maxInboundFramePayload());
    assertEquals(64 * 1024, o.settings().maxOutboundFramePayload());
    assertSame(ProxyOptions.SYSTEM, o.proxy());
  }

  @Test
  void wssDefaultsToPort443() {
    WebSocketClientOptions o = options("wss://example.com/grpc");
    assertTrue(o.isSecure());
    assertEquals(443, o.port());
    assertEquals("example.com", o.hostHeader());
    assertEquals("dns:///example.com:443", o.target());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "ws://example.com/grpc,          80,   example.com,       dns:///example.com:80",
      "ws://example.com:80/grpc,       80,   example.com,       dns:///example.com:80",
      "ws://example.com:443/grpc,      443,  example.com:443,   dns:///example.com:443",
      "ws://example.com:8080/grpc,     8080, example.com:8080,  dns:///example.com:8080",
      "wss://example.com/grpc,         443,  example.com,       dns:///example.com:443",
      "wss://example.com:443/grpc,     443,  example.com,       dns:///example.com:443",
      "wss://example.com:80/grpc,      80,   example.com:80,    dns:///example.com:80",
      "WSS://example.com/grpc,         443,  example.com,       dns:///example.com:443",
      "ws://10.0.0.7:9000/grpc,        9000, 10.0.0.7:9000,     dns:///10.0.0.7:9000",
      "ws://[::1]:8080/grpc,           8080, [::1]:8080,        dns:///%5B::1%5D:8080",
      "wss://[2001:db8::1]/grpc,       443,  [2001:db8::1],     dns:///%5B2001:db8::1%5D:443",
  })
  void portHostHeaderAndTargetComeFromTheUrl(String url, int port, String hostHeader, String target) {
    WebSocketClientOptions o = options(url);
    assertEquals(port, o.port());
    assertEquals(hostHeader, o.hostHeader(), "the Host header omits the scheme's default port");
    assertEquals(target, o.target());
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "ws://example.com,               /",
      "ws://example.com/,              /",
      "ws://example.com?x=1,           /?x=1",
      "ws://example.com/grpc?x=1&y=2,  /grpc?x=1&y=2",
      "ws://example.com/a%20b/c,       /a%20b/c",
      "ws://example.com/a?q=%2F,       /a?q=%2F",
  })
  void requestTargetIsTheRawPathAndQuery(String url, String requestTarget) {
    assertEquals(requestTarget, options(url).requestTarget());
  }

  @Test
  void settersAreKept() throws Exception {
    Supplier<Map<String, String>> supplier = () -> Map.of("X-Token", "t");
    WebSocketClientOptions o = WebSocketClientOptions.newBuilder("wss://example.com/grpc")
        .header("X-One", "1")
        .header("X-Two", "2")
        .headersSupplier(supplier)
        .subprotocols("wsgrpc.v1", "binary")
        .origin("https://app.example.com")
        .settings(TunnelSettings.newBuilder()
            .handshakeTimeout(Duration.ofMillis(1500))
            .maxInboundFramePayload(4096)
            .maxOutboundFramePayload(2048)
            .build())
        .tls(ClientTls.trusting(new File("/etc/ca.pem")))
        .build();
    assertEquals(Arrays.asList("X-One", "X-Two"), List.copyOf(o.headers().keySet()), "headers keep their order");
    assertEquals("2", o.headers().get("X-Two"));
    assertSame(supplier, o.headersSupplier());
    assertEquals(Arrays.asList("wsgrpc.v1", "binary"), o.subprotocols());
    assertEquals("https://app.example.com", o.origin());
    assertEquals(Duration.ofMillis(1500), o.settings().handshakeTimeout());
    assertEquals(new File("/etc/ca.pem"), o.tls().trustCertificates());
    assertEquals(4096, o.settings().maxInboundFramePayload());
    assertEquals(2048, o.settings().maxOutboundFramePayload());
  }

  @Test
  void collectionsAreImmutableCopies() {
    String[] names = {"a", "b"};
    WebSocketClientOptions.Builder b = WebSocketClientOptions.newBuilder("ws://h/").subprotocols(names).header("X", "1");
    WebSocketClientOptions o = b.build();
    names[0] = "changed";
    b.header("Y", "2");
    assertEquals(Arrays.asList("a", "b"), o.subprotocols());
    assertEquals(Collections.singleton("X"), o.headers().keySet());
    assertThrows(UnsupportedOperationException.class, () -> o.headers().put("Z", "3"));
    assertThrows(UnsupportedOperationException.class, () -> o.subprotocols().add("c"));
  }

  @Test
  void toBuilderCopiesEverySettingAndLeavesTheOriginalAlone() {
    WebSocketClientOptions o = WebSocketClientOptions.newBuilder("ws://example.com/grpc")
        .header("X-One", "1").origin("https://o")
        .settings(TunnelSettings.newBuilder().maxInboundFramePayload(10).build()).build();
    WebSocketClientOptions copy = o.toBuilder().build();
    assertEquals(o.toString(), copy.toString());
    assertEquals(o.headers(), copy.headers());
    WebSocketClientOptions changed = o.toBuilder().url("wss://other.example/x").header("X-Two", "2").build();
    assertEquals("wss://other.example/x", changed.url().toString());
    assertEquals(2, changed.headers().size());
    assertEquals(1, o.headers().size());
    assertEquals("ws://example.com/grpc", o.url().toString());
  }

  @Test
  void noSubprotocolsOffersNone() {
    assertEquals(Collections.emptyList(), WebSocketClientOptions.newBuilder("ws://h/").subprotocols().build()
        .subprotocols());
  }

  // ---- validation ---------------------------------------------------------------------------------------------

  @Test
  void httpUrlIsRejected() {
    assertEquals("url: http://x (expected: a ws:// or wss:// URL)", message(() -> options("http://x")));
  }

  @ParameterizedTest
  @ValueSource(strings = {"https://example.com/grpc", "example.com/grpc", "dns:///example.com:443", "grpc"})
  void otherSchemesAreRejected(String url) {
    assertEquals("url: " + url + " (expected: a ws:// or wss:// URL)", message(() -> options(url)));
  }

  @Test
  void urlWithoutHostIsRejected() {
    assertEquals("url: ws:///grpc (expected: a URL with a host)", message(() -> options("ws:///grpc")));
  }

  @Test
  void urlWithFragmentIsRejected() {
    assertEquals("url: ws://h/grpc#<redacted> (expected: no #fragment)", message(() -> options("ws://h/grpc#top")));
    assertEquals("url: ws://h/grpc#<redacted> (expected: no #fragment)",
        message(() -> options("ws://h/grpc#access_token=SECRET")));
  }

  @Test
  void urlErrorsNeverQuoteUserInfoHoldingASlashQuestionMarkOrHash() {
    assertEquals("url: ws://<redacted>@host/grpc (expected: a URL with a host)",
        message(() -> options("ws://user:pa/ss@host/grpc")));
    assertEquals("url: ws://<redacted> (expected: a URL with a host)",
        message(() -> options("ws://user:p#ss@host/grpc")));
    assertEquals("url: ws://<redacted> (expected: a URL with a host)",
        message(() -> options("ws://user:p?ss@host/grpc")));
    assertEquals("url: ws://<redacted>@[::1]:8080/grpc (expected: no user:password@ (send credentials as headers))",
        message(() -> options("ws://user:SECRET@[::1]:8080/grpc")));
  }

  @Test
  void unparsableUrlSaysWhy() {
    assertEquals("url: ws://bad host/ (expected: a ws:// or wss:// URL; Illegal character in authority)",
        message(() -> options("ws://bad host/")));
  }

  @Test
  void urlWithCredentialsIsRejected() {
    String m = message(() -> options("ws://user:hunter2@example.com/grpc"));
    assertTrue(m.endsWith("(expected: no user:password@ (send credentials as headers))"), m);
  }

  @Test
  void urlWithCredentialsIsRejectedWithoutQuotingThePassword() {
    String m = message(() -> options("ws://user:hunter2@example.com/grpc"));
    assertFalse(m.contains("hunter2"), m);
    assertTrue(m.contains("<redacted>"), m);
  }

  @Test
  void urlErrorsNeverQuoteTheQuery() {
    assertEquals("url: ws://example.com/grpc?<redacted> (expected: a wss:// URL when tls is set)",
        message(() -> WebSocketClientOptions.newBuilder("ws://example.com/grpc?key=SECRET")
            .tls(ClientTls.trusting(new File("/etc/ca.pem"))).build()));
    assertEquals("url: ws://<redacted>@example.com/grpc?<redacted> (expected: no user:password@ (send credentials "
        + "as headers))", message(() -> options("ws://user:hunter2@example.com/grpc?key=SECRET")));
    assertEquals("url: ws://h/grpc?<redacted> (expected: no #fragment)",
        message(() -> options("ws://h/grpc?key=SECRET#top")));
    assertEquals("url: ws://bad host/grpc?<redacted> (expected: a ws:// or wss:// URL; Illegal character in "
        + "authority)", message(() -> options("ws://bad host/grpc?key=SECRET")));
  }

  @Test
  void portOutOfRangeIsRejected() {
    String m = message(() -> options("ws://example.com:99999/grpc"));
    assertTrue(m.startsWith("url: ws://example.com:99999/grpc (expected: "), m);
  }

  @Test
  void urlMustNotBeNull() {
    assertEquals("url", assertThrows(NullPointerException.class,
        () -> WebSocketClientOptions.newBuilder(null)).getMessage());
  }

  @Test
  void frameLimitsMustBePositive() {
    assertEquals("maxOutboundFramePayload: 0 (expected: > 0)",
        message(() -> TunnelSettings.newBuilder().maxOutboundFramePayload(0)));
    assertEquals("maxInboundFramePayload: -1 (expected: > 0)",
        message(() -> TunnelSettings.newBuilder().maxInboundFramePayload(-1)));
  }

  @Test
  void handshakeTimeoutMustBePositive() {
    assertEquals("handshakeTimeout: 0s (expected: > 0)",
        message(() -> TunnelSettings.newBuilder().handshakeTimeout(Duration.ZERO)));
    assertEquals("handshakeTimeout: -1ms (expected: > 0)",
        message(() -> TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMillis(-1))));
    assertEquals("handshakeTimeout", assertThrows(NullPointerException.class,
        () -> TunnelSettings.newBuilder().handshakeTimeout(null)).getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"Host", "Upgrade", "upgrade", "UPGRADE", "Connection", "Sec-WebSocket-Key",
      "Sec-WebSocket-Version", "Sec-WebSocket-Accept", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol",
      "Origin", "Content-Length", "Transfer-Encoding"})
  void headersTheHandshakeSetsAreReserved(String name) {
    assertEquals("header name: " + name + " (expected: not one the handshake sets itself)",
        message(() -> WebSocketClientOptions.newBuilder("ws://h/").header(name, "x")));
  }

  @Test
  void headerNamesMustBeTokens() {
    assertEquals("header name:  (expected: an HTTP token)",
        message(() -> WebSocketClientOptions.newBuilder("ws://h/").header("", "x")));
    assertEquals("header name: null (expected: an HTTP token)",
        message(() -> WebSocketClientOptions.newBuilder("ws://h/").header(null, "x")));
    assertEquals("header name: <redacted> (expected: an HTTP token; found U+000D at index 1)",
        message(() -> WebSocketClientOptions.newBuilder("ws://h/").header("X\r\nY", "x")));
  }

  /** A name that is no token may be a pasted credential ("Authorization Bearer a:b"): it is not quoted either. */
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {"Bad Name|' ' at index 3", "X:Y|':' at index 1",
      "Authorization Bearer SECRET|' ' at index 13"})
  void aHeaderNameThatIsNoTokenIsRefusedSayingWhereWithoutQuotingIt(String name, String where) {
    String m = message(() -> WebSocketClientOptions.newBuilder("ws://h/").header(name, "x"));
    assertEquals("header name: <redacted> (expected: an HTTP token; found " + where + ")", m);
  }

  @Test
  void secretHeaderValuesAreRedactedInMessages() {
    String m = message(() -> WebSocketClientOptions.newBuilder("ws://h/").header("Authorization", "Bearer abc\n"));
    assertEquals("header Authorization: <redacted> (expected: printable Latin-1 without line breaks; found U+000A "
        + "at index 10)", m);
    assertFalse(m.contains("abc"));
  }

  /** Any header may carry a secret (X-Auth-Key is on no list of sensitive names): no refusal quotes a value. */
  @ParameterizedTest
  @ValueSource(strings = {"Cookie", "X-Auth-Token", "X-Api-Key", "Proxy-Authorization", "X-Client-Secret",
      "X-Auth-Key", "X-Trace"})
  void noHeaderValueIsQuotedInARefusal(String name) {
    String m = message(() -> WebSocketClientOptions.newBuilder("ws://h/").header(name, "s3cr3t\u0001TOKEN"));
    assertEquals("header " + name + ": <redacted> (expected: printable Latin-1 without line breaks; found U+0001 "
        + "at index 6)", m);
    assertFalse(m.contains("s3cr3t") || m.contains("TOKEN"), m);
  }

  @Test
  void aRefusedHeaderValueNamesItsFirstBadCharacterAndWhereItIs() {
    assertEquals("header X-Trace: <redacted> (expected: printable Latin-1 without line breaks; found U+000A at "
        + "index 1)", message(() -> WebSocketClientOptions.newBuilder("ws://h/").header("X-Trace", "a\nb")));
    assertEquals("header X-Trace: <redacted> (expected: printable Latin-1 without line breaks; found U+4E2D at "
        + "index 2)", message(() -> WebSocketClientOptions.newBuilder("ws://h/").header("X-Trace", "ab\u4e2d")));
    assertEquals("header X-Trace: null (expected: printable Latin-1 without line breaks)",
        message(() -> WebSocketClientOptions.newBuilder("ws://h/").header("X-Trace", null)));
  }

  @Test
  void suppliedHeadersAreCheckedLikeStaticOnes() {
    assertEquals("header name: Host (expected: not one the handshake sets itself)",
        message(() -> WebSocketClientOptions.checkSuppliedHeader("Host", "evil")));
    assertEquals("header Cookie: <redacted> (expected: printable Latin-1 without line breaks; found U+000D at "
        + "index 3)", message(() -> WebSocketClientOptions.checkSuppliedHeader("Cookie", "a=b\r\n")));
    assertEquals("header X-Auth-Key: <redacted> (expected: printable Latin-1 without line breaks; found U+0001 at "
        + "index 6)", message(() -> WebSocketClientOptions.checkSuppliedHeader("X-Auth-Key", "SECRET\u0001TOKEN")));
    WebSocketClientOptions.checkSuppliedHeader("Authorization", "Bearer ok");
  }

  @Test
  void subprotocolsMustBeTokens() {
    assertEquals("subprotocol: bad name (expected: an HTTP token)",
        message(() -> WebSocketClientOptions.newBuilder("ws://h/").subprotocols("wsgrpc.v1", "bad name")));
  }

  @Test
  void subprotocolsMustNotBeNull() {
    assertEquals("subprotocols", assertThrows(NullPointerException.class,
        () -> WebSocketClientOptions.newBuilder("ws://h/").subprotocols((String[]) null)).getMessage());
  }

  /** Base64 tokens hold '/' and '=', which no token may: the refusal says where, as the options show the token. */
  @Test
  void aBearerSubprotocolThatIsNoTokenIsRefusedWithoutQuotingTheToken() {
    String m = message(() -> WebSocketClientOptions.newBuilder("ws://h/").subprotocols("bearer.ab/SECRET=="));
    assertEquals("subprotocol: bearer.<redacted> (expected: an HTTP token; found '/' at index 9)", m);
  }

  @Test
  void originMustBeAHeaderValue() {
    assertEquals("origin: https://a\r\nX: y (expected: a header value)",
        message(() -> WebSocketClientOptions.newBuilder("ws://h/").origin("https://a\r\nX: y")));
    assertNull(WebSocketClientOptions.newBuilder("ws://h/").origin("https://a").origin(null).build().origin());
  }

  @Test
  void trustCertificatesNeedsWss() {
    assertEquals("url: ws://example.com/grpc (expected: a wss:// URL when tls is set)",
        message(() -> WebSocketClientOptions.newBuilder("ws://example.com/grpc")
            .tls(ClientTls.trusting(new File("/etc/ca.pem"))).build()));
  }

  @Test
  void sslContextNeedsWss() throws Exception {
    SslContext client = SslContextBuilder.forClient().build();
    assertEquals("url: ws://example.com/grpc (expected: a wss:// URL when tls is set)",
        message(() -> WebSocketClientOptions.newBuilder("ws://example.com/grpc").tls(ClientTls.of(client)).build()));
  }

  @Test
  void tlsIsOneChoiceAndTheLastOneSetWins() throws Exception {
    SslContext client = SslContextBuilder.forClient().build();
    WebSocketClientOptions o = WebSocketClientOptions.newBuilder("wss://example.com/grpc")
        .tls(ClientTls.trusting(new File("/etc/ca.pem"))).tls(ClientTls.of(client)).build();
    assertSame(client, o.tls().sslContext());
    assertNull(o.tls().trustCertificates());
    assertSame(client, WebSocketChannelCredentials.sslContextFor(o), "a given context is used as given");
  }

  @Test
  void sslContextMustBeAClientContext() throws Exception {
    TestCertificates certs = TestCertificates.create();
    SslContext server = SslContextBuilder.forServer(certs.serverCertPem(), certs.serverKeyPem()).build();
    String m = message(() -> ClientTls.of(server));
    assertTrue(m.startsWith("sslContext: ") && m.endsWith(" (expected: a client context)"), m);
  }

  // ---- toString -----------------------------------------------------------------------------------------------

  @Test
  void toStringNamesHeadersButNeverTheirValues() {
    WebSocketClientOptions o = WebSocketClientOptions.newBuilder("wss://example.com/grpc")
        .header("Authorization", "Bearer s3cr3t-static")
        .header("X-Request-Source", "plain-value")
        .headersSupplier(() -> Map.of("Cookie", "session=s3cr3t-supplied"))
        .build();
    String s = o.toString();
    assertTrue(s.contains("Authorization"), s);
    assertTrue(s.contains("X-Request-Source"), s);
    assertTrue(s.contains("headersSupplier=true"), s);
    assertFalse(s.contains("s3cr3t"), s);
    assertFalse(s.contains("plain-value"), s);
  }

  @Test
  void toStringShowsNeitherTheQueryNorABearerSubprotocolNorTheProxyPassword() {
    WebSocketClientOptions o = WebSocketClientOptions.newBuilder("wss://example.com/grpc?access_token=s3cr3t-query")
        .subprotocols("wsgrpc.v1", "bearer.s3cr3t-subprotocol")
        .proxy(ProxyOptions.newBuilder().address("proxy.corp", 3128).credentials("alice", "s3cr3t-password").build())
        .build();
    String shown = o.toString();
    assertFalse(shown.contains("s3cr3t"), shown);
    assertTrue(shown.contains("url=wss://example.com/grpc?<redacted>"), shown);
    assertTrue(shown.contains("subprotocols=[wsgrpc.v1, bearer.<redacted>]"), shown);
    assertTrue(shown.contains("password=<redacted>"), shown);
    assertFalse(o.proxy().toString().contains("s3cr3t"), o.proxy().toString());
    // An @ in the query of a URL that passed the checks hides the query only, not the host.
    String at = WebSocketClientOptions.newBuilder("wss://h:8443/grpc?user=a@b.example").build().toString();
    assertTrue(at.contains("url=wss://h:8443/grpc?<redacted>,"), at);
    assertFalse(at.contains("b.example"), at);
  }

  @Test
  void toStringListsEveryField() {
    assertEquals("WebSocketClientOptions{url=ws://example.com/grpc, headers=[], headersSupplier=false, "
        + "subprotocols=[wsgrpc.v1], origin=null, tls=default, "
        + "settings=TunnelSettings{maxInboundFramePayload=1048576, maxOutboundFramePayload=65536, pingInterval=PT30S, "
        + "pingTimeout=PT15S, handshakeTimeout=PT10S}, "
        + "proxy=ProxyOptions{address=null, username=null, password=null, useSystemProxy=true}, connectTo=null}",
        options("ws://example.com/grpc").toString());
  }

  // ---- keepalive -----------------------------------------------------------------------------------------------

  @Test
  void pingsDefaultToEvery30SecondsWithA15SecondTimeout() {
    WebSocketClientOptions o = options("ws://example.com/grpc");
    assertEquals(Duration.ofSeconds(30), o.settings().pingInterval());
    assertEquals(Duration.ofSeconds(15), o.settings().pingTimeout());
  }

  @Test
  void pingIntervalIsZeroOrAtLeast100Millis() {
    assertEquals(Duration.ZERO, WebSocketClientOptions.newBuilder("ws://h/")
        .settings(TunnelSettings.newBuilder().pingInterval(Duration.ZERO).build()).build().settings().pingInterval());
    assertEquals("pingInterval: 50ms (expected: 0 to send no pings, or at least 100 ms)",
        message(() -> TunnelSettings.newBuilder().pingInterval(Duration.ofMillis(50))));
    assertEquals("pingInterval: -1s (expected: 0 to send no pings, or at least 100 ms)",
        message(() -> TunnelSettings.newBuilder().pingInterval(Duration.ofSeconds(-1))));
    assertEquals("pingTimeout: 0s (expected: > 0)",
        message(() -> TunnelSettings.newBuilder().pingTimeout(Duration.ZERO)));
  }

  // ---- proxy and connect-to ------------------------------------------------------------------------------------

  @Test
  void proxyAndCredentialsAreKeptAndThePasswordNeverShown() {
    WebSocketClientOptions o = WebSocketClientOptions.newBuilder("wss://edge.example.com/grpc")
        .proxy(ProxyOptions.newBuilder().address("proxy.corp", 3128).credentials("alice", "s3cret").build())
        .build();
    assertEquals("proxy.corp", o.proxy().host());
    assertEquals(3128, o.proxy().port());
    assertEquals("alice", o.proxy().username());
    assertEquals("s3cret", o.proxy().password());
    assertTrue(o.toString().contains("address=proxy.corp:3128, username=alice, password=<redacted>"), o.toString());
    assertFalse(o.toString().contains("s3cret"), o.toString());
    assertEquals(o.toString(), o.toBuilder().build().toString());
  }

  @Test
  void proxySettingsAreValidated() {
    assertEquals("proxy port: 0 (expected: between 1 and 65535)",
        message(() -> ProxyOptions.newBuilder().address("p", 0)));
    assertEquals("proxy host:  (expected: a host name or IP address)",
        message(() -> ProxyOptions.newBuilder().address("", 80)));
    assertEquals("proxy username: a:b (expected: no ':' or line breaks)",
        message(() -> ProxyOptions.newBuilder().credentials("a:b", "x")));
    assertEquals("proxy password: <redacted> (expected: no line breaks)",
        message(() -> ProxyOptions.newBuilder().credentials("a", "x\ny")));
  }

  @Test
  void proxyCredentialsNeedAProxyThatCanBeUsed() {
    assertEquals("proxy username: alice (expected: unset when there is no proxy address and useSystemProxy is false)",
        message(() -> ProxyOptions.newBuilder().useSystemProxy(false).credentials("alice", "x").build()));
    assertEquals("alice", ProxyOptions.newBuilder().credentials("alice", "x").build().username(),
        "credentials for the proxy the standard settings choose");
  }

  @Test
  void toStringRedactsTheUrlQueryAndBearerSubprotocolTokens() {
    String s = WebSocketClientOptions.newBuilder("wss://example.com/grpc?token=s3cret")
        .subprotocols("wsgrpc.v1", "bearer.s3cret").build().toString();
    assertTrue(s.contains("url=wss://example.com/grpc?<redacted>"), s);
    assertTrue(s.contains("subprotocols=[wsgrpc.v1, bearer.<redacted>]"), s);
    assertFalse(s.contains("s3cret"), s);
  }

  @Test
  void connectToChangesTheTargetButNotTheHostHeaderOrAuthority() {
    WebSocketClientOptions o = WebSocketClientOptions.newBuilder("wss://edge.example.com/grpc")
        .connectTo("192.0.2.7", 8443)
        .build();
    assertEquals("dns:///192.0.2.7:8443", o.target());
    assertEquals("edge.example.com", o.hostHeader());
    assertEquals("edge.example.com", o.host());
    assertEquals("edge.example.com:443", o.authority());
    assertEquals("dns:///%5B::1%5D:8443", WebSocketClientOptions.newBuilder("ws://h/").connectTo("[::1]", 8443)
        .build().target());
    assertEquals("connectTo port: 70000 (expected: between 1 and 65535)",
        message(() -> WebSocketClientOptions.newBuilder("ws://h/").connectTo("h", 70000)));
  }

  private static final String WITHOUT_A_PORT = "a host name or IP address without a port (':' only in an IPv6 "
      + "literal; the port is the second argument)";

  /** grpc-java refused "dns:///[edge.example.com:443]:443" only when the channel was built, in its own words. */
  @ParameterizedTest
  @ValueSource(strings = {"edge.example.com:443", "192.0.2.7:443", "[edge.example.com]", "dead:beef", "1::2::3",
      "[::1]:443", "fe80::1%eth0"})
  void aHostThatIsNoHostAloneIsRefusedByTheBuilders(String host) {
    assertEquals("connectTo host: " + host + " (expected: " + WITHOUT_A_PORT + ")",
        message(() -> WebSocketClientOptions.newBuilder("ws://h/").connectTo(host, 443)));
    assertEquals("proxy host: " + host + " (expected: " + WITHOUT_A_PORT + ")",
        message(() -> ProxyOptions.of(host, 3128)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"edge.example.com", "192.0.2.7", "::1", "[::1]", "2001:db8::7", "[::ffff:192.0.2.7]"})
  void hostNamesAndIpAddressesAreAccepted(String host) throws Exception {
    WebSocketClientOptions o = WebSocketClientOptions.newBuilder("ws://h/grpc").connectTo(host, 443)
        .proxy(ProxyOptions.of(host, 3128)).build();
    assertEquals(3128, o.proxy().port());
  }
}
