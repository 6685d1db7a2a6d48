package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.cors.CorsHandler;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The CORS answers {@link BrowserOptions} configures, through Netty's {@link CorsHandler}. */
class BrowserOptionsTest {

  /** The preflight answer to a page from {@code origin}, every header name lower case. */
  private static Map<String, String> preflight(BrowserOptions options, String origin) {
    EmbeddedChannel channel = new EmbeddedChannel(new CorsHandler(options.cors()));
    DefaultFullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.OPTIONS,
        "/wsgrpc.testing.Echo/Unary");
    request.headers().set(HttpHeaderNames.ORIGIN, origin)
        .set(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .set(HttpHeaderNames.ACCESS_CONTROL_REQUEST_HEADERS, "content-type,x-grpc-web");
    assertFalse(channel.writeInbound(request), "a preflight is answered, never passed on");
    FullHttpResponse response = channel.readOutbound();
    try {
      assertEquals(200, response.status().code());
      assertEquals(0, response.content().readableBytes());
      Map<String, String> headers = new TreeMap<>();
      response.headers().forEach(h -> headers.merge(h.getKey().toLowerCase(java.util.Locale.ROOT), h.getValue(),
          (a, b) -> a + " | " + b));
      return headers;
    } finally {
      assertTrue(response.release());
      assertFalse(channel.finish());
    }
  }

  @Test
  void aPreflightAnswerCarriesExactlyTheCorsHeadersAndNoQuotedDate() {
    BrowserOptions options = BrowserOptions.newBuilder(List.of("https://app.example")).build();
    Map<String, String> headers = preflight(options, "https://app.example");
    assertFalse(headers.containsKey("date"), "no Date: Netty's default is quoted as a combined header " + headers);
    assertEquals(new java.util.TreeSet<>(BrowserOptions.STANDARD_REQUEST_HEADERS),
        new java.util.TreeSet<>(List.of(headers.remove("access-control-allow-headers").split(","))));
    assertEquals(Map.of(
        "access-control-allow-origin", "https://app.example",
        "vary", "origin",
        "access-control-allow-methods", "POST",
        "access-control-max-age", "600",
        "content-length", "0"), headers);
  }

  /** Browsers send {@code Origin} without a path, and the list is compared as text: these could never match. */
  @ParameterizedTest
  @ValueSource(strings = {"https://app.example.com/", "https://app.example.com/app", "https://app.example.com?a",
      "https://user@app.example.com", "app.example.com", "null", ""})
  void originsThatNoBrowserSendsAreRefused(String origin) {
    assertEquals("origins: " + origin + " (expected: an origin such as https://app.example.com: "
        + "scheme://host[:port], without a path, or *)",
        assertThrows(IllegalArgumentException.class, () -> BrowserOptions.forOrigins(origin)).getMessage());
  }

  /**
   * Origins are kept as browsers send them (scheme and host in lower case, no default port), so that the Origin
   * check and Netty's CORS handler, which compares as given, agree: a listed {@code https://App.example.com:443}
   * passed the first and failed every preflight.
   */
  @Test
  void originsAreKeptAsBrowsersSendThemAndMatchedIgnoringCase() {
    BrowserOptions options = BrowserOptions.forOrigins("https://App.example.com:8443", "http://[::1]:8080",
        "http://gateway_1:8080", "HTTPS://Web.Example.com:443", "http://plain.example:80", "http://[::1]");
    assertEquals(List.of("https://app.example.com:8443", "http://[::1]:8080", "http://gateway_1:8080",
        "https://web.example.com", "http://plain.example", "http://[::1]"), options.allowedOrigins());
    assertTrue(options.allows("https://app.example.com:8443"));
    assertTrue(options.allows("https://web.example.com"));
    assertFalse(options.allows("https://app.example.com"));
    assertEquals("https://web.example.com",
        preflight(options, "https://web.example.com").get("access-control-allow-origin"));
    // Ports with leading zeros and IPv6 addresses at length, as a browser would write them.
    assertEquals(List.of("https://h.example", "http://h.example:8080", "http://[::1]:8080",
        "http://[2001:db8::1:0:0:1]", "http://[::ffff:102:304]"), BrowserOptions.forOrigins("https://h.example:0443",
            "http://h.example:08080", "http://[0:0:0:0:0:0:0:1]:8080", "http://[2001:DB8:0:0:1:0:0:1]",
            "http://[::ffff:1.2.3.4]").allowedOrigins());
    // Kept as given: a host beyond ASCII (browsers send punycode; no mapping of ß to ss, which is another site),
    // another scheme's origin (its host is opaque to browsers), and an authority with a second colon (idempotence).
    List<String> asGiven = List.of("https://stra\u00dfe.example", "chrome-extension://ABCdef",
        "https://a.example:443:443");
    assertEquals(List.of("https://stra\u00dfe.example", "chrome-extension://ABCdef", "https://a.example:443:443"),
        BrowserOptions.forOrigins(asGiven.toArray(new String[0])).allowedOrigins());
    assertFalse(BrowserOptions.forOrigins("https://stra\u00dfe.example").allows("https://strasse.example"));
    assertEquals("chrome-extension://ABCdef", preflight(BrowserOptions.forOrigins("chrome-extension://ABCdef"),
        "chrome-extension://ABCdef").get("access-control-allow-origin"));
    // An incoming Origin is compared in the same form: a non-browser client's explicit default port matches.
    assertTrue(options.allows("https://web.example.com:443"));
    assertEquals("origins", assertThrows(NullPointerException.class,
        () -> BrowserOptions.forOrigins((String[]) null)).getMessage());
  }

