package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.Preconditions;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * The reverse proxies (CDN edges, load balancers) allowed to name the client: their {@code Forwarded} (RFC 7239)
 * or {@code X-Forwarded-For} headers decide the client's address. Headers from anyone else are ignored, so a client
 * cannot pretend to be someone else. Immutable.
 */
public final class TrustedProxies {

  /** Trusts no one: the client's address is always the socket's peer. */
  public static final TrustedProxies NONE = new TrustedProxies(Collections.emptyList(), Collections.emptyList());

  private final List<byte[]> networks;
  private final List<Integer> prefixes;

  private TrustedProxies(List<byte[]> networks, List<Integer> prefixes) {
    this.networks = networks;
    this.prefixes = prefixes;
  }

  /**
   * Parses CIDR blocks ({@code 10.0.0.0/8}, {@code 2001:db8::/32}) and single addresses ({@code 127.0.0.1}).
   *
   * @throws IllegalArgumentException naming the first entry that is not an IP literal with an optional prefix
   */
  public static TrustedProxies parse(List<String> cidrs) {
    List<byte[]> networks = new ArrayList<>();
    List<Integer> prefixes = new ArrayList<>();
    for (String cidr : cidrs) {
      String entry = cidr.trim();
      if (entry.isEmpty()) {
        continue;
      }
      int slash = entry.indexOf('/');
      byte[] address = NetUtil.createByteArrayFromIpAddressString(slash < 0 ? entry : entry.substring(0, slash));
      Preconditions.checkArgument(address != null, "trustedProxies", cidr, "an IP address or CIDR block");
      int max = address.length * 8;
      int prefix = max;
      if (slash >= 0) {
        try {
          prefix = Integer.parseInt(entry.substring(slash + 1));
        } catch (NumberFormatException e) {
          prefix = -1;
        }
      }
      Preconditions.checkArgument(prefix >= 0 && prefix <= max, "trustedProxies", cidr,
          "a prefix length from 0 to " + max);
      networks.add(address);
      prefixes.add(prefix);
    }
    return new TrustedProxies(networks, prefixes);
  }

  /** Whether {@code address} lies in one of the trusted blocks. */
  public boolean contains(InetAddress address) {
    byte[] bytes = address.getAddress();
    for (int i = 0; i < networks.size(); i++) {
      if (matches(networks.get(i), prefixes.get(i), bytes)) {
        return true;
      }
    }
    return false;
  }

  private static boolean matches(byte[] network, int prefix, byte[] candidate) {
    if (network.length != candidate.length) {
      return false;
    }
    int full = prefix / 8;
    for (int i = 0; i < full; i++) {
      if (network[i] != candidate[i]) {
        return false;
      }
    }
    int rest = prefix % 8;
    if (rest == 0) {
      return true;
    }
    int mask = (0xff << (8 - rest)) & 0xff;
    return (network[full] & mask) == (candidate[full] & mask);
  }

  /**
   * The client's address for a request from {@code peer}: when the peer is trusted, the nearest address in the
   * forwarding chain that is not itself a trusted proxy (walking {@code Forwarded}, else {@code X-Forwarded-For},
   * from the right); otherwise, or when the headers name nothing usable, the peer itself.
   */
  public SocketAddress clientAddress(SocketAddress peer, HttpHeaders headers) {
    if (networks.isEmpty() || !(peer instanceof InetSocketAddress)) {
      return peer;
    }
    InetSocketAddress current = (InetSocketAddress) peer;
    if (current.getAddress() == null || !contains(current.getAddress())) {
      return peer;
    }
    List<String> chain = forwardedChain(headers);
    for (int i = chain.size() - 1; i >= 0; i--) {
      InetSocketAddress hop = parseHop(chain.get(i));
      if (hop == null) {
        // A hop we cannot read: stop at the last address we could trust.
        return current;
      }
      current = hop;
      if (!contains(hop.getAddress())) {
        return hop;
      }
    }
    return current;
  }

  /** The addresses named by Forwarded (for=...) or, without it, X-Forwarded-For, left to right. */
  private static List<String> forwardedChain(HttpHeaders headers) {
    List<String> chain = new ArrayList<>();
    List<String> forwarded = headers.getAll("Forwarded");
    if (!forwarded.isEmpty()) {
      for (String header : forwarded) {
        for (String element : header.split(",")) {
          for (String pair : element.split(";")) {
            String p = pair.trim();
            if (p.toLowerCase(Locale.ROOT).startsWith("for=")) {
              chain.add(p.substring(4));
            }
          }
        }
      }
      return chain;
    }
    for (String header : headers.getAll("X-Forwarded-For")) {
      for (String element : header.split(",")) {
        if (!element.trim().isEmpty()) {
          chain.add(element.trim());
        }
      }
    }
    return chain;
  }

  /** Parses {@code 1.2.3.4}, {@code 1.2.3.4:5}, {@code "[2001:db8::1]:5"}, {@code 2001:db8::1}; null otherwise. */
  static InetSocketAddress parseHop(String raw) {
    String s = raw.trim();
    if (s.startsWith("\"") && s.endsWith("\"") && s.length() >= 2) {
      s = s.substring(1, s.length() - 1);
    }
    String host = s;
    int port = 0;
    if (s.startsWith("[")) {
      int close = s.indexOf(']');
      if (close < 0) {
        return null;
      }
      host = s.substring(1, close);
      if (s.length() > close + 2 && s.charAt(close + 1) == ':') {
        port = parsePort(s.substring(close + 2));
      }
    } else if (s.indexOf(':') == s.lastIndexOf(':') && s.indexOf(':') > 0) {
      host = s.substring(0, s.indexOf(':'));
      port = parsePort(s.substring(s.indexOf(':') + 1));
    }
    byte[] bytes = NetUtil.createByteArrayFromIpAddressString(host);
    if (bytes == null || port < 0) {
      return null;
    }
    try {
      return new InetSocketAddress(InetAddress.getByAddress(bytes), port);
    } catch (java.net.UnknownHostException e) {
      return null;
    }
  }

  private static int parsePort(String s) {
    try {
      int port = Integer.parseInt(s);
      return port >= 0 && port <= 65535 ? port : -1;
    } catch (NumberFormatException e) {
      return 0; // obfuscated ports such as "_hidden" (RFC 7239) carry no number
    }
  }

  @Override
  public String toString() {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < networks.size(); i++) {
      out.add(NetUtil.bytesToIpAddress(networks.get(i)) + "/" + prefixes.get(i));
    }
    return out.toString();
  }
}
