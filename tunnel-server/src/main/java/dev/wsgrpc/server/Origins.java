package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.Http11Tokens;
import java.net.URI;
import java.net.URISyntaxException;
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
