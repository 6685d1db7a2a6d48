package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.Http11Tokens;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.Locale;

/** Compares a browser's {@code Origin} with the request's {@code Host}, and checks the origins options list. */
final class Origins {

  /** What a refused origin in the options expected. */
  static final String EXPECTED = "an origin such as https://app.example.com: scheme://host[:port], without a path";

  private Origins() {}

  /**
   * Whether {@code value} is an origin as browsers send it in {@code Origin} (RFC 6454 6.2): a scheme, {@code ://},
   * the host and an optional port, and nothing after. Options compare their list with {@code Origin} as text, so a
   * value with a path (even a lone {@code /}), a query, a fragment, user info or no scheme would never match.
   */
  static boolean isOrigin(String value) {
    if (value == null || !Http11Tokens.isHeaderValue(value)) {
      return false;
    }
    URI uri;
    try {
      uri = new URI(value);
    } catch (URISyntaxException e) {
      return false;
    }
    String authority = uri.getRawAuthority();
    return uri.getScheme() != null && authority != null && authority.indexOf('@') < 0
        && (uri.getRawPath() == null || uri.getRawPath().isEmpty()) && uri.getRawQuery() == null
        && uri.getRawFragment() == null;
  }

  /**
   * {@code origin} (one that {@link #isOrigin} accepts) as browsers serialise it in {@code Origin}, for {@code http}
   * and {@code https}: scheme and host in lower case (ASCII letters only: a host beyond ASCII is kept as given, and
   * never matches, since browsers send such a host in punycode, which the options must then be given), an IPv6
   * address in its shortest form, the port as a number and none for the scheme's default ({@code
   * HTTPS://App.Example.com:0443} is {@code https://app.example.com}). Other schemes' origins (a browser extension's),
   * whose host browsers keep as it is, and values with anything unusual in their authority are kept as given. The
   * options hold their origins in this form, and an incoming {@code Origin} is compared in it ({@link #comparable}),
   * so that every check compares the same text (Netty's CORS handler compares as given, with case).
   */
  static String canonical(String origin) {
    int colon = origin.indexOf("://");
    String scheme = origin.substring(0, colon).toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      return origin;
    }
    String authority = origin.substring(colon + 3);
    // The port follows the last colon, unless that colon is inside an IPv6 literal's brackets.
    int portAt = authority.lastIndexOf(':');
    if (portAt < authority.lastIndexOf(']')) {
      portAt = -1;
    }
    String host = portAt < 0 ? authority : authority.substring(0, portAt);
    String port = portAt < 0 ? null : authority.substring(portAt + 1);
    boolean literal = host.startsWith("[") && host.endsWith("]");
    if (host.isEmpty() || !literal && host.indexOf(':') >= 0 || port != null && !port.matches("[0-9]{1,5}")) {
      return origin; // a second colon, an empty or odd port: no browser sends it, and it matches as given
    }
    host = literal ? "[" + ipv6(host.substring(1, host.length() - 1)) + "]" : lowerAscii(host);
    if (port != null) {
      int number = Integer.parseInt(port);
      boolean defaultPort = number == 443 && scheme.equals("https") || number == 80 && scheme.equals("http");
      port = defaultPort ? null : Integer.toString(number);
    }
    return scheme + "://" + host + (port == null ? "" : ":" + port);
  }

  /** {@code origin} as {@link #canonical} makes it, or unchanged when it is no origin (e.g. {@code null}). */
  static String comparable(String origin) {
    return isOrigin(origin) ? canonical(origin) : origin;
  }

  /** {@code text} with its ASCII capitals in lower case, and nothing else changed. */
  private static String lowerAscii(String text) {
    StringBuilder lower = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      lower.append(c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c);
    }
    return lower.toString();
  }

  /** An IPv6 literal in the form of RFC 5952 (as browsers write it), or in lower case if it does not parse. */
  private static String ipv6(String literal) {
    if (!literal.matches("[0-9A-Fa-f:.]+")) {
      return literal.toLowerCase(Locale.ROOT);
    }
    byte[] bytes;
    try {
      bytes = InetAddress.getByName("[" + literal + "]").getAddress(); // a literal: no lookup
    } catch (UnknownHostException e) {
      return literal.toLowerCase(Locale.ROOT);
    }
    if (bytes.length == 4) { // an IPv4-mapped address, which Java hands back as IPv4
      byte[] mapped = new byte[16];
      mapped[10] = (byte) 0xff;
      mapped[11] = (byte) 0xff;
      System.arraycopy(bytes, 0, mapped, 12, 4);
      bytes = mapped;
    }
    int[] groups = new int[8];
    for (int i = 0; i < 8; i++) {
      groups[i] = (bytes[2 * i] & 0xff) << 8 | bytes[2 * i + 1] & 0xff;
    }
    // The longest run of two or more zero groups (the first of equals) becomes "::".
    int bestAt = -1;
    int bestLength = 1;
    for (int i = 0; i < 8; i++) {
      int length = 0;
      while (i + length < 8 && groups[i + length] == 0) {
        length++;
      }
      if (length > bestLength) {
        bestAt = i;
        bestLength = length;
      }
    }
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestAt) {
        text.append("::");
        i += bestLength - 1;
        continue;
      }
      if (text.length() > 0 && text.charAt(text.length() - 1) != ':') {
        text.append(':');
      }
      text.append(Integer.toHexString(groups[i]));
    }
    return text.toString();
  }

  /**
   * Whether a page of {@code origin} (e.g. {@code https://app.example.com}) is on the site {@code host} names (e.g.
   * {@code app.example.com} or {@code app.example.com:8443}): the same host, ignoring case, and the same port (the
   * scheme's default where none is given). The scheme itself is not compared, since a TLS-terminating proxy in front
   * turns {@code https} into {@code http}. {@code null} and unreadable values are never the same origin, nor is the
   * opaque origin {@code null} that browsers send from sandboxed frames and files.
   */
  static boolean sameOrigin(String origin, String host) {
    if (origin == null || host == null) {
      return false;
    }
    URI page;
    try {
      page = new URI(origin.trim());
    } catch (URISyntaxException e) {
      return false;
    }
    String scheme = page.getScheme() == null ? "" : page.getScheme().toLowerCase(Locale.ROOT);
    if (page.getHost() == null || !(scheme.equals("http") || scheme.equals("https"))) {
      return false;
    }
    int defaultPort = scheme.equals("https") ? 443 : 80;
    int pagePort = page.getPort() < 0 ? defaultPort : page.getPort();
    URI server;
    try {
      server = new URI(scheme, host.trim(), null, null, null);
    } catch (URISyntaxException e) {
      return false;
    }
    if (server.getHost() == null) {
      return false;
    }
    int serverPort = server.getPort() < 0 ? defaultPort : server.getPort();
    return stripBrackets(page.getHost()).equalsIgnoreCase(stripBrackets(server.getHost())) && pagePort == serverPort;
  }

  private static String stripBrackets(String host) {
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }
}
