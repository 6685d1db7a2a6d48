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
 * that is not trusted is never walked past. And, read without the parser's own chain, whatever the fuzzed lines are
 * (the client's), once the trusted peer appends a well-formed element naming the client, on the last line or on one
 * of its own, and maybe an inner proxy its own after it, the client chosen is the one the peer named: a client's
 * text cannot swallow what a proxy appended. Every build fuzzes briefly (its own surefire execution);
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

    // The same lines as a client sent them, then what the trusted peer appends naming the client (and maybe what an
    // inner trusted proxy appends naming the peer's peer, another trusted address): that client, whatever the lines.
    InetSocketAddress client = data.pickValue(CLIENTS);
    String named = forwarded ? data.pickValue(FORWARDED_FOR[CLIENT_INDEX.indexOf(client)])
        : data.pickValue(X_FORWARDED_FOR[CLIENT_INDEX.indexOf(client)]);
    String appended = named;
    if (data.consumeBoolean()) {
      appended += data.pickValue(SEPARATORS) + (forwarded ? data.pickValue(FORWARDED_INNER)
          : data.pickValue(X_FORWARDED_FOR_INNER));
    }
    List<String> sent = new ArrayList<>(lines);
    if (sent.isEmpty() || data.consumeBoolean()) {
      sent.add(appended);
    } else {
      sent.set(sent.size() - 1, sent.get(sent.size() - 1) + data.pickValue(SEPARATORS) + appended);
    }
    HttpHeaders withProxy = new DefaultHttpHeaders(false);
    for (String line : sent) {
      withProxy.add(proxies.header().headerName(), line);
    }
    assertEquals(client, proxies.clientAddress(peer, withProxy), "the client the proxy appended to " + sent);
  }

  /** Clients a proxy may name (none trusted), and how a proxy writes each in a header. */
  private static final InetSocketAddress[] CLIENTS = {
    new InetSocketAddress("203.0.113.7", 0), new InetSocketAddress("203.0.113.7", 4711),
    new InetSocketAddress("2001:db9::7", 0), new InetSocketAddress("2001:db9::7", 4711),
  };
  private static final List<InetSocketAddress> CLIENT_INDEX = List.of(CLIENTS);
  private static final String[][] FORWARDED_FOR = {
    {"for=203.0.113.7", "for=\"203.0.113.7\"", "for=203.0.113.7;proto=https;by=\"[2001:db8::1]:443\"",
        "proto=https;For=203.0.113.7", "for=\"203.0.113\\.7\";host=\"a,b;c\""},
    {"for=\"203.0.113.7:4711\"", "for=\"203.0.113.7:4711\";proto=http"},
    {"for=\"[2001:db9::7]\"", "by=_proxy;for=\"[2001:db9::7]\""},
    {"for=\"[2001:db9::7]:4711\"", "for=\"[2001:db9::7]:4711\";proto=https;host=\"example.com\""},
  };
  private static final String[][] X_FORWARDED_FOR = {
    {"203.0.113.7"}, {"203.0.113.7:4711"}, {"2001:db9::7", "[2001:db9::7]"}, {"[2001:db9::7]:4711"},
  };
  private static final String[] FORWARDED_INNER = {"for=10.0.0.2", "for=\"[2001:db8::3]:80\"",
    "for=10.0.0.2, for=\"10.0.0.3:8080\";proto=http"};
  private static final String[] X_FORWARDED_FOR_INNER = {"10.0.0.2", "2001:db8::3", "10.0.0.2, 10.0.0.3"};
  private static final String[] SEPARATORS = {", ", ",", " , ", ",\t"};
}
