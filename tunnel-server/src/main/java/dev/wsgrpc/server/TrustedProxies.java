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

/**
 * The reverse proxies (CDN edges, load balancers) allowed to name the client, and the one header they name it in:
 * {@code X-Forwarded-For} by default, or {@code Forwarded} (RFC 7239). Only that header is read; the other is
 * ignored, so a client cannot add a chain of its own next to the proxy's. The chain is walked from the right (the
 * hop nearest to this server) past trusted proxies only: the first hop that is not a trusted proxy is the client.
 * Several header lines are one list, in order. An entry that cannot be read as an IP address ({@code unknown}, an
 * obfuscated identifier, garbage) stops the walk, and the last trusted hop is taken as the client: never a value a
 * client chose. The entry left of a trusted hop is what that hop, appending as a trusted proxy must, said of its
 * own peer; unreadable, it hides the client, and the hop is as far as anyone can be believed. A client's own entries
 * stand left of the one its first proxy appended and are reached only when that one names a trusted address (a
 * client inside a trusted block, which is then what is reported); a client's malformed {@code Forwarded} text
 * cannot run into the elements proxies append after it ({@code ForwardedHeaderParser}). A request from a peer that
 * is not a trusted proxy keeps the peer's address. Immutable.
 */
public final class TrustedProxies {

  /** The header that carries the forwarding chain. Exactly one is read. */
  public enum Header {
    /**
     * {@code X-Forwarded-For: client, proxy1, proxy2}: what nginx ({@code $proxy_add_x_forwarded_for}), HAProxy
     * ({@code option forwardfor}), AWS ALB and most CDNs append to.
     */
    X_FORWARDED_FOR("X-Forwarded-For"),
    /** {@code Forwarded: for=client, for=proxy1} (RFC 7239): the {@code for} parameter of each element. */
    FORWARDED("Forwarded");

    private final String headerName;

    Header(String headerName) {
      this.headerName = headerName;
    }

    /** The header's name as sent, e.g. {@code X-Forwarded-For}. */
    public String headerName() {
      return headerName;
    }

    /** Reads {@code X-Forwarded-For} or {@code Forwarded}, ignoring case. */
    public static Header named(String name) {
      for (Header h : values()) {
        if (h.headerName.equalsIgnoreCase(name == null ? "" : name.trim())) {
          return h;
        }
      }
      Preconditions.checkArgument(false, "forwardedHeader", name, "X-Forwarded-For or Forwarded");
      throw new AssertionError("unreachable");
    }
  }

  /** Trusts no one: the client's address is always the socket's peer. */
  public static final TrustedProxies NONE =
      new TrustedProxies(Collections.emptyList(), Collections.emptyList(), Header.X_FORWARDED_FOR);

  private final List<byte[]> networks;
  private final List<Integer> prefixes;
  private final Header header;

  private TrustedProxies(List<byte[]> networks, List<Integer> prefixes, Header header) {
    this.networks = networks;
    this.prefixes = prefixes;
    this.header = header;
  }

  /**
   * Like {@link #parse(List, Header)} with {@link Header#X_FORWARDED_FOR}.
   *
   * @throws IllegalArgumentException naming the first entry that is not an IP literal with an optional prefix
   */
  static TrustedProxies parse(List<String> cidrs) {
    return parse(cidrs, Header.X_FORWARDED_FOR);
  }

