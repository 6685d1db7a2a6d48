package dev.wsgrpc.core.internal;

/**
 * URLs as errors and logs may show them: a query (which may carry a token) becomes {@code ?<redacted>}, a fragment
 * (which may carry one too, {@code #access_token=...}) becomes {@code #<redacted>}, and everything after
 * {@code scheme://} up to the last {@code '@'} becomes {@code <redacted>@}, e.g.
 * {@code "ws://<redacted>@h/grpc?<redacted>"}. Works on text that is not a valid URI too, so that a parse error does
 * not quote a secret either: user info holding a {@code '/'} is redacted whole (so is a path holding an {@code '@'}),
 * and when an {@code '@'} follows a {@code '?'} or {@code '#'} (user info holding one of those, or a query or
 * fragment holding an {@code '@'}: the text cannot tell) everything after {@code scheme://} is redacted.
 *
 * <p>The OkHttp client cannot depend on this module (it is built on Netty) and keeps the same rule in its
 * {@code Checks.redactUrl}; the two are tested with the same cases.
 */
public final class UrlRedaction {

  /** {@code url} with its user info, query and fragment redacted; null stays null. */
  public static String redact(String url) {
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

  private UrlRedaction() {}
}
