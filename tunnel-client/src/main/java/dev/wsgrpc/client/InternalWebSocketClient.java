package dev.wsgrpc.client;

import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;

/**
 * Accessors for wsgrpc's own tools (the command-line client) that dial tunnels without gRPC and must decide TLS and
 * proxies exactly as channels do. Not API: it may change in any release.
 */
public final class InternalWebSocketClient {

  /** The HTTP CONNECT proxy a channel for {@code options} would use. */
  public static final class Proxy {
    private final WebSocketProxyDetector.Choice choice;

    private Proxy(WebSocketProxyDetector.Choice choice) {
      this.choice = choice;
    }

    /** The proxy's host name or address. */
    public String host() {
      return choice.host;
    }

    /** The proxy's port. */
    public int port() {
      return choice.port;
    }

    /** The user name for Basic authentication, or null. */
    public String username() {
      return choice.username;
    }

    /** The password for Basic authentication, or null. */
    public String password() {
      return choice.password;
    }

    /** How errors name it, e.g. {@code "HTTP proxy proxy.corp:3128 (from HTTPS_PROXY)"}. */
    public String describe() {
      return choice.describe();
    }
  }

  /**
   * The proxy that channels built by {@link WebSocketChannels} for {@code options} go through, or null for a direct
   * connection: the explicit option, else the JVM properties and environment variables.
   *
   * @throws IOException when a setting names a proxy that cannot be used
   */
  public static Proxy proxyFor(WebSocketClientOptions options) throws IOException {
    WebSocketProxyDetector.Choice choice = new WebSocketProxyDetector(options).choose();
    return choice == null ? null : new Proxy(choice);
  }

  /**
   * The TLS context channels use for a wss URL: {@link ClientTls#sslContext()}, or one that trusts
   * {@link ClientTls#trustCertificates()} (or the JDK's store) and offers ALPN {@code http/1.1} only.
   */
  public static SslContext sslContext(WebSocketClientOptions options) {
    return WebSocketChannelCredentials.sslContextFor(options);
  }

  /** The URL as errors show it: a query, which may carry a token, is redacted. */
  public static String safeUrl(WebSocketClientOptions options) {
    return options.safeUrl();
  }

  /**
   * The upgrade request channels send for {@code options}, with the nonce {@code key} and {@code User-Agent:
   * userAgent} (which the options' headers may replace).
   *
   * @throws IllegalArgumentException when the options' header supplier returns a header they would refuse
   */
  public static FullHttpRequest newUpgradeRequest(WebSocketClientOptions options, String key, String userAgent) {
    return ClientHandshake.newRequest(options, key, userAgent);
  }

  /**
   * What is wrong with the answer to an upgrade request sent with {@code key}, in the words channels use for it, or
   * null when it is a good 101.
   */
  public static String checkUpgradeResponse(WebSocketClientOptions options, String key, HttpResponse response) {
    return ClientHandshake.check(options, key, response);
  }

  /** The subprotocol a good 101 chose, or null for none. */
  public static String upgradeSubprotocol(HttpResponse accepted) {
    return ClientHandshake.subprotocol(accepted);
  }

  private InternalWebSocketClient() {}
}
