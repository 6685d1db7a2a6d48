package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * Fuzzes how a client's address is read from proxy headers: {@code Forwarded} (RFC 7239, parsed by
 * {@link ForwardedHeaderParser}) and {@code X-Forwarded-For}, several lines of each, behind trusted proxies. Lines
 * are built from fragments an attacker would try (quotes, escapes, commas and semicolons inside quotes, IPv6
 * brackets, obfuscated ports, repeated {@code for}) mixed with raw fuzz.
 *
 * <p>Besides "never throws", the walk must be right: the address chosen is the peer itself (an untrusted peer), or
 * the first hop from the right that is not a trusted proxy, or the last trusted hop before an unreadable one; a hop
 * that is not trusted is never walked past. Every build fuzzes briefly (its own surefire execution);
 * docs/SECURITY.md shows a longer run.
 */
class ForwardedHeaderFuzzTest {

  private static final String[] PIECES = {
    "for=", "For=", "by=", "proto=https", "host=x", ";", ",", ", ", "\"", "\\\"", "\\", "=", " ", "\t",
    "10.0.0.1", "10.0.0.2", "192.0.2.60", "203.0.113.7", "127.0.0.1", "[2001:db8::1]", "2001:db8::1",
    "[2001:db8::1]:4711", "[::ffff:10.0.0.1]", ":8080", ":_hidden", ":99999", "unknown", "_obf", "for=for=",
    "\"[2001:db8:cafe::17]:4711\"", "\"10.0.0.1, 203.0.113.9\"", "\"a;b\"", "\u00ff", "\u0000",
  };

  private static final TrustedProxies FORWARDED = TrustedProxies.parse(List.of("10.0.0.0/8", "2001:db8::/32"),
      TrustedProxies.Header.FORWARDED);
  private static final TrustedProxies XFF = TrustedProxies.parse(List.of("10.0.0.0/8", "2001:db8::/32"),
      TrustedProxies.Header.X_FORWARDED_FOR);

  @FuzzTest(maxDuration = "10s")
  void clientAddressWalksOnlyPastTrustedHops(FuzzedDataProvider data) {
    List<String> lines = new ArrayList<>();
    int n = data.consumeInt(0, 4);
    for (int i = 0; i < n; i++) {
      StringBuilder line = new StringBuilder();
      int parts = data.consumeInt(0, 12);
      for (int p = 0; p < parts; p++) {
        if (data.consumeBoolean()) {
          line.append(data.pickValue(PIECES));
        } else {
          line.append(data.consumeString(12));
        }
      }
      lines.add(line.toString());
    }
    boolean forwarded = data.consumeBoolean();
    TrustedProxies proxies = forwarded ? FORWARDED : XFF;
    SocketAddress peer = new InetSocketAddress(data.pickValue(new String[] {"10.1.2.3", "198.51.100.1",
        "2001:db8::2"}), 443);
    HttpHeaders headers = new DefaultHttpHeaders(false);
    for (String line : lines) {
      headers.add(proxies.header().headerName(), line);
    }

    if (forwarded) {
      List<String> chain = ForwardedHeaderParser.forChain(lines);
      for (String entry : chain) {
        assertTrue(entry == null || !entry.isEmpty(), "an entry is a value or null: " + chain);
      }
    }
    SocketAddress chosen = proxies.clientAddress(peer, headers);
    assertNotNull(chosen);
    InetSocketAddress peerAddress = (InetSocketAddress) peer;
    if (!proxies.contains(peerAddress.getAddress())) {
      assertEquals(peer, chosen, "an untrusted peer's headers are ignored");
      return;
    }
    // The walk, written out: from the right, past trusted hops only; an unreadable hop stops it at the last
    // trusted one.
    List<String> chain = forwarded ? ForwardedHeaderParser.forChain(headers.getAll("Forwarded"))
        : TrustedProxies.xForwardedForChain(headers.getAll("X-Forwarded-For"));
    SocketAddress expected = peer;
    for (int i = chain.size() - 1; i >= 0; i--) {
      InetSocketAddress hop = chain.get(i) == null ? null : TrustedProxies.parseHop(chain.get(i));
      if (hop == null) {
        break;
      }
      expected = hop;
      if (!proxies.contains(hop.getAddress())) {
        break;
      }
    }
    assertEquals(expected, chosen, "the client behind " + chain);
  }
}
