package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class TrustedProxiesTest {

  private static final InetSocketAddress PROXY = new InetSocketAddress("10.1.2.3", 40000);
  private static final InetSocketAddress STRANGER = new InetSocketAddress("203.0.113.9", 40000);
  private final TrustedProxies trusted = TrustedProxies.parse(Arrays.asList("10.0.0.0/8", "192.168.1.1"));

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
  void forwardedHeaderIsPreferredAndMayCarryPortsAndIpv6() {
    assertEquals(new InetSocketAddress("198.51.100.7", 4711), trusted.clientAddress(PROXY,
        headers("Forwarded", "for=\"198.51.100.7:4711\";proto=https", "X-Forwarded-For", "5.5.5.5")));
    assertEquals(new InetSocketAddress("2001:db8::1", 0),
        trusted.clientAddress(PROXY, headers("Forwarded", "for=\"[2001:db8::1]\"")));
  }

  @Test
  void unreadableHopsStopTheWalk() {
    assertEquals(PROXY, trusted.clientAddress(PROXY, headers("X-Forwarded-For", "unknown")));
    assertEquals(PROXY, trusted.clientAddress(PROXY, headers("Forwarded", "for=_hidden")));
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
  }
}
