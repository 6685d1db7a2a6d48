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

  /** An HTTP token (RFC 9110 5.6.2): header names, subprotocols. */
  static boolean isToken(String s) {
    if (s == null || s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /** A header value OkHttp sends as given: printable ASCII and tab, so no line breaks that could split the request. */
  static boolean isHeaderValue(String s) {
    if (s == null) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if ((c < 0x20 && c != '\t') || c >= 0x7f) {
        return false;
      }
    }
    return true;
  }

  /** Header names whose values are secrets and are shown as {@code <redacted>}. */
  static boolean isSensitive(String headerName) {
    String n = headerName.toLowerCase(java.util.Locale.ROOT);
    return n.equals("authorization") || n.equals("proxy-authorization") || n.equals("cookie")
        || n.equals("set-cookie") || n.contains("token") || n.contains("secret") || n.contains("api-key")
        || n.equals("sec-websocket-protocol");
  }

  /**
   * {@code url} as errors show it: a query (which may carry a token) becomes {@code ?<redacted>} and a
   * {@code user:password@} becomes {@code <redacted>@}. Works on text that is not a valid URI too. The same rule as
   * tunnel-core's {@code UrlRedaction.redact}, which this module cannot use (tunnel-core is built on Netty).
   */
  static String redactUrl(String url) {
    if (url == null) {
      return null;
    }
    int q = url.indexOf('?');
    String s = q < 0 ? url : url.substring(0, q);
    int scheme = s.indexOf("://");
    int authorityStart = scheme < 0 ? 0 : scheme + 3;
    int authorityEnd = s.length();
    for (int i = authorityStart; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '/' || c == '#') {
        authorityEnd = i;
        break;
      }
    }
    int at = s.lastIndexOf('@', authorityEnd - 1);
    if (at >= authorityStart) {
      s = s.substring(0, authorityStart) + "<redacted>@" + s.substring(at + 1);
    }
    return q < 0 ? s : s + "?<redacted>";
  }

  private Checks() {}
}
