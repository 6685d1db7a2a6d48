package dev.wsgrpc.client;

import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;

import dev.wsgrpc.core.WebSocketTunnel;
import dev.wsgrpc.core.internal.FramePipelineSettings;
import dev.wsgrpc.core.internal.Http11Tokens;
import io.netty.handler.ssl.SslContext;
import java.io.File;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * How a client reaches a wsgrpc server: the URL and everything about the WebSocket handshake. Immutable; build one
 * with {@link #newBuilder(String)}.
 *
 * <pre>{@code
 * WebSocketClientOptions options = WebSocketClientOptions.newBuilder("wss://edge.example.com/grpc")
 *     .headersSupplier(() -> Map.of("Authorization", "Bearer " + tokens.current()))
 *     .build();
 * ManagedChannel channel = WebSocketChannels.newChannelBuilder(options).build();
 * }</pre>
 */
public final class WebSocketClientOptions {

  private static final List<String> RESERVED_HEADERS = Arrays.asList("host", "upgrade", "connection",
      "sec-websocket-key", "sec-websocket-version", "sec-websocket-accept", "sec-websocket-extensions",
      "sec-websocket-protocol", "origin", "content-length", "transfer-encoding");

  private final URI url;
  private final boolean secure;
  private final String host;
  private final int port;
  private final String requestTarget;
  private final Map<String, String> headers;
  private final Supplier<Map<String, String>> headersSupplier;
  private final List<String> subprotocols;
  private final String origin;
  private final Duration handshakeTimeout;
  private final SslContext sslContext;
  private final File trustCertificates;
  private final FramePipelineSettings frames;
  private final String proxyHost;
  private final int proxyPort;
  private final String proxyUsername;
  private final String proxyPassword;
  private final boolean useSystemProxy;
  private final String connectToHost;
  private final int connectToPort;

  private WebSocketClientOptions(Builder b) {
    this.url = b.url;
    this.secure = "wss".equals(b.url.getScheme().toLowerCase(Locale.ROOT));
    this.host = b.url.getHost();
    this.port = b.url.getPort() != -1 ? b.url.getPort() : (secure ? 443 : 80);
    String path = b.url.getRawPath() == null || b.url.getRawPath().isEmpty() ? "/" : b.url.getRawPath();
    this.requestTarget = b.url.getRawQuery() == null ? path : path + "?" + b.url.getRawQuery();
    this.headers = Collections.unmodifiableMap(new LinkedHashMap<>(b.headers));
    this.headersSupplier = b.headersSupplier;
    this.subprotocols = Collections.unmodifiableList(new ArrayList<>(b.subprotocols));
    this.origin = b.origin;
    this.handshakeTimeout = b.handshakeTimeout;
    this.sslContext = b.sslContext;
    this.trustCertificates = b.trustCertificates;
    this.frames = new FramePipelineSettings(b.frames);
    this.proxyHost = b.proxyHost;
    this.proxyPort = b.proxyPort;
    this.proxyUsername = b.proxyUsername;
    this.proxyPassword = b.proxyPassword;
    this.useSystemProxy = b.useSystemProxy;
    this.connectToHost = b.connectToHost;
    this.connectToPort = b.connectToPort;
  }

  /** Starts options for {@code url}, a {@code ws://} or {@code wss://} URL whose path is the upgrade's path. */
  public static Builder newBuilder(String url) {
    return new Builder(url);
  }

  /** A builder that starts from these options. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** The URL as given. */
  public URI url() {
    return url;
  }

  /**
   * The URL as errors and logs show it: a query (which may carry a token) is replaced by {@code ?<redacted>}.
   */
  String safeUrl() {
    return url.getRawQuery() == null ? url.toString()
        : url.toString().substring(0, url.toString().indexOf('?')) + "?<redacted>";
  }

  /** Whether the URL is {@code wss://} (TLS). */
  public boolean isSecure() {
    return secure;
  }

  /** The host to connect to, from the URL. */
  public String host() {
    return host;
  }

  /** The port to connect to: the URL's, else 80 for ws and 443 for wss. */
  public int port() {
    return port;
  }

  /** The request target of the upgrade: the URL's path and query, {@code "/"} when the URL has no path. */
  public String requestTarget() {
    return requestTarget;
  }

  /** The value of the {@code Host} header: the URL's host, with the port unless it is the scheme's default. */
  public String hostHeader() {
    String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
    return url.getPort() == -1 || url.getPort() == (secure ? 443 : 80) ? h : h + ":" + port;
  }

  /**
   * The gRPC target that names the address to dial: {@code dns:///host:port} of the URL, or of {@link
   * #connectToHost()} and {@link #connectToPort()} when set.
   */
  public String target() {
    String dial = connectToHost != null ? connectToHost : host;
    String h = dial.indexOf(':') >= 0 && !dial.startsWith("[") ? "[" + dial + "]" : dial;
    return "dns:///" + h + ":" + (connectToHost != null ? connectToPort : port);
  }

  /** The URL's {@code host:port}, which RPCs carry as their {@code :authority} even when dialing elsewhere. */
  public String authority() {
    String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
    return h + ":" + port;
  }

  /** Headers added to every upgrade request. */
  public Map<String, String> headers() {
    return headers;
  }

  /** Called at every connect for headers that change (tokens), or {@code null}. */
  public Supplier<Map<String, String>> headersSupplier() {
    return headersSupplier;
  }

  /** Subprotocols offered, in order of preference. */
  public List<String> subprotocols() {
    return subprotocols;
  }

  /** The {@code Origin} header, or {@code null} for none. */
  public String origin() {
    return origin;
  }

  /** Time allowed for TLS and the upgrade together. */
  public Duration handshakeTimeout() {
    return handshakeTimeout;
  }

  /** The TLS context for wss, or {@code null} to build one from {@link #trustCertificates()} or the JDK's trust. */
  public SslContext sslContext() {
    return sslContext;
  }

  /** PEM file of certificates to trust for wss, or {@code null} for the JDK's default trust store. */
  public File trustCertificates() {
    return trustCertificates;
  }

  /** The largest frame payload accepted from the server, in bytes. */
  public int maxInboundFramePayload() {
    return frames.maxInboundFramePayload();
  }

  /** The largest frame payload sent to the server, in bytes. */
  public int maxOutboundFramePayload() {
    return frames.maxOutboundFramePayload();
  }

  /** Time between two WebSocket Pings; {@link Duration#ZERO} when none are sent. */
  public Duration pingInterval() {
    return frames.pingInterval();
  }

  /** How long after a Ping something must arrive before the tunnel is closed as dead. */
  public Duration pingTimeout() {
    return frames.pingTimeout();
  }

  /** The explicitly configured HTTP CONNECT proxy's host, or {@code null} when none is set. */
  public String proxyHost() {
    return proxyHost;
  }

  /** The explicitly configured HTTP CONNECT proxy's port, or 0 when none is set. */
  public int proxyPort() {
    return proxyPort;
  }

  /** The user name for the proxy's Basic authentication, or {@code null}. */
  public String proxyUsername() {
    return proxyUsername;
  }

  /** The password for the proxy's Basic authentication, or {@code null}. Never logged. */
  String proxyPassword() {
    return proxyPassword;
  }

  /**
   * Whether, with no explicit proxy, the standard settings choose one: the JVM's {@code https.proxyHost} /
   * {@code http.proxyHost} properties, then the {@code HTTPS_PROXY} / {@code HTTP_PROXY} environment variables,
   * with {@code http.nonProxyHosts} and {@code NO_PROXY} as exceptions.
   */
  public boolean useSystemProxy() {
    return useSystemProxy;
  }

  /** The host dialed instead of the URL's, or {@code null} to dial the URL's host. */
  public String connectToHost() {
    return connectToHost;
  }

  /** The port dialed instead of the URL's, or 0 when {@link #connectToHost()} is not set. */
  public int connectToPort() {
    return connectToPort;
  }

  @Override
  public String toString() {
    // Header values may be secrets: names only.
    return "WebSocketClientOptions{url=" + url + ", headers=" + headers.keySet()
        + ", headersSupplier=" + (headersSupplier != null) + ", subprotocols=" + subprotocols
        + ", origin=" + origin + ", handshakeTimeout=" + handshakeTimeout
        + ", sslContext=" + (sslContext != null) + ", trustCertificates=" + trustCertificates
        + ", " + frames
        + ", proxy=" + (proxyHost == null ? null : proxyHost + ":" + proxyPort)
        + ", proxyUsername=" + proxyUsername + ", useSystemProxy=" + useSystemProxy
        + ", connectTo=" + (connectToHost == null ? null : connectToHost + ":" + connectToPort) + "}";
  }

  /** A validating builder; every setter fails fast with the offending value. Not thread-safe. */
  public static final class Builder {
    private URI url;
    private final Map<String, String> headers = new LinkedHashMap<>();
    private Supplier<Map<String, String>> headersSupplier;
    private List<String> subprotocols = Collections.singletonList(WebSocketTunnel.SUBPROTOCOL);
    private String origin;
    private Duration handshakeTimeout = Duration.ofMillis(WebSocketTunnel.DEFAULT_HANDSHAKE_TIMEOUT_MILLIS);
    private SslContext sslContext;
    private File trustCertificates;
    private final FramePipelineSettings frames;
    private String proxyHost;
    private int proxyPort;
    private String proxyUsername;
    private String proxyPassword;
    private boolean useSystemProxy = true;
    private String connectToHost;
    private int connectToPort;

    private Builder(String url) {
      this.frames = new FramePipelineSettings();
      url(url);
    }

    private Builder(WebSocketClientOptions o) {
      this.url = o.url;
      this.headers.putAll(o.headers);
      this.headersSupplier = o.headersSupplier;
      this.subprotocols = o.subprotocols;
      this.origin = o.origin;
      this.handshakeTimeout = o.handshakeTimeout;
      this.sslContext = o.sslContext;
      this.trustCertificates = o.trustCertificates;
      this.frames = new FramePipelineSettings(o.frames);
      this.proxyHost = o.proxyHost;
      this.proxyPort = o.proxyPort;
      this.proxyUsername = o.proxyUsername;
      this.proxyPassword = o.proxyPassword;
      this.useSystemProxy = o.useSystemProxy;
      this.connectToHost = o.connectToHost;
      this.connectToPort = o.connectToPort;
    }

    /** The server's URL: {@code ws://host[:port]/path[?query]} or {@code wss://...}. Required. */
    public Builder url(String url) {
      checkNotNull(url, "url");
      URI parsed;
      try {
        parsed = new URI(url);
      } catch (URISyntaxException e) {
        throw new IllegalArgumentException("url: " + url + " (expected: a ws:// or wss:// URL; " + e.getReason() + ")");
      }
      // Never quote a password back: it would end up in logs.
      String shown = parsed.getRawUserInfo() == null ? url : url.replace(parsed.getRawUserInfo() + "@", "<redacted>@");
      String scheme = parsed.getScheme() == null ? "" : parsed.getScheme().toLowerCase(Locale.ROOT);
      checkArgument(scheme.equals("ws") || scheme.equals("wss"), "url", shown, "a ws:// or wss:// URL");
      checkArgument(parsed.getHost() != null, "url", shown, "a URL with a host");
      checkArgument(parsed.getRawUserInfo() == null, "url", shown, "no user:password@ (send credentials as headers)");
      checkArgument(parsed.getRawFragment() == null, "url", shown, "no #fragment");
      checkArgument(parsed.getPort() == -1 || (parsed.getPort() >= 1 && parsed.getPort() <= 65535), "url", shown,
          "a port between 1 and 65535");
      this.url = parsed;
      return this;
    }

    /**
     * Adds a header to every upgrade request, e.g. {@code Authorization}. Values are never logged. Default: none.
     * Headers the handshake sets itself ({@code Host}, {@code Upgrade}, {@code Sec-WebSocket-*}, ...) are refused;
     * use {@link #origin} and {@link #subprotocols} for those.
     */
    public Builder header(String name, String value) {
      checkHeader(name, value);
      headers.put(name, value);
      return this;
    }

    /**
     * Sets a supplier called on the event loop at every connect, before the upgrade request is sent, whose headers
     * are added after {@link #header}'s; use it for tokens that refresh. It must not block. Default: none.
     */
    public Builder headersSupplier(Supplier<Map<String, String>> supplier) {
      this.headersSupplier = supplier;
      return this;
    }

    /**
     * The subprotocols offered, in order; none offers no {@code Sec-WebSocket-Protocol} header (some generic bridges
     * want that). Default: {@value WebSocketTunnel#SUBPROTOCOL}.
     */
    public Builder subprotocols(String... names) {
      for (String name : names) {
        checkArgument(Http11Tokens.isToken(name), "subprotocol", name, "an HTTP token");
      }
      this.subprotocols = Arrays.asList(names.clone());
      return this;
    }

    /** The {@code Origin} header, for servers that check it. Default: none. */
    public Builder origin(String origin) {
      checkArgument(origin == null || Http11Tokens.isHeaderValue(origin), "origin", origin, "a header value");
      this.origin = origin;
      return this;
    }

    /**
     * Time allowed for TLS and the upgrade together; when it passes, RPCs fail UNAVAILABLE and the channel retries
     * with its backoff. Default: {@value WebSocketTunnel#DEFAULT_HANDSHAKE_TIMEOUT_MILLIS} ms.
     */
    public Builder handshakeTimeout(Duration timeout) {
      checkNotNull(timeout, "handshakeTimeout");
      checkArgument(!timeout.isNegative() && !timeout.isZero(), "handshakeTimeout", timeout, "> 0");
      this.handshakeTimeout = timeout;
      return this;
    }

    /**
     * The TLS context for wss URLs, used as given (its ALPN settings included). The channel does not take
     * ownership. Default: a context that trusts {@link #trustCertificates} or the JDK's default trust store, and
     * offers ALPN {@code http/1.1} only.
     */
    public Builder sslContext(SslContext sslContext) {
      checkArgument(sslContext == null || sslContext.isClient(), "sslContext", sslContext, "a client context");
      this.sslContext = sslContext;
      return this;
    }

    /** A PEM file of CA or server certificates to trust for wss. Default: the JDK's trust store. */
    public Builder trustCertificates(File pemFile) {
      this.trustCertificates = pemFile;
      return this;
    }

    /**
     * The largest frame payload accepted from the server; a larger frame ends the tunnel with close 1009 and RPCs
     * fail RESOURCE_EXHAUSTED. Default: {@value WebSocketTunnel#DEFAULT_MAX_INBOUND_FRAME_PAYLOAD} bytes.
     */
    public Builder maxInboundFramePayload(int bytes) {
      frames.maxInboundFramePayload(bytes);
      return this;
    }

    /**
     * The largest frame payload sent; larger writes are split. Keep it at or below what every proxy on the path
     * and the server accept. Default: {@value WebSocketTunnel#DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD} bytes.
     */
    public Builder maxOutboundFramePayload(int bytes) {
      frames.maxOutboundFramePayload(bytes);
      return this;
    }

    /**
     * Time between two WebSocket Pings. Pings keep proxies, load balancers and CDNs that drop idle connections
     * (nginx and AWS ALB after 60 s, Cloudflare after about 100 s) from cutting a quiet tunnel, and let this side
     * notice a peer that has gone silent (see {@link #pingTimeout}). {@link Duration#ZERO} sends none. Default:
     * {@value WebSocketTunnel#DEFAULT_PING_INTERVAL_MILLIS} ms.
     */
    public Builder pingInterval(Duration interval) {
      frames.pingInterval(interval);
      return this;
    }

    /**
     * How long after a Ping something (a Pong, data, any frame) must arrive; when nothing does, the server or a hop
     * on the path is taken to be dead, the tunnel is closed, in-flight RPCs fail UNAVAILABLE and the channel
     * reconnects. Default: {@value WebSocketTunnel#DEFAULT_PING_TIMEOUT_MILLIS} ms.
     */
    public Builder pingTimeout(Duration timeout) {
      frames.pingTimeout(timeout);
      return this;
    }

    /**
     * Reaches the server through this HTTP proxy with {@code CONNECT}, whatever the standard settings say. The
     * proxy sees only the target's host and port; TLS (wss) runs end to end through it. Default: none; the
     * standard settings decide (see {@link #useSystemProxy}).
     */
    public Builder proxy(String host, int port) {
      checkArgument(host != null && !host.isEmpty() && Http11Tokens.isHeaderValue(host) && host.indexOf(' ') < 0,
          "proxy host", host, "a host name or IP address");
      checkArgument(port >= 1 && port <= 65535, "proxy port", port, "between 1 and 65535");
      this.proxyHost = host;
      this.proxyPort = port;
      return this;
    }

    /**
     * Basic authentication for the proxy, explicit or chosen by the standard settings; without it, a user and
     * password in the proxy URL of {@code HTTPS_PROXY} (or {@code HTTP_PROXY}) are used. The password is never
     * logged. Default: none.
     */
    public Builder proxyCredentials(String username, String password) {
      checkNotNull(username, "proxy username");
      checkNotNull(password, "proxy password");
      checkArgument(username.indexOf(':') < 0 && Http11Tokens.isHeaderValue(username), "proxy username", username,
          "no ':' or line breaks");
      checkArgument(Http11Tokens.isHeaderValue(password), "proxy password", "<redacted>", "no line breaks");
      this.proxyUsername = username;
      this.proxyPassword = password;
      return this;
    }

    /**
     * Whether, when no {@link #proxy} is set, the standard settings choose a CONNECT proxy: for wss the JVM's
     * {@code https.proxyHost}/{@code https.proxyPort}, for ws {@code http.proxyHost}/{@code http.proxyPort}, then
     * the {@code HTTPS_PROXY}/{@code HTTP_PROXY} environment variables (lower-case names too), except for hosts
     * listed in {@code http.nonProxyHosts} or {@code NO_PROXY}. Applies to channels from {@link WebSocketChannels}.
     * Default: true.
     */
    public Builder useSystemProxy(boolean use) {
      this.useSystemProxy = use;
      return this;
    }

    /**
     * Dials {@code host:port} (say, one CDN edge's address) instead of the URL's host and port, while the
     * {@code Host} header, TLS SNI, the certificate check and the RPCs' {@code :authority} still carry the URL's
     * host. Default: none, dial the URL's host.
     */
    public Builder connectTo(String host, int port) {
      checkArgument(host != null && !host.isEmpty() && Http11Tokens.isHeaderValue(host) && host.indexOf(' ') < 0,
          "connectTo host", host, "a host name or IP address");
      checkArgument(port >= 1 && port <= 65535, "connectTo port", port, "between 1 and 65535");
      this.connectToHost = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
      this.connectToPort = port;
      return this;
    }

    /** Returns the options; fails when settings contradict each other. */
    public WebSocketClientOptions build() {
      boolean secure = "wss".equalsIgnoreCase(url.getScheme());
      checkArgument(secure || (sslContext == null && trustCertificates == null), "url", url,
          "a wss:// URL when sslContext or trustCertificates is set");
      checkArgument(sslContext == null || trustCertificates == null, "trustCertificates", trustCertificates,
          "unset when sslContext is set (the context carries its own trust)");
      return new WebSocketClientOptions(this);
    }

    private static void checkHeader(String name, String value) {
      checkArgument(Http11Tokens.isToken(name), "header name", name, "an HTTP token");
      checkArgument(!RESERVED_HEADERS.contains(name.toLowerCase(Locale.ROOT)), "header name", name,
          "not one the handshake sets itself");
      checkArgument(Http11Tokens.isHeaderValue(value), "header " + name,
          Http11Tokens.isSensitive(name) ? "<redacted>" : value, "a value without line breaks");
    }
  }

  static void checkSuppliedHeader(String name, String value) {
    Builder.checkHeader(name, value);
  }
}
