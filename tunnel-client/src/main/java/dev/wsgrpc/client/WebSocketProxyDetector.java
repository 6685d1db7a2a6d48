package dev.wsgrpc.client;

import dev.wsgrpc.core.internal.OptionValues;
import io.grpc.HttpConnectProxiedSocketAddress;
import io.grpc.ProxiedSocketAddress;
import io.grpc.ProxyDetector;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * Decides whether a channel's connections go through an HTTP CONNECT proxy, and which. grpc-java asks it once per
 * name resolution; when it answers with a proxy, grpc runs the CONNECT (with Basic authentication) before our
 * TLS and upgrade steps. The proxy sees only the target's host and port.
 *
 * <p>In order: the explicit {@link ProxyOptions#host() proxy}; then, unless
 * {@link ProxyOptions#useSystemProxy()} is off, the JVM's {@code https.proxyHost}/{@code https.proxyPort}
 * (wss) or {@code http.proxyHost}/{@code http.proxyPort} (ws) with {@code http.nonProxyHosts} (default: loopback);
 * then the environment's {@code https_proxy}/{@code HTTPS_PROXY} (wss) or {@code http_proxy}/{@code HTTP_PROXY} (ws),
 * then {@code all_proxy}/{@code ALL_PROXY}, with {@code no_proxy}/{@code NO_PROXY} as exceptions.
 */
final class WebSocketProxyDetector implements ProxyDetector {

  /** A proxy choice: where it is, its credentials, and which setting named it (for error messages). */
  static final class Choice {
    final String host;
    final int port;
    final String username;
    final String password;
    final String source;

    Choice(String host, int port, String username, String password, String source) {
      this.host = host;
      this.port = port;
      this.username = username;
      this.password = password;
      this.source = source;
    }

    /**
     * {@code "HTTP proxy proxy.corp:3128 (from HTTPS_PROXY)"}: how errors name the proxy; an IPv6 address in
     * brackets ({@code [::1]:3128}), however it was given.
     */
    String describe() {
      String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
      return "HTTP proxy " + OptionValues.hostAndPort(bare, port) + " (from " + source + ")";
    }

    @Override
    public String toString() {
      return describe() + (username != null ? " as " + username : "");
    }
  }

  /**
   * A proxy setting that cannot be used, or a proxy whose host does not resolve. The message names the setting and
   * the proxy with any password redacted, and there is no cause: {@code URISyntaxException}'s message quotes the
   * whole URL. grpc-java words it {@code "Unable to resolve host <target>"}, which {@link ConnectErrorInterceptor}
   * replaces with this message.
   */
  static final class UnusableProxyException extends IOException {
    UnusableProxyException(String message) {
      super(message);
    }
  }

  /** The JDK's default {@code http.nonProxyHosts}: every common spelling of the loopback address. */
  private static final String DEFAULT_NON_PROXY_HOSTS = "localhost|127.*|[::1]|0.0.0.0|[::0]";

  private final WebSocketClientOptions options;
  private final UnaryOperator<String> properties;
  private final UnaryOperator<String> environment;

  WebSocketProxyDetector(WebSocketClientOptions options) {
    this(options, System::getProperty, System::getenv);
  }

  WebSocketProxyDetector(WebSocketClientOptions options, UnaryOperator<String> properties,
      UnaryOperator<String> environment) {
    this.options = options;
    this.properties = properties;
    this.environment = environment;
  }

  @Override
  public ProxiedSocketAddress proxyFor(SocketAddress target) throws IOException {
    if (!(target instanceof InetSocketAddress)) {
      return null;
    }
    Choice choice = choose();
    if (choice == null) {
      return null;
    }
    InetSocketAddress proxy = new InetSocketAddress(choice.host, choice.port);
    if (proxy.isUnresolved()) {
      throw new UnusableProxyException("cannot resolve the host of " + choice.describe());
    }
    HttpConnectProxiedSocketAddress.Builder address = HttpConnectProxiedSocketAddress.newBuilder()
        .setTargetAddress((InetSocketAddress) target)
        .setProxyAddress(proxy);
    if (choice.username != null) {
      address.setUsername(choice.username).setPassword(choice.password);
    }
    return address.build();
  }

  /**
   * The proxy this channel's connections go through, or null for a direct connection.
   *
   * @throws IOException when a setting names a proxy that cannot be used (an https:// proxy URL, a bad port)
   */
  Choice choose() throws IOException {
    ProxyOptions proxy = options.proxy();
    if (proxy.host() != null) {
      return withCredentials(proxy.host(), proxy.port(), null, null, "the proxy option");
    }
    if (!proxy.useSystemProxy()) {
      return null;
    }
    String host = options.host();
    String scheme = options.isSecure() ? "https" : "http";
    String propertyHost = properties.apply(scheme + ".proxyHost");
    if (propertyHost != null && !propertyHost.isEmpty()) {
      String nonProxy = properties.apply("http.nonProxyHosts");
      if (matchesNonProxyHosts(host, nonProxy == null ? DEFAULT_NON_PROXY_HOSTS : nonProxy)) {
        return null;
      }
      String portValue = properties.apply(scheme + ".proxyPort");
      int port = options.isSecure() ? 443 : 80;
      if (portValue != null && !portValue.isEmpty()) {
        port = parsePort(portValue, scheme + ".proxyPort");
      }
      return withCredentials(propertyHost, port, null, null, scheme + ".proxyHost");
    }
    String[] names = options.isSecure()
        ? new String[] {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}
        : new String[] {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    for (String name : names) {
      String value = environment.apply(name);
      if (value == null || value.trim().isEmpty()) {
        continue;
      }
      if (matchesNoProxy(host, options.port(), env("no_proxy", "NO_PROXY"))) {
        return null;
      }
      return fromUrl(value.trim(), name);
    }
    return null;
  }

  private String env(String lower, String upper) {
    String v = environment.apply(lower);
    return v != null ? v : environment.apply(upper);
  }

  private Choice fromUrl(String value, String source) throws IOException {
    String spec = value.contains("://") ? value : "http://" + value;
    URI uri;
    try {
      uri = new URI(spec);
    } catch (URISyntaxException e) {
      // Its message quotes the URL, password included: only the reason and where (in the setting's value) are kept.
      int index = e.getIndex() < 0 ? -1 : Math.max(0, e.getIndex() - (spec.length() - value.length()));
      throw new UnusableProxyException(source + " is not a proxy URL: " + redact(value) + " (" + e.getReason()
          + (index < 0 ? "" : " at index " + index) + ")");
    }
    String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http")) {
      throw new UnusableProxyException(source + " names a " + scheme + ":// proxy (" + redact(value)
          + "); only http:// proxies, which the tunnel reaches with CONNECT, are supported");
    }
    if (uri.getHost() == null) {
      throw new UnusableProxyException(source + " has no proxy host: " + redact(value));
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
    return withCredentials(host, uri.getPort() == -1 ? 80 : uri.getPort(), user, password, source);
  }

  /** Explicit credentials win; otherwise those of the proxy URL, if any. */
  private Choice withCredentials(String host, int port, String urlUser, String urlPassword, String source) {
    ProxyOptions proxy = options.proxy();
    if (proxy.username() != null) {
      return new Choice(host, port, proxy.username(), proxy.password(), source);
    }
    return new Choice(host, port, urlUser, urlPassword, source);
  }

  private static int parsePort(String value, String name) throws IOException {
    try {
      int port = Integer.parseInt(value.trim());
      if (port >= 1 && port <= 65535) {
        return port;
      }
    } catch (NumberFormatException e) {
      // Reported below.
    }
    throw new UnusableProxyException(name + " is not a port: " + value);
  }

  private static String decode(String s) {
    return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
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
   * Whether {@code host} matches the JDK's {@code http.nonProxyHosts}: patterns separated by {@code |}, each
   * optionally starting or ending with {@code *}, compared without regard to case.
   */
  static boolean matchesNonProxyHosts(String host, String patterns) {
    String h = host.toLowerCase(Locale.ROOT);
    String bracketed = h.indexOf(':') >= 0 ? "[" + h + "]" : h;
    for (String raw : patterns.split("\\|")) {
      String p = raw.trim().toLowerCase(Locale.ROOT);
      if (p.isEmpty()) {
        continue;
      }
      for (String candidate : new String[] {h, bracketed}) {
        if (p.equals("*")
            || (p.startsWith("*") && candidate.endsWith(p.substring(1)))
            || (p.endsWith("*") && candidate.startsWith(p.substring(0, p.length() - 1)))
            || candidate.equals(p)) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * Whether {@code host} matches {@code NO_PROXY} as curl and Go read it: comma- or space-separated entries;
   * {@code *} matches everything; a name matches itself and its subdomains ({@code example.com} and
   * {@code .example.com} both match {@code a.example.com}); an IP address matches itself, a CIDR block such as
   * {@code 10.0.0.0/8} the addresses in it; {@code :port} restricts an entry to that port.
   */
  static boolean matchesNoProxy(String host, int port, String noProxy) {
    if (noProxy == null) {
      return false;
    }
    String h = host.toLowerCase(Locale.ROOT);
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    for (String raw : noProxy.split("[,\\s]+")) {
      String entry = raw.trim().toLowerCase(Locale.ROOT);
      if (entry.isEmpty()) {
        continue;
      }
      if (entry.equals("*")) {
        return true;
      }
      int entryPort = -1;
      int colon = entry.lastIndexOf(':');
      if (colon > 0 && entry.indexOf(':') == colon && !entry.contains("/")) {
        try {
          entryPort = Integer.parseInt(entry.substring(colon + 1));
          entry = entry.substring(0, colon);
        } catch (NumberFormatException e) {
          continue;
        }
      } else if (entry.startsWith("[") && entry.contains("]:")) {
        int close = entry.indexOf("]:");
        try {
          entryPort = Integer.parseInt(entry.substring(close + 2));
        } catch (NumberFormatException e) {
          continue;
        }
        entry = entry.substring(1, close);
      }
      if (entry.startsWith("[") && entry.endsWith("]")) {
        entry = entry.substring(1, entry.length() - 1);
      }
      if (entryPort != -1 && entryPort != port) {
        continue;
      }
      if (entry.contains("/")) {
        if (inCidr(h, entry)) {
          return true;
        }
        continue;
      }
      if (entry.startsWith("*.")) {
        entry = entry.substring(1);
      }
      if (entry.startsWith(".")) {
        entry = entry.substring(1);
      }
      if (h.equals(entry) || h.endsWith("." + entry)) {
        return true;
      }
    }
    return false;
  }

  /** Whether the IP literal {@code host} lies in {@code cidr}; false for names (no DNS lookups here). */
  private static boolean inCidr(String host, String cidr) {
    if (!isIpLiteral(host)) {
      return false;
    }
    int slash = cidr.indexOf('/');
    String network = cidr.substring(0, slash);
    if (!isIpLiteral(network)) {
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
