package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class TrustedProxiesTest {

  private static final InetSocketAddress PROXY = new InetSocketAddress("10.1.2.3", 40000);
  private static final InetSocketAddress STRANGER = new InetSocketAddress("203.0.113.9", 40000);
  private final TrustedProxies trusted = TrustedProxies.parse(Arrays.asList("10.0.0.0/8", "192.168.1.1"));
  private final TrustedProxies forwarded = TrustedProxies.parse(Arrays.asList("10.0.0.0/8", "192.168.1.1"),
      TrustedProxies.Header.FORWARDED);

  private static HttpHeaders headers(String... nameValues) {
    HttpHeaders h = new DefaultHttpHeaders();
    for (int i = 0; i < nameValues.length; i += 2) {
      h.add(nameValues[i], nameValues[i + 1]);
    }
    return h;
  }

  @Test
  void cidrBlocksAndSingleAddressesMatch() throws Exception {
    assertTrue(trusted.contains(InetAddress.getByName("10.255.0.1")));
    assertTrue(trusted.contains(InetAddress.getByName("192.168.1.1")));
    assertFalse(trusted.contains(InetAddress.getByName("192.168.1.2")));
    assertFalse(trusted.contains(InetAddress.getByName("11.0.0.1")));
    assertFalse(trusted.contains(InetAddress.getByName("::1")), "IPv4 blocks never match IPv6 addresses");
    assertTrue(TrustedProxies.parse(Arrays.asList("2001:db8::/32")).contains(InetAddress.getByName("2001:db8:1::5")));
  }

  @Test
  void xForwardedForFromATrustedProxyNamesTheClient() {
    assertEquals(new InetSocketAddress("198.51.100.7", 0),
        trusted.clientAddress(PROXY, headers("X-Forwarded-For", "198.51.100.7")));
  }

  @Test
  void headerLinesOfANativeCallFollowTheSameRules() {
    // A native gRPC call's metadata lines, in order, as nginx grpc_pass sends them.
    assertEquals(new InetSocketAddress("198.51.100.7", 0),
        trusted.clientAddress(PROXY, Arrays.asList("1.1.1.1", "198.51.100.7, 10.9.9.9")));
    assertEquals(STRANGER, trusted.clientAddress(STRANGER, Arrays.asList("198.51.100.7")));
    assertEquals(PROXY, trusted.clientAddress(PROXY, Arrays.asList()));
    assertEquals(new InetSocketAddress("198.51.100.8", 0),
        forwarded.clientAddress(PROXY, Arrays.asList("for=1.1.1.1, for=198.51.100.8")));
  }

  @Test
  void headersFromAnUntrustedPeerAreIgnored() {
    assertEquals(STRANGER, trusted.clientAddress(STRANGER, headers("X-Forwarded-For", "198.51.100.7")));
  }

  @Test
  void theNearestUntrustedHopWinsSoClientsCannotSpoofThroughTheProxy() {
    // The client sent "X-Forwarded-For: 1.1.1.1"; the edge appended the real address, then an inner proxy its own.
    assertEquals(new InetSocketAddress("198.51.100.7", 0), trusted.clientAddress(PROXY,
        headers("X-Forwarded-For", "1.1.1.1, 198.51.100.7, 10.9.9.9")));
  }

  @Test
  void forwardedHeaderWhenConfiguredIsTheOnlyOneReadAndMayCarryPortsAndIpv6() {
    assertEquals(new InetSocketAddress("198.51.100.7", 4711), forwarded.clientAddress(PROXY,
        headers("Forwarded", "for=\"198.51.100.7:4711\";proto=https", "X-Forwarded-For", "5.5.5.5")));
    assertEquals(new InetSocketAddress("2001:db8::1", 0),
        forwarded.clientAddress(PROXY, headers("Forwarded", "for=\"[2001:db8::1]\"")));
    assertEquals(new InetSocketAddress("198.51.100.7", 0), forwarded.clientAddress(PROXY,
        headers("Forwarded", "For=198.51.100.7;by=10.1.2.3")), "parameter names ignore case");
  }

  @Test
  void anEmptyQuotedForNamesNoOne() {
    // Found by ForwardedHeaderFuzzTest: for="" was read as an address of "" rather than as no valid for.
    assertEquals(java.util.Arrays.asList(null, "1.2.3.4"), ForwardedHeaderParser.forChain(
        java.util.List.of("for=\"\", for=1.2.3.4")));
    assertEquals(PROXY, forwarded.clientAddress(PROXY, headers("Forwarded", "for=\"\"")));
  }

  @Test
  void unreadableHopsStopTheWalk() {
    assertEquals(PROXY, trusted.clientAddress(PROXY, headers("X-Forwarded-For", "unknown")));
    assertEquals(PROXY, forwarded.clientAddress(PROXY, headers("Forwarded", "for=_hidden")));
  }

  // Spoofing attempts: the client controls everything left of (and including the text of) what the proxy appends.

  @Test
  void aClientSentForwardedIsIgnoredBehindAProxyThatAppendsXForwardedFor() {
    // nginx as in docs/DEPLOYMENT.md passes the client's Forwarded on untouched and appends to X-Forwarded-For.
    assertEquals(new InetSocketAddress("198.51.100.7", 0), trusted.clientAddress(PROXY,
        headers("Forwarded", "for=1.1.1.1", "X-Forwarded-For", "198.51.100.7")));
    assertEquals(PROXY, trusted.clientAddress(PROXY, headers("Forwarded", "for=1.1.1.1")),
        "without X-Forwarded-For the proxy is the client, never the Forwarded value");
  }

  @Test
  void aClientSentXForwardedForIsIgnoredBehindAProxyThatAppendsForwarded() {
    assertEquals(new InetSocketAddress("198.51.100.7", 0), forwarded.clientAddress(PROXY,
        headers("X-Forwarded-For", "1.1.1.1", "Forwarded", "for=198.51.100.7")));
    assertEquals(PROXY, forwarded.clientAddress(PROXY, headers("X-Forwarded-For", "1.1.1.1")));
  }

  @Test
  void severalHeaderLinesAreOneChainInOrder() {
    // HAProxy's "option forwardfor" adds a line of its own after the client's.
    assertEquals(new InetSocketAddress("198.51.100.7", 0), trusted.clientAddress(PROXY,
        headers("X-Forwarded-For", "1.1.1.1", "X-Forwarded-For", "198.51.100.7")));
    assertEquals(new InetSocketAddress("198.51.100.7", 0), trusted.clientAddress(PROXY,
        headers("X-Forwarded-For", "1.1.1.1, 198.51.100.7", "x-forwarded-for", "10.0.0.2", "X-Forwarded-For",
            "10.0.0.3")));
    assertEquals(new InetSocketAddress("198.51.100.7", 0), forwarded.clientAddress(PROXY,
        headers("Forwarded", "for=1.1.1.1", "Forwarded", "for=198.51.100.7, for=10.0.0.2")));
  }

  @Test
  void aClientCannotPassItselfOffAsATrustedHop() {
    assertEquals(new InetSocketAddress("198.51.100.7", 0), trusted.clientAddress(PROXY,
        headers("X-Forwarded-For", "1.1.1.1, 10.9.9.9, 198.51.100.7")));
    assertEquals(new InetSocketAddress("198.51.100.7", 0), forwarded.clientAddress(PROXY,
        headers("Forwarded", "for=1.1.1.1, for=10.9.9.9, for=198.51.100.7")));
  }

  @Test
  void malformedXForwardedForEntriesStopAtTheLastTrustedHop() {
    InetSocketAddress inner = new InetSocketAddress("10.0.0.2", 0);
    for (String chain : new String[] {"1.1.1.1, garbage, 10.0.0.2", "1.1.1.1,,10.0.0.2", "1.1.1.1, , 10.0.0.2",
        "1.1.1.1, 1.2.3.4:99999, 10.0.0.2", "1.1.1.1, [2001:db8::1]x, 10.0.0.2", "1.1.1.1, example.com, 10.0.0.2",
        "1.1.1.1, 1.2.3.4:80:90, 10.0.0.2", "1.1.1.1, \"\", 10.0.0.2"}) {
      assertEquals(inner, trusted.clientAddress(PROXY, headers("X-Forwarded-For", chain)), chain);
    }
    assertEquals(PROXY, trusted.clientAddress(PROXY, headers("X-Forwarded-For", "1.1.1.1,")),
        "a trailing empty entry is the nearest hop: unreadable");
  }

  @Test
  void malformedForwardedElementsStopAtTheLastTrustedHop() {
    InetSocketAddress inner = new InetSocketAddress("10.0.0.2", 0);
    for (String chain : new String[] {
        "for=1.1.1.1, by=10.9.9.9;proto=https, for=10.0.0.2", // an element without for
        "for=1.1.1.1, for=10.9.9.9;for=1.1.1.1, for=10.0.0.2", // two for in one element
        "for=1.1.1.1, for=\"1.1.1.1, for=1.1.1.2\", for=10.0.0.2", // a comma inside a quoted value
        "for=1.1.1.1, for=1.1.1.1:80, for=10.0.0.2", // a port outside quotes is not a token
        "for=1.1.1.1, =1.1.1.1, for=10.0.0.2", // no parameter name
        "for=1.1.1.1, for=, for=10.0.0.2", // no value
        "for=1.1.1.1,, for=10.0.0.2", // an empty element
        "for=1.1.1.1;x=\"open, for=10.0.0.2"}) { // an unclosed quote cannot swallow what the proxy appended
      assertEquals(inner, forwarded.clientAddress(PROXY, headers("Forwarded", chain)), chain);
    }
    assertEquals(new InetSocketAddress("198.51.100.7", 0), forwarded.clientAddress(PROXY,
        headers("Forwarded", "for=1.1.1.1;x=\"a,b;c\", for=198.51.100.7")), "separators inside quotes do not split");
    assertEquals(new InetSocketAddress("198.51.100.7", 0), forwarded.clientAddress(PROXY,
        headers("Forwarded", "for=\"198.51.100\\.7\"")), "escapes inside quotes are undone");
  }

  /**
   * A client's unclosed quote or trailing backslash spoils only its own elements: what a proxy appended after it on
   * the same line (a quoted value, as IPv6 and ports need) is read as sent, so the client is neither swallowed into
   * one unreadable element (which stopped the walk at the proxy itself) nor able to choose what is read.
   */
  @Test
  void aClientsUnclosedQuoteCannotSwallowWhatTheProxyAppended() {
    InetSocketAddress v6 = new InetSocketAddress("2001:db8::7", 4711);
    InetSocketAddress v4 = new InetSocketAddress("198.51.100.7", 4711);
    String[][] cases = {
        // {what the client sent, what the proxy appended}
        {"for=\"x", "for=\"[2001:db8::7]:4711\""},
        {"for=\"x", "for=\"198.51.100.7:4711\""},
        {"for=\"x", "for=\"198.51.100.7:4711\";proto=https;by=\"[2001:db8::1]\""},
        {"for=\"x\\", "for=\"[2001:db8::7]:4711\""}, // a trailing backslash: the proxy's comma is not escaped
        {"for=\"x\\\"", "for=\"[2001:db8::7]:4711\""}, // an escaped quote, still unclosed
        {"for=\"x\\\\\"", "for=\"[2001:db8::7]:4711\""}, // closed after an escaped backslash: an element
        {"for=\"x\\\\\"\"", "for=\"[2001:db8::7]:4711\""}, // ... then a stray quote
        {"for=1.1.1.1;x=\"", "for=\"[2001:db8::7]:4711\""},
        {"\"", "for=\"[2001:db8::7]:4711\""},
        {"for=\"a, b\", for=\"c", "for=\"198.51.100.7:4711\""},
        {"for=\"x", "for=\"[2001:db8::7]:4711\", for=10.0.0.2"}, // and an inner proxy's own element
        {"for=\"x", "for=\"[2001:db8::7]:4711\", for=\"10.0.0.2:80\", for=\"[::ffff:10.0.0.3]\""},
        {"for=\"x", "for=\"198.51\\.100.7:4711\""}, // escapes in the proxy's own value are undone
    };
    for (String[] c : cases) {
      InetSocketAddress expected = c[1].contains("2001:db8::7") ? v6 : v4;
      for (String separator : new String[] {", ", ",", " , "}) {
        String line = c[0] + separator + c[1];
        assertEquals(expected, forwarded.clientAddress(PROXY, headers("Forwarded", line)), line);
      }
      // The same client line with the proxy's element on a line of its own.
      assertEquals(expected, forwarded.clientAddress(PROXY, headers("Forwarded", c[0], "Forwarded", c[1])), c[0]);
    }
    // The chain as read: the client's element is unreadable, the proxy's is whole.
    assertEquals(Arrays.asList(null, "[2001:db8::7]:4711"),
        ForwardedHeaderParser.forChain(java.util.List.of("for=\"x, for=\"[2001:db8::7]:4711\"")));
    assertEquals(Arrays.asList(null, "198.51.100.7"),
        ForwardedHeaderParser.forChain(java.util.List.of("for=\"x\\, for=198.51.100.7")));
  }

  @Test
  void quotedStringsKeepTheirEscapedQuotesBackslashesAndSeparators() {
    assertEquals(Arrays.asList("a\"b", "a\\", "a, b;c", "198.51.100.7"), ForwardedHeaderParser.forChain(
        java.util.List.of("for=\"a\\\"b\", for=\"a\\\\\", for=\"a, b;c\";proto=https, for=198.51.100.7")));
    // A quote inside a value is only read as an escaped one; a closing quote needs an even run of backslashes.
    assertEquals(Arrays.asList(null, "198.51.100.7"), ForwardedHeaderParser.forChain(
        java.util.List.of("for=\"a\"b\", for=198.51.100.7")));
    assertEquals(Arrays.asList(null, "198.51.100.7"), ForwardedHeaderParser.forChain(
        java.util.List.of("for=\"a\\\\\"b\", for=198.51.100.7")));
    assertEquals(Arrays.asList((String) null), ForwardedHeaderParser.forChain(java.util.List.of("for=\"a\\\"")));
  }

  @Test
  void ipv4MappedIpv6AddressesAreIpv4() {
    assertEquals(new InetSocketAddress("198.51.100.7", 0),
        trusted.clientAddress(PROXY, headers("X-Forwarded-For", "::ffff:198.51.100.7")));
    assertEquals(new InetSocketAddress("198.51.100.7", 0),
        trusted.clientAddress(PROXY, headers("X-Forwarded-For", "1.1.1.1, ::ffff:10.0.0.2, 198.51.100.7")));
  }

  @Test
  void theHeaderIsNamedCaseInsensitivelyAndAnythingElseIsRefused() {
    assertEquals(TrustedProxies.Header.FORWARDED, TrustedProxies.Header.named("forwarded"));
    assertEquals(TrustedProxies.Header.X_FORWARDED_FOR, TrustedProxies.Header.named("X-FORWARDED-FOR"));
    assertEquals("forwardedHeader: X-Real-IP (expected: X-Forwarded-For or Forwarded)",
        assertThrows(IllegalArgumentException.class, () -> TrustedProxies.Header.named("X-Real-IP")).getMessage());
    assertEquals(TrustedProxies.Header.X_FORWARDED_FOR, trusted.header());
    assertEquals("[10.0.0.0/8, 192.168.1.1/32] via Forwarded", forwarded.toString());
  }

  /**
   * Users set proxies through {@link AccessPolicy.Builder#trustedProxies} and get the client's address from the
   * server ({@link UpgradeRequest#clientAddress()}, {@link TunnelInfo#clientAddress()}); parsing and the address
   * walk are the server's own.
   */
  @Test
  void onlyTheHeaderAndTheTextArePublic() {
    assertEquals(List.of("header", "toString"), Arrays.stream(TrustedProxies.class.getDeclaredMethods())
        .filter(m -> Modifier.isPublic(m.getModifiers())).map(Method::getName).sorted().collect(Collectors.toList()));
  }

  @Test
  void aNullListOrEntryIsRefusedNamingTheOption() {
    assertEquals("trustedProxies", assertThrows(NullPointerException.class,
        () -> TrustedProxies.parse(null)).getMessage());
    assertEquals("trustedProxies: null (expected: an IP address or CIDR block)",
        assertThrows(IllegalArgumentException.class,
            () -> TrustedProxies.parse(Arrays.asList("10.0.0.0/8", null))).getMessage());
  }

  @Test
  void noHeadersMeansThePeer() {
    assertEquals(PROXY, trusted.clientAddress(PROXY, headers()));
    assertEquals(PROXY, TrustedProxies.NONE.clientAddress(PROXY, headers("X-Forwarded-For", "198.51.100.7")));
  }

  @Test
  void hopsParse() {
    assertEquals(new InetSocketAddress("1.2.3.4", 5), TrustedProxies.parseHop("1.2.3.4:5"));
    assertEquals(new InetSocketAddress("2001:db8::1", 0), TrustedProxies.parseHop("2001:db8::1"));
    assertNull(TrustedProxies.parseHop("example.com"));
    assertEquals(new InetSocketAddress("2001:db8::1", 4711), TrustedProxies.parseHop("\"[2001:db8::1]:4711\""));
    assertEquals(new InetSocketAddress("1.2.3.4", 0), TrustedProxies.parseHop("1.2.3.4:_abc"));
    assertNull(TrustedProxies.parseHop("1.2.3.4:-1"));
    assertNull(TrustedProxies.parseHop("[2001:db8::1"));
  }
}
