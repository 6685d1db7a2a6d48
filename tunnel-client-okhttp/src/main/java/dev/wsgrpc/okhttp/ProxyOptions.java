package dev.wsgrpc.okhttp;

import static dev.wsgrpc.okhttp.Checks.checkArgument;
import static dev.wsgrpc.okhttp.Checks.checkNotNull;

/**
 * Which HTTP proxy a client goes through: an explicit one, the one the standard settings choose, or none. The same
 * shape, defaults and messages as the Netty client's {@code ProxyOptions}. The proxy is asked to {@code CONNECT};
 * for wss TLS runs end to end through it, and the proxy sees only the target's host and port. Immutable;
 * build one with {@link #newBuilder()}, or use {@link #SYSTEM}, {@link #DIRECT} or {@link #of(String, int)}.
 *
 * <pre>{@code
 * ProxyOptions proxy = ProxyOptions.newBuilder()
 *     .address("proxy.corp", 3128)
 *     .credentials("alice", password)
 *     .build();
 * }</pre>
 *
 * <p>ws and wss alike go through {@code CONNECT host:port} (the target by name: the proxy resolves it), with the
 * credentials on the request, as on the Netty client; a refusal fails RPCs UNAVAILABLE with the proxy's status line,
 * e.g. {@code "HTTP proxy 127.0.0.1:3128 (from HTTP_PROXY) answered CONNECT edge.example.com:80 with 407 Proxy
 * Authentication Required (Server: tinyproxy/1.11.1): the proxy credentials were refused"}.
 */
public final class ProxyOptions {

  /** The standard settings decide (see {@link Builder#useSystemProxy}); the default of client options. */
  public static final ProxyOptions SYSTEM = newBuilder().build();

  /** Never a proxy, whatever the standard settings say. */
  public static final ProxyOptions DIRECT = newBuilder().useSystemProxy(false).build();

  private final String host;
  private final int port;
  private final String username;
  private final String password;
  private final boolean useSystemProxy;

  private ProxyOptions(Builder b) {
    this.host = b.host;
    this.port = b.port;
    this.username = b.username;
    this.password = b.password;
    this.useSystemProxy = b.useSystemProxy;
  }

  /** This proxy, without credentials: {@code newBuilder().address(host, port).build()}. */
  public static ProxyOptions of(String host, int port) {
    return newBuilder().address(host, port).build();
  }

  /** Starts from {@link #SYSTEM}. */
  public static Builder newBuilder() {
    return new Builder();
  }

  /** The explicitly configured proxy's host, or {@code null} when none is set. */
  public String host() {
    return host;
  }

  /** The explicitly configured proxy's port, or 0 when none is set. */
  public int port() {
    return port;
  }

  /** The user name for the proxy's Basic authentication, or {@code null}. */
  public String username() {
    return username;
  }

  /** The password for the proxy's Basic authentication, or {@code null}. Never shown. */
  String password() {
    return password;
  }

  /** Whether, with no explicit proxy, the standard settings choose one (see {@link Builder#useSystemProxy}). */
  public boolean useSystemProxy() {
    return useSystemProxy;
  }

  /** A builder that starts from these options. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  @Override
  public String toString() {
    return "ProxyOptions{address=" + (host == null ? null : host + ":" + port) + ", username=" + username
        + ", password=" + (password == null ? null : "<redacted>") + ", useSystemProxy=" + useSystemProxy + "}";
  }

  /** A validating builder; every setter fails fast with the offending value. Not thread-safe. */
  public static final class Builder {
    private String host;
    private int port;
    private String username;
    private String password;
    private boolean useSystemProxy = true;

    private Builder() {}

    private Builder(ProxyOptions o) {
      host = o.host;
      port = o.port;
      username = o.username;
      password = o.password;
      useSystemProxy = o.useSystemProxy;
    }

    /**
     * Goes through this proxy whatever the standard settings say. {@code host} is a name, an IPv4 address or an
     * IPv6 literal (bracketed or not), without the port. Default: none; the standard settings decide (see
     * {@link #useSystemProxy}).
     */
    public Builder address(String host, int port) {
      Checks.checkHost(host, "proxy host");
      checkArgument(port >= 1 && port <= 65535, "proxy port", port, "between 1 and 65535");
      this.host = host;
      this.port = port;
      return this;
    }

    /**
     * Basic authentication for the proxy, explicit or chosen by the standard settings; without it, a user and
     * password in the proxy URL of {@code HTTPS_PROXY} (or {@code HTTP_PROXY}) are used. Sent with the {@code
     * CONNECT} request, without waiting for a 407, as the Netty client does. The password is never shown. Default: none.
     */
    public Builder credentials(String username, String password) {
      checkNotNull(username, "proxy username");
      checkNotNull(password, "proxy password");
      checkArgument(username.indexOf(':') < 0 && Checks.isHeaderValue(username), "proxy username", username,
          "no ':' or line breaks");
      if (!Checks.isHeaderValue(password)) {
        // What OkHttp can send (the Netty client takes Latin-1 too), and where the password stops being that.
        checkArgument(false, "proxy password", "<redacted>", "printable ASCII without line breaks; found "
            + Checks.whereNotAHeaderValue(password));
      }
      this.username = username;
      this.password = password;
      return this;
    }

    /**
     * Whether, when no {@link #address} is set, the standard settings choose a proxy, in this order: the platform's
     * {@code ProxySelector.getDefault()} (on the JVM the {@code https.proxyHost}/{@code https.proxyPort} (wss) or
     * {@code http.proxyHost}/{@code http.proxyPort} (ws) properties with {@code http.nonProxyHosts}; on Android
     * the system's proxy, which Android publishes in those same properties); then the environment's {@code
     * https_proxy}/{@code HTTPS_PROXY} (wss) or {@code http_proxy}/{@code HTTP_PROXY} (ws), then {@code
     * all_proxy}/{@code ALL_PROXY}, except for hosts in {@code no_proxy}/{@code NO_PROXY}. The rules are the Netty
     * client's; see docs/ANDROID.md for where they differ. Default: true.
     */
    public Builder useSystemProxy(boolean use) {
      this.useSystemProxy = use;
      return this;
    }

    /** Returns the options; fails when credentials are set but no proxy can be used. */
    public ProxyOptions build() {
      checkArgument(username == null || host != null || useSystemProxy, "proxy username", username,
          "unset when there is no proxy address and useSystemProxy is false");
      return new ProxyOptions(this);
    }
  }
}
