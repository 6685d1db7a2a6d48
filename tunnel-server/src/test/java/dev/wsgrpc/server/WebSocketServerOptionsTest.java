package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
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
import java.util.Collections;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class WebSocketServerOptionsTest {

  private static String message(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void defaultsServeWsOnGrpcWithTheTunnelLimits() {
    WebSocketServerOptions o = WebSocketServerOptions.DEFAULT;
    assertEquals("/grpc", o.path());
    assertEquals("wsgrpc.v1", o.subprotocol());
    assertEquals(Duration.ofSeconds(10), o.settings().handshakeTimeout());
    assertNull(o.sslContext());
    assertEquals(1024 * 1024, o.settings().maxInboundFramePayload());
    assertEquals(64 * 1024, o.settings().maxOutboundFramePayload());
    assertSame(AccessPolicy.OPEN, o.access());
  }

  @Test
  void newBuilderStartsFromTheDefaults() {
    assertEquals(WebSocketServerOptions.DEFAULT.toString(), WebSocketServerOptions.newBuilder().build().toString());
  }

  @Test
  void settersAreKept() {
    WebSocketServerOptions o = WebSocketServerOptions.newBuilder()
        .path("/a/b")
        .subprotocol("acme.v2")
        .settings(TunnelSettings.newBuilder()
            .handshakeTimeout(Duration.ofMillis(1500))
            .maxInboundFramePayload(4096)
            .maxOutboundFramePayload(2048)
            .build())
        .build();
    assertEquals("/a/b", o.path());
    assertEquals("acme.v2", o.subprotocol());
    assertEquals(Duration.ofMillis(1500), o.settings().handshakeTimeout());
    assertEquals(4096, o.settings().maxInboundFramePayload());
    assertEquals(2048, o.settings().maxOutboundFramePayload());
  }

  @Test
  void toBuilderCopiesEverySettingAndLeavesTheOriginalAlone() {
    WebSocketServerOptions o = WebSocketServerOptions.newBuilder().path("/t").subprotocol("p").build();
    WebSocketServerOptions copy = o.toBuilder().build();
    assertEquals(o.toString(), copy.toString());
    WebSocketServerOptions changed = o.toBuilder().path("/u").build();
    assertEquals("/u", changed.path());
    assertEquals("p", changed.subprotocol());
    assertEquals("/t", o.path());
  }

  @Test
  void toStringShowsNoTokenNoKeyAndNoTrustedSecret() throws Exception {
    TestCertificates certs = TestCertificates.create();
    WebSocketServerOptions o = WebSocketServerOptions.newBuilder()
        .tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()))
        .access(AccessPolicy.newBuilder().authenticator(BearerTokens.of(java.util.Map.of("s3cr3t-token", "alice")))
            .build())
        .build();
    String shown = o.toString();
    assertFalse(shown.contains("s3cr3t"), shown);
    assertFalse(shown.contains("alice"), shown);
    assertFalse(shown.contains("PRIVATE KEY"), shown);
    String key = new String(java.nio.file.Files.readAllBytes(certs.serverKeyPem().toPath()),
        java.nio.charset.StandardCharsets.US_ASCII);
    assertFalse(shown.contains(key.substring(key.indexOf('\n') + 1, key.indexOf('\n') + 20)), shown);
    assertTrue(shown.contains("authenticator=true"), shown);
  }

  @Test
  void toStringListsEveryField() {
    assertEquals("WebSocketServerOptions{path=/grpc, subprotocol=wsgrpc.v1, tls=null, "
        + "nativeGrpc=false, plainHttpHandler=false, maxRequestLineBytes=4096, maxRequestHeaderBytes=16384, "
        + "access=AccessPolicy{authenticator=false, allowedOrigins=[], trustedProxies=[], admission=false, "
        + "maxTunnels=2147483647, maxTunnelsPerClient=2147483647, "
        + "maxHandshakesPerClient=2147483647, ipv6ClientPrefix=64, "
        + "crossSiteCredentialsAllowed=false}, "
        + "settings=TunnelSettings{maxInboundFramePayload=1048576, maxOutboundFramePayload=65536, pingInterval=PT30S, "
        + "pingTimeout=PT15S, handshakeTimeout=PT10S}, browser=null, "
        + "http2Limits=Http2Limits{maxConcurrentCalls=1000, maxRstFrames=200, rstWindow=PT10S}}",
        WebSocketServerOptions.DEFAULT.toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {"grpc", "", "/a?b", "/a#b", "/a b", "/a\nb", "/a\u0000"})
  void pathMustBeAnAbsolutePathWithoutQuery(String path) {
    assertEquals("path: " + path + " (expected: an absolute path such as /grpc, without query)",
        message(() -> WebSocketServerOptions.newBuilder().path(path)));
  }

  @Test
  void pathMustNotBeNull() {
    assertEquals("path", assertThrows(NullPointerException.class,
        () -> WebSocketServerOptions.newBuilder().path(null)).getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "a b", "a,b", "a/b"})
  void subprotocolMustBeAToken(String name) {
    assertEquals("subprotocol: " + name + " (expected: an HTTP token)",
        message(() -> WebSocketServerOptions.newBuilder().subprotocol(name)));
  }

  @Test
  void subprotocolMustNotBeNull() {
    assertEquals("subprotocol: null (expected: an HTTP token)",
        message(() -> WebSocketServerOptions.newBuilder().subprotocol(null)));
  }

  @Test
  void handshakeTimeoutMustBePositive() {
    assertEquals("handshakeTimeout: 0s (expected: > 0)",
        message(() -> TunnelSettings.newBuilder().handshakeTimeout(Duration.ZERO)));
    assertEquals("handshakeTimeout: -1s (expected: > 0)",
        message(() -> TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(-1))));
    assertEquals("handshakeTimeout", assertThrows(NullPointerException.class,
        () -> TunnelSettings.newBuilder().handshakeTimeout(null)).getMessage());
  }

  @Test
  void frameLimitsMustBePositive() {
    assertEquals("maxInboundFramePayload: 0 (expected: > 0)",
        message(() -> TunnelSettings.newBuilder().maxInboundFramePayload(0)));
    assertEquals("maxOutboundFramePayload: -5 (expected: > 0)",
        message(() -> TunnelSettings.newBuilder().maxOutboundFramePayload(-5)));
  }

  @Test
  void pingIntervalIsZeroOrAtLeast100MillisAndPingTimeoutPositive() {
    WebSocketServerOptions o = WebSocketServerOptions.newBuilder().settings(TunnelSettings.newBuilder()
        .pingInterval(Duration.ZERO).pingTimeout(Duration.ofSeconds(2)).build()).build();
    assertEquals(Duration.ZERO, o.settings().pingInterval());
    assertEquals(Duration.ofSeconds(2), o.settings().pingTimeout());
    assertEquals(Duration.ofSeconds(30), WebSocketServerOptions.DEFAULT.settings().pingInterval());
    assertEquals(Duration.ofSeconds(15), WebSocketServerOptions.DEFAULT.settings().pingTimeout());
    assertEquals("pingInterval: 99ms (expected: 0 to send no pings, or at least 100 ms)",
        message(() -> TunnelSettings.newBuilder().pingInterval(Duration.ofMillis(99))));
    assertEquals("pingTimeout: -1s (expected: > 0)",
        message(() -> TunnelSettings.newBuilder().pingTimeout(Duration.ofSeconds(-1))));
  }

  @Test
  void sslContextMustBeAServerContext() throws Exception {
    SslContext client = SslContextBuilder.forClient().build();
    String m = message(() -> ServerTls.of(client));
    assertTrue(m.startsWith("sslContext: "), m);
    assertTrue(m.endsWith(" (expected: a server context)"), m);
  }

  @Test
  void tlsBuildsAServerContextOfferingOnlyHttp11() {
    TestCertificates certs = TestCertificates.create();
    WebSocketServerOptions o = WebSocketServerOptions.newBuilder()
        .tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()))
        .build();
    assertNotNull(o.sslContext());
    assertTrue(o.sslContext().get().isServer());
    assertEquals(Collections.singletonList("http/1.1"),
        o.sslContext().get().applicationProtocolNegotiator().protocols());
    assertTrue(o.toString().contains("tls=pemFiles("), o.toString());
    assertFalse(o.toString().contains("PRIVATE KEY"));
  }

  @Test
  void tlsWithNativeGrpcAlsoOffersH2First() {
    TestCertificates certs = TestCertificates.create();
    WebSocketServerOptions o = WebSocketServerOptions.newBuilder()
        .tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()))
        .nativeGrpc(true)
        .build();
    assertEquals(java.util.Arrays.asList("h2", "http/1.1"),
        o.sslContext().get().applicationProtocolNegotiator().protocols());
  }

  @Test
  void tlsWithNativeGrpcAndBrowsersPrefersHttp11ForBrowsers() {
    // Browsers offer both and need HTTP/1.1 for gRPC-Web; gRPC clients offer h2 alone and still get it.
    TestCertificates certs = TestCertificates.create();
    WebSocketServerOptions o = WebSocketServerOptions.newBuilder()
        .tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()))
        .nativeGrpc(true)
        .browser(BrowserOptions.forOrigins("*"))
        .build();
    assertEquals(java.util.Arrays.asList("http/1.1", "h2"),
        o.sslContext().get().applicationProtocolNegotiator().protocols());
  }

  @Test
  void trustedProxiesRejectAnythingButAddressesAndPrefixes() {
    assertEquals("trustedProxies: 10.0.0.0/33 (expected: a prefix length from 0 to 32)",
        assertThrows(IllegalArgumentException.class, () -> AccessPolicy.newBuilder()
            .trustedProxies(java.util.Arrays.asList("10.0.0.0/33"))).getMessage());
    assertEquals("trustedProxies: proxy.example.com (expected: an IP address or CIDR block)",
        assertThrows(IllegalArgumentException.class, () -> AccessPolicy.newBuilder()
            .trustedProxies(java.util.Arrays.asList("proxy.example.com"))).getMessage());
  }

  @Test
  void sslContextIsUsedAsGiven() throws Exception {
    TestCertificates certs = TestCertificates.create();
    SslContext server = SslContextBuilder.forServer(certs.serverCertPem(), certs.serverKeyPem()).build();
    assertSame(server, WebSocketServerOptions.newBuilder().tls(ServerTls.of(server)).build().sslContext().get());
    assertNull(WebSocketServerOptions.newBuilder().tls(ServerTls.of(server)).tls(null).build().sslContext());
  }

  @Test
  void tlsWithUnreadableFilesSaysWhatWasExpected() {
    File cert = new File("/nonexistent/cert.pem");
    File key = new File("/nonexistent/key.pem");
    String m = message(() -> WebSocketServerOptions.newBuilder().tls(ServerTls.pemFiles(cert, key)).build());
    assertTrue(m.startsWith("tls: /nonexistent/cert.pem, /nonexistent/key.pem (expected: a PEM certificate chain "
        + "and a PEM PKCS#8 private key; "), m);
  }

  @Test
  void tlsRejectsNullFiles() {
    File f = new File("x.pem");
    assertEquals("certChainPem", assertThrows(NullPointerException.class,
        () -> ServerTls.pemFiles(null, f)).getMessage());
    assertEquals("privateKeyPem", assertThrows(NullPointerException.class,
        () -> ServerTls.pemFiles(f, null)).getMessage());
  }

  @Test
  void clientCertificatesNeedPemFilesAndReachTheContext() {
    TestCertificates certs = TestCertificates.create();
    assertEquals("caPem: ca.pem (expected: set together with pemFiles(cert, key))",
        message(() -> ServerTls.reloading(() -> null).requireClientCertificates(new File("ca.pem"))));
    assertEquals("caPem", assertThrows(NullPointerException.class,
        () -> ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()).requireClientCertificates(null))
        .getMessage());
    WebSocketServerOptions o = WebSocketServerOptions.newBuilder()
        .tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()).requireClientCertificates(certs.caPem()))
        .build();
    assertTrue(o.sslContext().get().isServer());
    assertTrue(o.toString().contains(", clientCa "), o.toString());
  }

  @Test
  void trustedProxiesReadXForwardedForUnlessTheOtherHeaderIsNamed() {
    assertEquals(TrustedProxies.Header.X_FORWARDED_FOR, AccessPolicy.newBuilder()
        .trustedProxies(java.util.List.of("10.0.0.0/8")).build().trustedProxies().header());
    AccessPolicy forwarded = AccessPolicy.newBuilder()
        .trustedProxies(java.util.List.of("10.0.0.0/8"), TrustedProxies.Header.FORWARDED).build();
    assertEquals(TrustedProxies.Header.FORWARDED, forwarded.trustedProxies().header());
    assertEquals("[10.0.0.0/8] via Forwarded", forwarded.toBuilder().build().trustedProxies().toString());
  }

  @Test
  void ipv6ClientPrefixDefaultsToSlash64AndIsValidated() {
    assertEquals(64, AccessPolicy.OPEN.ipv6ClientPrefix());
    assertEquals(48, AccessPolicy.newBuilder().ipv6ClientPrefix(48).build().toBuilder().build().ipv6ClientPrefix());
    assertEquals("ipv6ClientPrefix: 0 (expected: 1 <= ipv6ClientPrefix <= 128)",
        message(() -> AccessPolicy.newBuilder().ipv6ClientPrefix(0)));
    assertEquals("ipv6ClientPrefix: 129 (expected: 1 <= ipv6ClientPrefix <= 128)",
        message(() -> AccessPolicy.newBuilder().ipv6ClientPrefix(129)));
  }

  @Test
  void accessPolicyKeepsEverySettingAndToBuilderCopiesIt() {
    TunnelAdmission none = (client, path) -> TunnelAdmission.Refusal.forbidden("no");
    AccessPolicy p = AccessPolicy.newBuilder().allowedOrigins(java.util.List.of("https://a.example"))
        .trustedProxies(java.util.List.of("10.0.0.0/8")).admission(none).maxTunnels(5).maxTunnelsPerClient(2)
        .maxHandshakesPerClient(3).authenticator(TunnelAuthenticator.CLIENT_CERTIFICATE).build();
    assertEquals(java.util.List.of("https://a.example"), p.allowedOrigins());
    assertSame(none, p.admission());
    assertEquals(5, p.maxTunnels());
    assertEquals(2, p.maxTunnelsPerClient());
    assertEquals(3, p.maxHandshakesPerClient());
    assertEquals(Integer.MAX_VALUE, AccessPolicy.OPEN.maxHandshakesPerClient(), "no limit by default");
    assertSame(TunnelAuthenticator.CLIENT_CERTIFICATE, p.authenticator());
    assertEquals(p.toString(), p.toBuilder().build().toString());
    assertEquals("maxTunnels: 0 (expected: > 0)", message(() -> AccessPolicy.newBuilder().maxTunnels(0)));
    assertEquals("maxHandshakesPerClient: 0 (expected: > 0)",
        message(() -> AccessPolicy.newBuilder().maxHandshakesPerClient(0)));
  }

  /** Browsers send {@code Origin} without a path, and the list is compared as text: these could never match. */
  @ParameterizedTest
  @ValueSource(strings = {"https://app.example.com/", "https://app.example.com/app", "https://app.example.com#x",
      "https://user@app.example.com", "app.example.com", ""})
  void allowedOriginsThatNoBrowserSendsAreRefused(String origin) {
    assertEquals("allowedOrigins: " + origin + " (expected: an origin such as https://app.example.com: "
        + "scheme://host[:port], without a path)",
        message(() -> AccessPolicy.newBuilder().allowedOrigins(java.util.List.of(origin))));
  }

  /** "*" means any page in BrowserOptions; here it would match no Origin, so it is refused, saying what does that. */
  @Test
  void allowedOriginsRefuseTheWildcardAndKeepTheOpaqueOriginAndPorts() {
    assertEquals("allowedOrigins: * (expected: listed origins; for pages of any origin, "
        + "crossSiteCredentialsAllowed(true))",
        message(() -> AccessPolicy.newBuilder().allowedOrigins(java.util.List.of("https://a.example", "*"))));
    java.util.List<String> kept = java.util.List.of("null", "http://127.0.0.1:8080", "https://[::1]:8443");
    assertEquals(kept, AccessPolicy.newBuilder().allowedOrigins(kept).build().allowedOrigins());
    // As browsers send them: a default port or capitals would match no Origin a browser sends.
    assertEquals(java.util.List.of("https://app.example.com", "http://app.example.com:8080"), AccessPolicy.newBuilder()
        .allowedOrigins(java.util.List.of("HTTPS://App.Example.com:443", "http://APP.example.com:8080")).build()
        .allowedOrigins());
  }
}
