package dev.wsgrpc.okhttp;

import java.io.IOException;
import java.io.UnsupportedEncodingException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Locale;

/**
 * Decides, at each connect, whether a tunnel goes through a proxy, and which: the rules of the Netty client's
 * {@code WebSocketProxyDetector}, answered as a {@link Proxy}. An HTTP proxy is dialed by the tunnel's socket, which
 * speaks {@code CONNECT} and Basic authentication itself ({@link ProxyConnect}); a SOCKS proxy is left to OkHttp.
 *
 * <p>In order: the explicit {@link ProxyOptions#host() proxy}; then, unless {@link ProxyOptions#useSystemProxy()}
 * is off, the platform's {@link ProxySelector#getDefault()} for the URL (JVM properties {@code https.proxyHost} etc.
 * with {@code http.nonProxyHosts}; Android's system proxy); then the environment's {@code https_proxy}/{@code
 * HTTPS_PROXY} (wss) or {@code http_proxy}/{@code HTTP_PROXY} (ws), then {@code all_proxy}/{@code ALL_PROXY},
 * with {@code no_proxy}/{@code NO_PROXY} as exceptions. Explicit credentials win over those of a proxy URL.
 *
 * <p>Differences from the Netty client, both from using the platform's selector: a SOCKS proxy it names ({@code
 * socksProxyHost}) is used (OkHttp speaks SOCKS5), and so is a proxy from {@code java.net.useSystemProxies}.
 */
final class ProxyChooser {

  /** Reads an environment variable; tests pass their own. */
  interface Environment {
    String get(String name);
  }

  /** A proxy choice: the proxy, its credentials, and which setting named it (for error messages). */
  static final class Choice {
    final Proxy proxy;
    final String username;
    final String password;
    final String source;

    Choice(Proxy proxy, String username, String password, String source) {
      this.proxy = proxy;
      this.username = username;
      this.password = password;
      this.source = source;
    }

    /** {@code "HTTP proxy proxy.corp:3128 (from HTTPS_PROXY)"}: how errors name the proxy. */
    String describe() {
      InetSocketAddress a = (InetSocketAddress) proxy.address();
      return proxy.type() + " proxy " + a.getHostString() + ":" + a.getPort() + " (from " + source + ")";
    }

    @Override
    public String toString() {
      return describe() + (username != null ? " as " + username : "");
    }
  }

  static final Environment SYSTEM_ENVIRONMENT = new Environment() {
    @Override
    public String get(String name) {
      try {
        return System.getenv(name);
      } catch (SecurityException e) {
        return null;
      }
    }
  };

  private final OkHttpWebSocketOptions options;
  private final ProxySelector platform;
  private final Environment environment;

  ProxyChooser(OkHttpWebSocketOptions options, ProxySelector platform, Environment environment) {
    this.options = options;
    this.platform = platform;
    this.environment = environment;
  }

  /**
   * The proxy this connect goes through, or null for a direct connection.
   *
   * @throws IOException when a setting names a proxy that cannot be used (an https:// proxy URL, a bad port); the
   *     message names the setting with any password redacted, and there is no cause
   */
  Choice choose() throws IOException {
    ProxyOptions proxy = options.proxy();
    if (proxy.host() != null) {
      return withCredentials(http(proxy.host(), proxy.port()), null, null, "the proxy option");
    }
    if (!proxy.useSystemProxy()) {
      return null;
    }
    if (platform != null) {
      List<Proxy> chosen;
      try {
        chosen = platform.select(URI.create((options.isSecure() ? "https://" : "http://")
            + options.authority()));
      } catch (IllegalArgumentException e) {
        chosen = null;
      }
      if (chosen != null && !chosen.isEmpty() && chosen.get(0).type() != Proxy.Type.DIRECT
          && chosen.get(0).address() instanceof InetSocketAddress) {
        return withCredentials(chosen.get(0), null, null, "the platform's proxy settings");
      }
    }
    String[] names = options.isSecure()
        ? new String[] {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}
        : new String[] {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    for (String name : names) {
      String value = environment.get(name);
      if (value == null || value.trim().isEmpty()) {
        continue;
      }
      String noProxy = environment.get("no_proxy");
      if (matchesNoProxy(options.host(), options.port(), noProxy != null ? noProxy : environment.get("NO_PROXY"))) {
        return null;
      }
      return fromUrl(value.trim(), name);
    }
    return null;
  }

  private static Proxy http(String host, int port) {
    return new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved(host, port));
  }

