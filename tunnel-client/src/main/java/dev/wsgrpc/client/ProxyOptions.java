package dev.wsgrpc.client;

import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;

import dev.wsgrpc.core.internal.Http11Tokens;

/**
 * Which HTTP proxy a client goes through ({@code CONNECT}): an explicit one, the one the standard settings choose,
 * or none. The proxy sees only the target's host and port; TLS (wss) runs end to end through it. Immutable; build
 * one with {@link #newBuilder()}, or use {@link #SYSTEM}, {@link #DIRECT} or {@link #of(String, int)}.
 *
 * <pre>{@code
 * ProxyOptions proxy = ProxyOptions.newBuilder()
 *     .address("proxy.corp", 3128)
 *     .credentials("alice", password)
 *     .build();
 * }</pre>
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

  /** The password for the proxy's Basic authentication, or {@code null}. Never logged. */
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
      useSystemProxy = o.useSystemProxy;
      if (o.host != null) {
        address(o.host, o.port);
      }
      if (o.username != null) {
        credentials(o.username, o.password);
      }
    }

    /**
     * Goes through this proxy whatever the standard settings say. {@code host} is a name, an IPv4 address or an
     * IPv6 literal (bracketed or not), without the port. Default: none; the standard settings decide (see
     * {@link #useSystemProxy}).
     */
    public Builder address(String host, int port) {
      WebSocketClientOptions.checkHost(host, "proxy host");
      checkArgument(port >= 1 && port <= 65535, "proxy port", port, "between 1 and 65535");
      this.host = host;
      this.port = port;
      return this;
    }

    /**
     * Basic authentication for the proxy, explicit or chosen by the standard settings; without it, a user and
     * password in the proxy URL of {@code HTTPS_PROXY} (or {@code HTTP_PROXY}) are used. The password is never
     * logged. Default: none.
     */
    public Builder credentials(String username, String password) {
      checkNotNull(username, "proxy username");
      checkNotNull(password, "proxy password");
      checkArgument(username.indexOf(':') < 0 && Http11Tokens.isHeaderValue(username), "proxy username", username,
          "no ':' or line breaks");
      checkArgument(Http11Tokens.isHeaderValue(password), "proxy password", "<redacted>", "no line breaks");
      this.username = username;
      this.password = password;
      return this;
    }

    /**
     * Whether, when no {@link #address} is set, the standard settings choose a CONNECT proxy: for wss the JVM's
     * {@code https.proxyHost}/{@code https.proxyPort}, for ws {@code http.proxyHost}/{@code http.proxyPort}, then
     * the {@code HTTPS_PROXY}/{@code HTTP_PROXY} environment variables (lower-case names too), except for hosts
     * listed in {@code http.nonProxyHosts} or {@code NO_PROXY}. Applies to channels from {@link WebSocketChannels}.
     * Default: true.
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
