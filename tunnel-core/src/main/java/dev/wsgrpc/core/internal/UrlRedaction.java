package dev.wsgrpc.core.internal;

/**
 * URLs as errors and logs may show them: a query (which may carry a token) becomes {@code ?<redacted>} and a
 * {@code user:password@} becomes {@code <redacted>@}, e.g. {@code "ws://<redacted>@h/grpc?<redacted>"}. Works on
 * text that is not a valid URI too, so that a parse error does not quote a secret either.
 *
 * <p>The OkHttp client cannot depend on this module (it is built on Netty) and keeps the same rule in its
 * {@code Checks.redactUrl}; the two are tested with the same cases.
 */
public final class UrlRedaction {

  /** {@code url} with its query and user info redacted; null stays null. */
  public static String redact(String url) {
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

  private UrlRedaction() {}
}