  /**
   * Parses CIDR blocks ({@code 10.0.0.0/8}, {@code 2001:db8::/32}) and single addresses ({@code 127.0.0.1}).
   *
   * {@code header} is the one header those proxies append the client's address to.
   *
   * @throws IllegalArgumentException naming the first entry that is not an IP literal with an optional prefix
   */
  static TrustedProxies parse(List<String> cidrs, Header header) {
    Preconditions.checkNotNull(cidrs, "trustedProxies");
    Preconditions.checkNotNull(header, "forwardedHeader");
    List<byte[]> networks = new ArrayList<>();
    List<Integer> prefixes = new ArrayList<>();
    for (String cidr : cidrs) {
      Preconditions.checkArgument(cidr != null, "trustedProxies", null, "an IP address or CIDR block");
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
    return new TrustedProxies(networks, prefixes, header);
  }

  /** Whether no proxy is trusted: every client address is then the socket's peer. */
  boolean isEmpty() {
    return networks.isEmpty();
  }

  /** The one header whose chain names the client. */
  public Header header() {
    return header;
  }

  /** Whether {@code address} lies in one of the trusted blocks. */
  boolean contains(InetAddress address) {
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
   * The client's address for a request from {@code peer}: when the peer is trusted, the hop nearest to this server
   * in the {@link #header()} chain that is not itself a trusted proxy; when an unreadable entry comes first, the
   * last trusted hop; otherwise (an untrusted peer, no header) the peer itself.
   */
  SocketAddress clientAddress(SocketAddress peer, HttpHeaders headers) {
    return isEmpty() ? peer : clientAddress(peer, headers.getAll(header.headerName()));
  }

  /**
   * Like {@link #clientAddress(SocketAddress, HttpHeaders)} for the {@link #header()} lines of a request given as
   * they arrived, in order: for a native gRPC call, the lines of its metadata (a proxy such as nginx
   * {@code grpc_pass} adds the header to the call's HTTP/2 headers).
   */
  SocketAddress clientAddress(SocketAddress peer, List<String> headerLines) {
    if (networks.isEmpty() || !(peer instanceof InetSocketAddress)) {
      return peer;
    }
    InetSocketAddress current = (InetSocketAddress) peer;
    if (current.getAddress() == null || !contains(current.getAddress())) {
      return peer;
    }
    List<String> chain = header == Header.FORWARDED
        ? ForwardedHeaderParser.forChain(headerLines)
        : xForwardedForChain(headerLines);
    for (int i = chain.size() - 1; i >= 0; i--) {
      InetSocketAddress hop = chain.get(i) == null ? null : parseHop(chain.get(i));
      if (hop == null) {
        // A hop we cannot read: the last trusted hop is as far as anyone can be believed.
        return current;
      }
      current = hop;
      if (!contains(hop.getAddress())) {
        return hop;
      }
    }
    return current;
  }

  /** The entries of every X-Forwarded-For line, left to right; an empty entry is kept (as "") and stops a walk. */
  static List<String> xForwardedForChain(List<String> lines) {
    List<String> chain = new ArrayList<>();
    for (String line : lines) {
      for (String element : line.split(",", -1)) {
        chain.add(element.trim());
      }
    }
    return chain;
  }

  /**
   * Parses {@code 1.2.3.4}, {@code 1.2.3.4:5}, {@code "[2001:db8::1]:5"}, {@code 2001:db8::1} (a port may be an
   * RFC 7239 obfuscated one, {@code _x}, read as 0); null for anything else.
   */
  static InetSocketAddress parseHop(String raw) {
    String s = raw.trim();
    if (s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"")) {
      s = s.substring(1, s.length() - 1);
    }
    if (s.isEmpty() || s.length() > 64) {
      return null;
    }
    String host = s;
    String port = null;
    if (s.startsWith("[")) {
      int close = s.indexOf(']');
      if (close < 0) {
        return null;
      }
      host = s.substring(1, close);
      String rest = s.substring(close + 1);
      if (!rest.isEmpty()) {
        if (rest.charAt(0) != ':') {
          return null;
        }
        port = rest.substring(1);
      }
    } else if (s.indexOf(':') > 0 && s.indexOf(':') == s.lastIndexOf(':')) {
      host = s.substring(0, s.indexOf(':'));
      port = s.substring(s.indexOf(':') + 1);
    }
    int portNumber = port == null ? 0 : parsePort(port);
    byte[] bytes = NetUtil.createByteArrayFromIpAddressString(host);
    if (bytes == null || portNumber < 0) {
      return null;
    }
    try {
      // An IPv4-mapped IPv6 address comes back as the IPv4 address it maps.
      return new InetSocketAddress(InetAddress.getByAddress(bytes), portNumber);
    } catch (java.net.UnknownHostException e) {
      return null;
    }
  }

  /** A port number, 0 for an obfuscated port ({@code _hidden}), -1 for anything else. */
  private static int parsePort(String s) {
    if (s.matches("[0-9]{1,5}")) {
      int port = Integer.parseInt(s);
      return port <= 65535 ? port : -1;
    }
    return s.matches("_[A-Za-z0-9._-]+") ? 0 : -1;
  }

  @Override
  public String toString() {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < networks.size(); i++) {
      out.add(NetUtil.bytesToIpAddress(networks.get(i)) + "/" + prefixes.get(i));
    }
    return out.isEmpty() ? "[]" : out + " via " + header.headerName();
  }
}
