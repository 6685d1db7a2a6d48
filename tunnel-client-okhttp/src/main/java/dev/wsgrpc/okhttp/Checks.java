package dev.wsgrpc.okhttp;

/** Argument checks whose messages name the setting, quote the value and say what was expected. */
final class Checks {

  /** Fails with {@code "name: value (expected: expected)"} unless {@code condition}. */
  static void checkArgument(boolean condition, String name, Object value, String expected) {
    if (!condition) {
      throw new IllegalArgumentException(name + ": " + value + " (expected: " + expected + ")");
    }
  }

  static <T> T checkNotNull(T value, String name) {
    if (value == null) {
      throw new NullPointerException(name);
    }
    return value;
  }

  /**
   * Refuses what cannot be dialed as a host: a name, an IPv4 address or an IPv6 literal (bracketed or not). A host
   * holding a port ({@code "edge.example.com:443"}) would otherwise be taken, and fail only when the channel is
   * built. The Netty client's {@code WebSocketClientOptions.checkHost}.
   */
  static void checkHost(String host, String name) {
    checkArgument(host != null && !host.isEmpty() && isHeaderValue(host) && host.indexOf(' ') < 0, name, host,
        "a host name or IP address");
    boolean bracketed = host.startsWith("[") && host.endsWith("]");
    boolean plain = !bracketed && host.indexOf(':') < 0 && host.indexOf('[') < 0 && host.indexOf(']') < 0;
    checkArgument(plain || isIpv6Literal(bracketed ? host.substring(1, host.length() - 1) : host), name, host,
        "a host name or IP address without a port (':' only in an IPv6 literal; the port is the second argument)");
  }

  /** Whether {@code s} is an IPv6 address, as a URI holds it in brackets (RFC 3986 3.2.2); no zone. */
  private static boolean isIpv6Literal(String s) {
    if (s.indexOf(':') < 0) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.') {
        return false;
      }
    }
    try {
      return new java.net.URI("http://[" + s + "]/").getHost() != null;
    } catch (java.net.URISyntaxException e) {
      return false;
    }
  }

  /** An HTTP token (RFC 9110 5.6.2): header names, subprotocols. */
  static boolean isToken(String s) {
    return s != null && !s.isEmpty() && firstNonTokenChar(s) < 0;
  }

  /**
   * Where {@code s} stops being an HTTP token, for a refusal that must not quote it (it may be a pasted credential):
   * the character and its index, e.g. {@code "' ' at index 3"} or {@code "U+000A at index 1"}; null when {@code s}
   * is a token, null or empty. tunnel-core's {@code Http11Tokens.whereNotAToken}, which this module cannot use.
   */
  static String whereNotAToken(String s) {
    int i = s == null ? -1 : firstNonTokenChar(s);
    return i < 0 ? null : describeCharAt(s, i);
  }

  private static int firstNonTokenChar(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
      if (!ok) {
        return i;
      }
    }
    return -1;
  }

  /** A header value OkHttp sends as given: printable ASCII and tab, so no line breaks that could split the request. */
  static boolean isHeaderValue(String s) {
    return s != null && firstNonHeaderValueChar(s) < 0;
  }

  /**
   * Where {@code s} stops being a header value ({@link #isHeaderValue}), for a refusal that must not quote it (any
   * header's value may be a secret): the character and its index, e.g. {@code "U+000A at index 6"}; null when
   * {@code s} is one, or is null.
   */
  static String whereNotAHeaderValue(String s) {
    int i = s == null ? -1 : firstNonHeaderValueChar(s);
    return i < 0 ? null : describeCharAt(s, i);
  }

  private static int firstNonHeaderValueChar(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if ((c < 0x20 && c != '\t') || c >= 0x7f) {
        return i;
      }
    }
    return -1;
  }

  /**
   * A peer's text as errors show it: at most {@code maxChars} characters (then {@code ...}), a line break as
   * {@code \\r} or {@code \\n}, any other control or non-ASCII character as {@code ?}: a server or proxy writes no
   * line or escape sequence of its own into an application's log, nor hundreds of KiB of header into a status. The
   * Netty client's {@code Http11Tokens.printable} likewise.
   */
  static String printable(String s, int maxChars) {
    StringBuilder b = new StringBuilder();
    int i = 0;
    for (; i < s.length() && b.length() < maxChars; i++) {
      char c = s.charAt(i);
      b.append(c == '\r' ? "\\r" : c == '\n' ? "\\n" : c >= 0x20 && c < 0x7f ? String.valueOf(c) : "?");
    }
    return i < s.length() ? b + "..." : b.toString();
  }

  /** {@code "'c' at index i"} for printable ASCII, else {@code "U+XXXX at index i"}: one character, never more. */
  private static String describeCharAt(String s, int i) {
    char c = s.charAt(i);
    return (c >= 0x20 && c < 0x7f ? "'" + c + "'" : String.format("U+%04X", (int) c)) + " at index " + i;
  }

  /**
   * {@code url} as errors show it: a query (which may carry a token) becomes {@code ?<redacted>}, a fragment
   * {@code #<redacted>}, and everything after {@code scheme://} up to the last {@code '@'} {@code <redacted>@}; when an
   * {@code '@'} follows a {@code '?'} or {@code '#'} everything after {@code scheme://} is redacted. Works on text
   * that is not a valid URI too. The same rule as tunnel-core's {@code UrlRedaction.redact}, which this module cannot
   * use (tunnel-core is built on Netty).
   */
  static String redactUrl(String url) {
    if (url == null) {
      return null;
    }
    // Where a query or fragment may start: the scheme is only looked for before it, so that a "://" inside a
    // query does not move the start of the authority.
    int firstQf = indexOfQueryOrFragment(url, 0);
    int scheme = url.indexOf("://");
    if (firstQf >= 0 && scheme > firstQf) {
      scheme = -1;
    }
    int start = scheme > 0 && isScheme(url, scheme) ? scheme + 3 : 0;
    int qf = indexOfQueryOrFragment(url, start);
    int at = url.lastIndexOf('@');
    if (at >= start && qf >= 0 && qf < at) {
      // An '@' after a '?' or '#': either user info holding a '?' or '#', or a query or fragment holding an '@'.
      // Whichever it is, every character after "scheme://" is user info or query in one of the two readings.
      return url.substring(0, start) + "<redacted>";
    }
    StringBuilder shown = new StringBuilder(url.length()).append(url, 0, start);
    int hostStart = start;
    if (at >= start) {
      // Everything up to the last '@' is user info, even a '/' in it (a path holding an '@' is redacted too).
      shown.append("<redacted>@");
      hostStart = at + 1;
    }
    if (qf < 0) {
      return shown.append(url, hostStart, url.length()).toString();
    }
    // The first '?' or '#' starts what is hidden: a '?' after a '#' belongs to the fragment, and a '#' after a '?'
    // is hidden with the query.
    return shown.append(url, hostStart, qf).append(url.charAt(qf)).append("<redacted>").toString();
  }

  /** The index of the first '?' or '#' at or after {@code from}, or -1. */
  private static int indexOfQueryOrFragment(String s, int from) {
    for (int i = from; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '?' || c == '#') {
        return i;
      }
    }
    return -1;
  }

  /** Whether the text before {@code end} is a URI scheme (RFC 3986 3.1: a letter, then letters, digits, +-.). */
  private static boolean isScheme(String s, int end) {
    for (int i = 0; i < end; i++) {
      char c = s.charAt(i);
      boolean letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (!(letter || (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')))) {
        return false;
      }
    }
    return true;
  }

  private Checks() {}
}
