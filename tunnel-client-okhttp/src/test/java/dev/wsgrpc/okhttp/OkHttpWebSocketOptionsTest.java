package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import okhttp3.CertificatePinner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The builders validate every value with {@code name: value (expected: ...)}, nest like the Netty client's. */
class OkHttpWebSocketOptionsTest {

  private static String refusal(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void defaultsMatchTheNettyClient() {
    OkHttpWebSocketOptions o = OkHttpWebSocketOptions.newBuilder("wss://edge.example.com/grpc").build();
    assertEquals(List.of("wsgrpc.v1"), o.subprotocols());
    assertSame(TunnelSettings.DEFAULT, o.settings());
    assertEquals(10_000, o.settings().handshakeTimeoutMillis());
    assertEquals(30_000, o.settings().pingIntervalMillis());
    assertEquals(65_536, o.settings().maxOutboundFramePayload());
    assertEquals(1_048_576, o.settings().maxInboundFramePayload());
    assertSame(ProxyOptions.SYSTEM, o.proxy());
    assertTrue(o.proxy().useSystemProxy());
    assertSame(ClientTls.DEFAULT, o.tls());
    assertEquals("dns:///edge.example.com:443", o.target());
    assertEquals("edge.example.com:443", o.authority());
  }

  @Test
  void urlMustBeWsOrWssWithAHostAndNoCredentials() {
    assertEquals("url: http://h/grpc (expected: a ws:// or wss:// URL)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("http://h/grpc")));
    assertEquals("url: ws://<redacted>@h/grpc (expected: no user:password@ (send credentials as headers))",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://alice:secret@h/grpc")));
    assertEquals("url: ws://h/grpc#<redacted> (expected: no #fragment)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://h/grpc#x")));
    assertEquals("url: ws://h/grpc#<redacted> (expected: no #fragment)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://h/grpc#access_token=SECRET")));
  }

  @Test
  void urlErrorsNeverQuoteUserInfoHoldingASlashQuestionMarkOrHash() {
    assertEquals("url: ws://<redacted>@host/grpc (expected: a URL with a host)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://user:pa/ss@host/grpc")));
    assertEquals("url: ws://<redacted> (expected: a URL with a host)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://user:p#ss@host/grpc")));
    assertEquals("url: ws://<redacted> (expected: a URL with a host)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://user:p?ss@host/grpc")));
    assertEquals("url: ws://<redacted>@[::1]:8080/grpc (expected: no user:password@ (send credentials as headers))",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://user:SECRET@[::1]:8080/grpc")));
  }

  @Test
  void urlErrorsNeverQuoteTheQuery() {
    assertEquals("url: ws://h/grpc?<redacted> (expected: a wss:// URL when tls is set)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://h/grpc?key=SECRET")
            .tls(ClientTls.trusting(new File("/etc/ca.pem"))).build()));
    assertEquals("url: ws://<redacted>@h/grpc?<redacted> (expected: no user:password@ (send credentials as headers))",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://alice:secret@h/grpc?key=SECRET")));
    assertEquals("url: ws://h/grpc?<redacted> (expected: no #fragment)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://h/grpc?key=SECRET#x")));
    assertEquals("url: ws://bad host/grpc?<redacted> (expected: a ws:// or wss:// URL; Illegal character in "
        + "authority)", refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://bad host/grpc?key=SECRET")));
  }

  /** The same cases as tunnel-core's UrlRedactionTest: the two copies of the rule must agree. */
  @Test
  void redactUrlHidesUserInfoQueryAndFragmentLikeTunnelCore() {
    assertEquals("wss://h.example:8443/grpc", Checks.redactUrl("wss://h.example:8443/grpc"));
    assertEquals("ws://[::1]:8080/grpc", Checks.redactUrl("ws://[::1]:8080/grpc"));
    assertEquals("ws://h", Checks.redactUrl("ws://h"));
    assertNull(Checks.redactUrl(null));
    assertEquals("ws://h/grpc?<redacted>", Checks.redactUrl("ws://h/grpc?key=SECRET&x=1"));
    assertEquals("ws://h?<redacted>", Checks.redactUrl("ws://h?key=SECRET"));
    assertEquals("ws://h/grpc?<redacted>", Checks.redactUrl("ws://h/grpc?key=SECRET#x"));
    assertEquals("ws://h/grpc?<redacted>", Checks.redactUrl("ws://h/grpc?next=http://x/y"));
    assertEquals("ws://h/grpc#<redacted>", Checks.redactUrl("ws://h/grpc#access_token=SECRET"));
    assertEquals("ws://h/grpc#<redacted>", Checks.redactUrl("ws://h/grpc#f?key=SECRET"));
    assertEquals("ws://h#<redacted>", Checks.redactUrl("ws://h#SECRET"));
    assertEquals("ws://<redacted>@h/grpc", Checks.redactUrl("ws://user:pa@ss@h/grpc"));
    assertEquals("ws://<redacted>@h/grpc?<redacted>", Checks.redactUrl("ws://u:p@h/grpc?key=SECRET"));
    assertEquals("ws://<redacted>@h/grpc#<redacted>", Checks.redactUrl("ws://u:p@h/grpc#SECRET"));
    assertEquals("ws://<redacted>@[::1]:8080/grpc", Checks.redactUrl("ws://u:SECRET@[::1]:8080/grpc"));
    assertEquals("wss://<redacted>@[2001:db8::1]/grpc?<redacted>",
        Checks.redactUrl("wss://u:SECRET@[2001:db8::1]/grpc?k=v"));
    assertEquals("ws://<redacted>@host/grpc", Checks.redactUrl("ws://user:pa/ss@host/grpc"));
    assertEquals("ws://<redacted>@host/grpc?<redacted>", Checks.redactUrl("ws://user:pa/ss@host/grpc?k=v"));
    assertEquals("ws://<redacted>@b", Checks.redactUrl("ws://h/a@b"));
    assertEquals("ws://<redacted>", Checks.redactUrl("ws://user:p?ss@host/grpc"));
    assertEquals("ws://<redacted>", Checks.redactUrl("ws://user:p#ss@host/grpc"));
    assertEquals("ws://<redacted>", Checks.redactUrl("ws://h/grpc?token=abc@SECRET"));
    assertEquals("ws://<redacted>", Checks.redactUrl("ws://h/grpc?email=a@b.example&key=SECRET"));
    assertEquals("ws://<redacted>", Checks.redactUrl("ws://h/grpc#access_token=abc@SECRET"));
    assertEquals("ws://<redacted>", Checks.redactUrl("ws://u:p@h/grpc?e=a@b"));
    assertEquals("ws://<redacted>@h h/grpc?<redacted>", Checks.redactUrl("ws://u:p@h h/grpc?key=SE CRET"));
    assertEquals("<redacted>@h?<redacted>", Checks.redactUrl("u:p@h?k=v"));
    assertEquals("<redacted>@h/grpc", Checks.redactUrl("u:p://x@h/grpc"));
    assertEquals("<redacted>", Checks.redactUrl("u:p?x@h?next=ws://y"));
  }

  @Test
  void settingsOutOfRangeAreRefusedWithTheValue() {
    TunnelSettings.Builder b = TunnelSettings.newBuilder();
    assertEquals("maxOutboundFramePayload: 0 (expected: > 0)", refusal(() -> b.maxOutboundFramePayload(0)));
    // A frame over a quarter of OkHttp's send queue would have it refuse messages and close 1001.
    assertEquals("maxOutboundFramePayload: 4194305 (expected: <= 4194304, a quarter of OkHttp's 16 MiB send queue)",
        refusal(() -> b.maxOutboundFramePayload(4 * 1024 * 1024 + 1)));
    assertEquals(4 * 1024 * 1024, b.maxOutboundFramePayload(4 * 1024 * 1024).build().maxOutboundFramePayload());
    assertEquals("maxInboundFramePayload: -1 (expected: > 0)", refusal(() -> b.maxInboundFramePayload(-1)));
    assertEquals("handshakeTimeout: 0 SECONDS (expected: > 0)", refusal(() -> b.handshakeTimeout(0, TimeUnit.SECONDS)));
    assertEquals("pingInterval: -1 SECONDS (expected: 0 to send no pings, or at least 100 ms)",
        refusal(() -> b.pingInterval(-1, TimeUnit.SECONDS)));
    assertEquals("pingInterval: 50 MILLISECONDS (expected: 0 to send no pings, or at least 100 ms)",
        refusal(() -> b.pingInterval(50, TimeUnit.MILLISECONDS)));
    assertEquals(0, b.pingInterval(0, TimeUnit.SECONDS).build().pingIntervalMillis());
    assertEquals("pingTimeout: 0 SECONDS (expected: > 0)", refusal(() -> b.pingTimeout(0, TimeUnit.SECONDS)));
    assertEquals("pingTimeout: 25 DAYS (expected: at most 2147483647 ms, about 24.8 days)",
        refusal(() -> b.pingTimeout(25, TimeUnit.DAYS)));
    assertEquals(15_000, b.build().pingTimeoutMillis());
    assertEquals("subprotocol: a b (expected: an HTTP token)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://h/grpc").subprotocols("a b")));
  }

  /**
   * OkHttp refuses timeouts and ping intervals over Integer.MAX_VALUE ms ("timeout too large") when the channel is
   * built; the builder refuses them first.
   */
  @Test
  void durationsAreAtMostIntegerMaxValueMilliseconds() {
    TunnelSettings.Builder b = TunnelSettings.newBuilder();
    String atMost = " (expected: at most 2147483647 ms, about 24.8 days)";
    assertEquals("handshakeTimeout: 9223372036854775807 MILLISECONDS" + atMost,
        refusal(() -> b.handshakeTimeout(Long.MAX_VALUE, TimeUnit.MILLISECONDS)));
    assertEquals("handshakeTimeout: 2147483648 MILLISECONDS" + atMost,
        refusal(() -> b.handshakeTimeout(Integer.MAX_VALUE + 1L, TimeUnit.MILLISECONDS)));
    assertEquals("handshakeTimeout: 25 DAYS" + atMost, refusal(() -> b.handshakeTimeout(25, TimeUnit.DAYS)));
    assertEquals("pingInterval: 9223372036854775807 SECONDS" + atMost,
        refusal(() -> b.pingInterval(Long.MAX_VALUE, TimeUnit.SECONDS)));
    TunnelSettings longest = b.handshakeTimeout(Integer.MAX_VALUE, TimeUnit.MILLISECONDS)
        .pingInterval(Integer.MAX_VALUE, TimeUnit.MILLISECONDS).build();
    assertEquals(TunnelSettings.MAX_DURATION_MILLIS, longest.handshakeTimeoutMillis());
    assertEquals(TunnelSettings.MAX_DURATION_MILLIS, longest.pingIntervalMillis());
  }

  @Test
  void proxyOptionsAreValidatedAndNeverShowThePassword() {
    assertEquals("proxy port: 0 (expected: between 1 and 65535)", refusal(() -> ProxyOptions.of("p", 0)));
    assertEquals("proxy host: a b (expected: a host name or IP address)", refusal(() -> ProxyOptions.of("a b", 1)));
    assertEquals("proxy password: <redacted> (expected: printable ASCII without line breaks; found U+000D at index "
        + "2)", refusal(() -> ProxyOptions.newBuilder().credentials("alice", "pw\r\n")));
    assertEquals("proxy password: <redacted> (expected: printable ASCII without line breaks; found U+00E4 at index "
        + "1)", refusal(() -> ProxyOptions.newBuilder().credentials("alice", "p\u00e4ss")));
    assertEquals("proxy username: alice (expected: unset when there is no proxy address and useSystemProxy is "
        + "false)", refusal(() -> ProxyOptions.newBuilder().useSystemProxy(false).credentials("alice", "pw").build()));
    ProxyOptions p = ProxyOptions.newBuilder().address("proxy.corp", 3128).credentials("alice", "s3cr3t").build();
    assertEquals("ProxyOptions{address=proxy.corp:3128, username=alice, password=<redacted>, useSystemProxy=true}",
        p.toString());
    assertEquals(p.toString(), p.toBuilder().build().toString());
    assertFalse(ProxyOptions.DIRECT.useSystemProxy());
  }

  @Test
  void headersTheHandshakeSetsAreRefusedAndSecretsAreNotQuoted() {
    OkHttpWebSocketOptions.Builder b = OkHttpWebSocketOptions.newBuilder("ws://h/grpc");
    assertEquals("header name: Sec-WebSocket-Key (expected: not one the handshake sets itself)",
        refusal(() -> b.header("Sec-WebSocket-Key", "x")));
    assertEquals("header Authorization: <redacted> (expected: printable ASCII without line breaks; found U+000D at "
        + "index 8)", refusal(() -> b.header("Authorization", "Bearer a\r\nX: y")));
    assertEquals("bearer token: <redacted> (expected: an HTTP token (letters, digits, -._~+ and the like); found ' ' "
        + "at index 1)", refusal(() -> b.bearerTokenSubprotocol("a b")));
  }

  /** Any header may carry a secret (X-Auth-Key is on no list of sensitive names): no refusal quotes a value. */
  @Test
  void noHeaderValueNorNonTokenNameIsQuotedInARefusal() {
    OkHttpWebSocketOptions.Builder b = OkHttpWebSocketOptions.newBuilder("ws://h/grpc");
    assertEquals("header X-Auth-Key: <redacted> (expected: printable ASCII without line breaks; found U+0001 at "
        + "index 6)", refusal(() -> b.header("X-Auth-Key", "SECRET\u0001TOKEN")));
    assertEquals("header X-Trace: <redacted> (expected: printable ASCII without line breaks; found U+00E9 at "
        + "index 3)", refusal(() -> b.header("X-Trace", "caf\u00e9")));
    assertEquals("header X-Trace: null (expected: printable ASCII without line breaks)",
        refusal(() -> b.header("X-Trace", null)));
    assertEquals("header name: <redacted> (expected: an HTTP token; found ' ' at index 13)",
        refusal(() -> b.header("Authorization Bearer SECRET", "x")));
    assertEquals("header name:  (expected: an HTTP token)", refusal(() -> b.header("", "x")));
    assertEquals("header X-Auth-Key: <redacted> (expected: printable ASCII without line breaks; found U+0001 at "
        + "index 6)", refusal(() -> OkHttpWebSocketOptions.Builder.checkHeader("X-Auth-Key", "SECRET\u0001TOKEN")));
    assertEquals("subprotocol: bearer.<redacted> (expected: a protocol name (set tokens with "
        + "bearerTokenSubprotocol))", refusal(() -> b.subprotocols("bearer.ab/SECRET==")));
    // Servers read the prefix in any case: so is a token under it refused, and not shown.
    assertEquals("subprotocol: Bearer.<redacted> (expected: a protocol name (set tokens with "
        + "bearerTokenSubprotocol))", refusal(() -> b.subprotocols("wsgrpc.v1", "Bearer.SECRET")));
    assertEquals("[wsgrpc.v1]", b.build().subprotocols().toString());
  }

  @Test
  void subprotocolsMustNotBeNull() {
    assertEquals("subprotocols", assertThrows(NullPointerException.class,
        () -> OkHttpWebSocketOptions.newBuilder("ws://h/grpc").subprotocols((String[]) null)).getMessage());
  }

  @Test
  void tlsSettingsNeedWss() {
    assertEquals("url: ws://h/grpc (expected: a wss:// URL when tls is set)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://h/grpc").tls(ClientTls.trusting(new File("ca.pem")))
            .build()));
    CertificatePinner pins = new CertificatePinner.Builder()
        .add("h", "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").build();
    assertEquals("url: ws://h/grpc (expected: a wss:// URL when tls is set)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://h/grpc")
            .tls(ClientTls.DEFAULT.withCertificatePinner(pins)).build()));
    assertEquals("default, pins=1", ClientTls.DEFAULT.withCertificatePinner(pins).toString());
  }

  @Test
  void toStringNeverShowsTheQueryTheBearerTokenHeaderValuesOrProxyPassword() {
    OkHttpWebSocketOptions o = OkHttpWebSocketOptions.newBuilder("wss://h/grpc?token=abc")
        .bearerTokenSubprotocol("s3cr3t").header("Authorization", "Bearer s3cr3t")
        .proxy(ProxyOptions.newBuilder().address("p", 3128).credentials("alice", "pa55").build()).build();
    assertEquals(Arrays.asList("wsgrpc.v1", "bearer.s3cr3t"), o.offeredSubprotocols());
    String shown = o.toString();
    assertFalse(shown.contains("s3cr3t"), shown);
    assertFalse(shown.contains("abc"), shown);
    assertFalse(shown.contains("pa55"), shown);
    assertTrue(shown.contains("url=wss://h/grpc?<redacted>"), shown);
    assertTrue(shown.contains("bearerTokenSubprotocol=bearer.<redacted>"), shown);
    // An @ in the query of a URL that passed the checks hides the query only, not the host.
    String at = OkHttpWebSocketOptions.newBuilder("wss://h:8443/grpc?user=a@b.example").build().toString();
    assertTrue(at.contains("url=wss://h:8443/grpc?<redacted>,"), at);
    assertFalse(at.contains("b.example"), at);
  }

  @Test
  void connectToDialsElsewhereButKeepsTheUrlsAuthority() {
    OkHttpWebSocketOptions o = OkHttpWebSocketOptions.newBuilder("wss://edge.example.com/grpc")
        .connectTo("[2001:db8::1]", 8443).build();
    assertEquals("dns:///%5B2001:db8::1%5D:8443", o.target(), "grpc-java refuses brackets in the target's path");
    assertEquals("edge.example.com:443", o.authority());
  }

  private static final String WITHOUT_A_PORT = "a host name or IP address without a port (':' only in an IPv6 "
      + "literal; the port is the second argument)";

  /** grpc-java refused "dns:///[edge.example.com:443]:443" only when the channel was built, in its own words. */
  @ParameterizedTest
  @ValueSource(strings = {"edge.example.com:443", "192.0.2.7:443", "[edge.example.com]", "dead:beef", "1::2::3",
      "[::1]:443", "fe80::1%eth0"})
  void aHostThatIsNoHostAloneIsRefusedByTheBuilders(String host) {
    assertEquals("connectTo host: " + host + " (expected: " + WITHOUT_A_PORT + ")",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://h/").connectTo(host, 443)));
    assertEquals("proxy host: " + host + " (expected: " + WITHOUT_A_PORT + ")",
        refusal(() -> ProxyOptions.of(host, 3128)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"edge.example.com", "192.0.2.7", "::1", "[::1]", "2001:db8::7", "[::ffff:192.0.2.7]"})
  void hostNamesAndIpAddressesAreAccepted(String host) throws Exception {
    OkHttpWebSocketOptions o = OkHttpWebSocketOptions.newBuilder("ws://h/grpc").connectTo(host, 443)
        .proxy(ProxyOptions.of(host, 3128)).build();
    assertEquals(3128, o.proxy().port());
  }
}