  @Test
  void theJsonMessageLimitDefaultsToGrpcsAndIsKeptByToBuilder() {
    BrowserOptions options = BrowserOptions.forOrigins("*");
    assertEquals(4 * 1024 * 1024, options.maxJsonMessageBytes());
    BrowserOptions larger = options.toBuilder().maxJsonMessageBytes(16 << 20).build();
    assertEquals(16 << 20, larger.toBuilder().build().maxJsonMessageBytes());
    org.junit.jupiter.api.Assertions.assertTrue(larger.toString().contains("maxJsonMessageBytes=16777216"));
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> BrowserOptions.forOrigins("*").toBuilder().maxJsonMessageBytes(0));
    assertEquals("maxJsonMessageBytes: 0 (expected: > 0)", e.getMessage());
  }

  @Test
  void theRequestBodyTimeoutDefaultsToSixtySecondsIsKeptByToBuilderAndMustBePositive() {
    BrowserOptions options = BrowserOptions.forOrigins("*");
    assertEquals(java.time.Duration.ofSeconds(60), options.requestBodyTimeout());
    BrowserOptions shorter = options.toBuilder().requestBodyTimeout(java.time.Duration.ofSeconds(5)).build();
    assertEquals(java.time.Duration.ofSeconds(5), shorter.toBuilder().build().requestBodyTimeout());
    org.junit.jupiter.api.Assertions.assertTrue(shorter.toString().contains("requestBodyTimeout=PT5S"));
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> BrowserOptions.forOrigins("*").toBuilder().requestBodyTimeout(java.time.Duration.ZERO));
    assertEquals("requestBodyTimeout: 0s (expected: > 0)", e.getMessage());
  }

  @Test
  void theKeepAliveTimeoutDefaultsToNginxsSeventyFiveSecondsIsKeptByToBuilderAndMustBePositive() {
    BrowserOptions options = BrowserOptions.forOrigins("*");
    assertEquals(java.time.Duration.ofSeconds(75), options.keepAliveTimeout());
    BrowserOptions shorter = options.toBuilder().keepAliveTimeout(java.time.Duration.ofSeconds(5)).build();
    assertEquals(java.time.Duration.ofSeconds(5), shorter.toBuilder().build().keepAliveTimeout());
    assertTrue(shorter.toString().contains("keepAliveTimeout=PT5S"));
    assertEquals("keepAliveTimeout: 0s (expected: > 0)", assertThrows(IllegalArgumentException.class,
        () -> BrowserOptions.forOrigins("*").toBuilder().keepAliveTimeout(java.time.Duration.ZERO)).getMessage());
    assertEquals("keepAliveTimeout", assertThrows(NullPointerException.class,
        () -> BrowserOptions.forOrigins("*").toBuilder().keepAliveTimeout(null)).getMessage());
  }

  @Test
  void theSendTimeoutDefaultsToNginxsSixtySecondsIsKeptByToBuilderAndMustBePositive() {
    BrowserOptions options = BrowserOptions.forOrigins("*");
    assertEquals(java.time.Duration.ofSeconds(60), options.sendTimeout());
    BrowserOptions shorter = options.toBuilder().sendTimeout(java.time.Duration.ofSeconds(5)).build();
    assertEquals(java.time.Duration.ofSeconds(5), shorter.toBuilder().build().sendTimeout());
    assertTrue(shorter.toString().contains("sendTimeout=PT5S"));
    assertEquals("sendTimeout: 0s (expected: > 0)", assertThrows(IllegalArgumentException.class,
        () -> BrowserOptions.forOrigins("*").toBuilder().sendTimeout(java.time.Duration.ZERO)).getMessage());
    assertEquals("sendTimeout", assertThrows(NullPointerException.class,
        () -> BrowserOptions.forOrigins("*").toBuilder().sendTimeout(null)).getMessage());
  }

  @Test
  void aPreflightFromAnOriginNotAllowedGetsNoCorsHeaders() {
    BrowserOptions options = BrowserOptions.newBuilder(List.of("https://app.example")).build();
    assertEquals(Map.of("content-length", "0"), preflight(options, "https://evil.example"));
  }
}