  private Choice fromUrl(String value, String source) throws IOException {
    String spec = value.contains("://") ? value : "http://" + value;
    URI uri;
    try {
      uri = new URI(spec);
    } catch (URISyntaxException e) {
      // Its message quotes the URL, password included: only the reason and where (in the setting's value) are kept.
      int index = e.getIndex() < 0 ? -1 : Math.max(0, e.getIndex() - (spec.length() - value.length()));
      throw new IOException(source + " is not a proxy URL: " + redact(value) + " (" + e.getReason()
          + (index < 0 ? "" : " at index " + index) + ")");
    }
    String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http")) {
      throw new IOException(source + " names a " + scheme + ":// proxy (" + redact(value)
          + "); only http:// proxies, which the tunnel reaches with CONNECT, are supported");
    }
    if (uri.getHost() == null) {
      throw new IOException(source + " has no proxy host: " + redact(value));
    }
    String user = null;
    String password = null;
    if (uri.getRawUserInfo() != null) {
      String info = uri.getRawUserInfo();
      int colon = info.indexOf(':');
      user = decode(colon < 0 ? info : info.substring(0, colon));
      password = colon < 0 ? "" : decode(info.substring(colon + 1));
    }
    String host = uri.getHost().startsWith("[") ? uri.getHost().substring(1, uri.getHost().length() - 1)
        : uri.getHost();
    return withCredentials(http(host, uri.getPort() == -1 ? 80 : uri.getPort()), user, password, source);
  }

  /** Explicit credentials win; otherwise those of the proxy URL, if any. */
  private Choice withCredentials(Proxy p, String urlUser, String urlPassword, String source) {
    ProxyOptions proxy = options.proxy();
    if (proxy.username() != null) {
      return new Choice(p, proxy.username(), proxy.password(), source);
    }
    return new Choice(p, urlUser, urlPassword, source);
  }

  private static String decode(String s) {
    try {
      return URLDecoder.decode(s.replace("+", "%2B"), "UTF-8");
    } catch (UnsupportedEncodingException e) {
      throw new AssertionError(e);
    }
  }

  /** The proxy URL without its password, for messages. */
  private static String redact(String value) {
    int at = value.lastIndexOf('@');
    if (at < 0) {
      return value;
    }
    int start = value.indexOf("://");
    return (start < 0 ? "" : value.substring(0, start + 3)) + "<redacted>@" + value.substring(at + 1);
  }

  /**
   * Whether {@code host} matches {@code NO_PROXY} as curl and Go read it (the Netty client's rules): comma- or
   * space-separated entries; {@code *} matches everything; a name matches itself and its subdomains ({@code
   * example.com} and {@code .example.com} both match {@code a.example.com}); an IP address matches itself, a CIDR
   * block such as {@code 10.0.0.0/8} the addresses in it; {@code :port} restricts an entry to that port.
   */
  static boolean matchesNoProxy(String host, int port, String noProxy) {
    if (noProxy == null) {
      return false;
    }
    String h = unbracketed(host.toLowerCase(Locale.ROOT));
    for (String raw : noProxy.split("[,\\s]+")) {
      String entry = raw.trim().toLowerCase(Locale.ROOT);
      if (entry.equals("*")) {
        return true;
      }
      int entryPort = -1;
      int portColon = entry.startsWith("[") ? entry.indexOf("]:") + 1
          : entry.indexOf(':') == entry.lastIndexOf(':') && !entry.contains("/") ? entry.indexOf(':') : -1;
      if (portColon > 0) {
        try {
          entryPort = Integer.parseInt(entry.substring(portColon + 1));
        } catch (NumberFormatException e) {
          continue;
        }
        entry = entry.substring(0, portColon);
      }
      entry = unbracketed(entry);
      if (entry.isEmpty() || (entryPort != -1 && entryPort != port)) {
        continue;
      }
      if (entry.contains("/")) {
        if (inCidr(h, entry)) {
          return true;
        }
        continue;
      }
      String domain = entry.startsWith("*.") ? entry.substring(2) : entry.startsWith(".") ? entry.substring(1) : entry;
      if (h.equals(domain) || h.endsWith("." + domain)) {
        return true;
      }
    }
    return false;
  }

  private static String unbracketed(String s) {
    return s.startsWith("[") && s.endsWith("]") ? s.substring(1, s.length() - 1) : s;
  }

  /** Whether the IP literal {@code host} lies in {@code cidr}; false for names (no DNS lookups here). */
  private static boolean inCidr(String host, String cidr) {
    int slash = cidr.indexOf('/');
    String network = cidr.substring(0, slash);
    if (!isIpLiteral(host) || !isIpLiteral(network)) {
      return false;
    }
    try {
      byte[] a = InetAddress.getByName(host).getAddress();
      byte[] n = InetAddress.getByName(network).getAddress();
      int bits = Integer.parseInt(cidr.substring(slash + 1));
      if (a.length != n.length || bits < 0 || bits > a.length * 8) {
        return false;
      }
      for (int i = 0; i < bits; i++) {
        int mask = 0x80 >> (i % 8);
        if ((a[i / 8] & mask) != (n[i / 8] & mask)) {
          return false;
        }
      }
      return true;
    } catch (UnknownHostException | NumberFormatException e) {
      return false;
    }
  }

  private static boolean isIpLiteral(String s) {
    return s.matches("[0-9.]+") || (s.indexOf(':') >= 0 && s.matches("[0-9a-fA-F:.]+"));
  }
}
