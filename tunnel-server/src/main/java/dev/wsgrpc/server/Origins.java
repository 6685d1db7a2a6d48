package dev.wsgrpc.server;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/** Compares a browser's {@code Origin} with the request's {@code Host}. */
final class Origins {

  private Origins() {}

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
