package dev.wsgrpc.okhttp;

import static dev.wsgrpc.okhttp.Checks.checkArgument;
import static dev.wsgrpc.okhttp.Checks.checkNotNull;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How an OkHttp-based client reaches a wsgrpc server: the URL and everything about the WebSocket. The same shape,
 * names and defaults as the Netty client's {@code WebSocketClientOptions} (nested {@link ClientTls},
 * {@link TunnelSettings} and {@link ProxyOptions}), in types Android API 21 has ({@code long} + {@code TimeUnit}
 * instead of {@code Duration}; {@link HeadersSupplier} instead of {@code Supplier}). Immutable; build one with
 * {@link #newBuilder(String)}.
 *
 * <pre>{@code
 * OkHttpWebSocketOptions options = OkHttpWebSocketOptions.newBuilder("wss://edge.example.com/grpc")
 *     .headersSupplier(() -> Collections.singletonMap("Authorization", "Bearer " + tokens.current()))
 *     .tls(ClientTls.DEFAULT.withCertificatePinner(pinner))
 *     .proxy(ProxyOptions.newBuilder().address("proxy.corp", 3128).credentials("alice", password).build())
 *     .settings(TunnelSettings.newBuilder().pingInterval(20, TimeUnit.SECONDS).build())
 *     .build();
 * ManagedChannel channel = OkHttpWebSocketChannels.newChannel(options);
 * }</pre>
 */
public final class OkHttpWebSocketOptions {

  /** The subprotocol of this protocol's version, offered by default: {@value}. */
  public static final String SUBPROTOCOL = "wsgrpc.v1";
  /** Prefix of a subprotocol that carries a bearer token rather than naming a protocol: {@value}. */
  public static final String BEARER_SUBPROTOCOL_PREFIX = "bearer.";

  /** Headers for a connect that only then are known (a fresh token). Android API 21 has no {@code Supplier}. */
  public interface HeadersSupplier {
    /** The headers to add to this connect's upgrade request; {@code null} for none. Must not block for long. */
    Map<String, String> get();
  }

  private static final List<String> RESERVED_HEADERS = Arrays.asList("host", "upgrade", "connection",
      "sec-websocket-key", "sec-websocket-version", "sec-websocket-accept", "sec-websocket-extensions",
      "sec-websocket-protocol", "origin", "content-length", "transfer-encoding");

  private final URI url;
  private final boolean secure;
  private final String host;
  private final int port;
  private final Map<String, String> headers;
  private final HeadersSupplier headersSupplier;
  private final List<String> subprotocols;
  private final String bearerToken;
  private final String origin;
  private final ClientTls tls;
  private final TunnelSettings settings;
  private final ProxyOptions proxy;
  private final String connectToHost;
  private final int connectToPort;

  private OkHttpWebSocketOptions(Builder b) {
    this.url = b.url;
    this.secure = "wss".equals(b.url.getScheme().toLowerCase(Locale.ROOT));
    this.host = b.url.getHost();
    this.port = b.url.getPort() != -1 ? b.url.getPort() : (secure ? 443 : 80);
    this.headers = Collections.unmodifiableMap(new LinkedHashMap<String, String>(b.headers));
    this.headersSupplier = b.headersSupplier;
    this.subprotocols = Collections.unmodifiableList(new ArrayList<String>(b.subprotocols));
    this.bearerToken = b.bearerToken;
    this.origin = b.origin;
    this.tls = b.tls;
    this.settings = b.settings;
    this.proxy = b.proxy;
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
   * The URL as errors show it: a query (which may carry a token) is replaced by {@code ?<redacted>}. Built from the
   * checked URL's parts (it has no user info and no fragment), so that an {@code @} in its query hides nothing else;
   * {@code Checks.redactUrl} is for text that did not pass the checks.
   */
  String safeUrl() {
    return url.getScheme() + "://" + url.getRawAuthority() + (url.getRawPath() == null ? "" : url.getRawPath())
        + (url.getRawQuery() == null ? "" : "?<redacted>");
  }

  /** Whether the URL is {@code wss://} (TLS). */
  public boolean isSecure() {
    return secure;
  }

  /** The URL's host. */
  public String host() {
    return host;
  }

  /** The URL's port, else 80 for ws and 443 for wss. */
  public int port() {
    return port;
  }

  /**
   * The gRPC target the channel resolves: {@code dns:///host:port} of the URL, or of {@link #connectToHost()} and
   * {@link #connectToPort()} when set. Each resolved address becomes one WebSocket dialed to that address. An IPv6
   * literal's brackets are percent-encoded ({@code dns:///%5B::1%5D:443}): grpc-java refuses them in a target's
   * path.
   */
  public String target() {
    String dial = bracketed(connectToHost != null ? connectToHost : host);
    if (dial.startsWith("[")) {
      dial = "%5B" + dial.substring(1, dial.length() - 1) + "%5D";
    }
    return "dns:///" + dial + ":" + (connectToHost != null ? connectToPort : port);
  }

  /** The URL's {@code host:port}, which RPCs carry as their {@code :authority}. */
  public String authority() {
    return bracketed(host) + ":" + port;
  }

  private static String bracketed(String h) {
    return h.indexOf(':') >= 0 && !h.startsWith("[") ? "[" + h + "]" : h;
  }

  /** Headers added to every upgrade request. */
  public Map<String, String> headers() {
    return headers;
  }

  /** Called at every connect for headers that change (tokens), or {@code null}. */
  public HeadersSupplier headersSupplier() {
    return headersSupplier;
  }

  /** Subprotocols offered, in order of preference (without the bearer token's). */
  public List<String> subprotocols() {
    return subprotocols;
  }

  /** Whether a {@code bearer.<token>} subprotocol is offered. The token itself is not shown. */
  public boolean hasBearerTokenSubprotocol() {
    return bearerToken != null;
  }

  /** Every subprotocol offered, the bearer token's last. */
  List<String> offeredSubprotocols() {
    List<String> all = new ArrayList<String>(subprotocols);
    if (bearerToken != null) {
      all.add(BEARER_SUBPROTOCOL_PREFIX + bearerToken);
    }
    return all;
  }

  /** The {@code Origin} header, or {@code null} for none. */
  public String origin() {
    return origin;
  }

  /** How the server's certificate is checked for wss. */
  public ClientTls tls() {
    return tls;
  }

  /** The frame and handshake settings. */
  public TunnelSettings settings() {
    return settings;
  }

  /** Which HTTP proxy connections go through. */
  public ProxyOptions proxy() {
    return proxy;
  }

  /** The host dialed instead of the URL's, or {@code null}. */
  public String connectToHost() {
    return connectToHost;
  }

  /** The port dialed instead of the URL's, or 0. */
  public int connectToPort() {
    return connectToPort;
  }

  @Override
  public String toString() {
    // Header values, the URL's query and tokens may be secrets: names only.
    return "OkHttpWebSocketOptions{url=" + safeUrl() + ", headers=" + headers.keySet()
        + ", headersSupplier=" + (headersSupplier != null) + ", subprotocols=" + subprotocols
        + ", bearerTokenSubprotocol=" + (bearerToken != null ? BEARER_SUBPROTOCOL_PREFIX + "<redacted>" : null)
        + ", origin=" + origin + ", tls=" + tls + ", settings=" + settings + ", proxy=" + proxy
        + ", connectTo=" + (connectToHost == null ? null : connectToHost + ":" + connectToPort) + "}";
  }

  /** A validating builder; every setter fails fast with the offending value. Not thread-safe. */
  public static final class Builder {
    private URI url;
    private final Map<String, String> headers = new LinkedHashMap<String, String>();
    private HeadersSupplier headersSupplier;
    private List<String> subprotocols = Collections.singletonList(SUBPROTOCOL);
    private String bearerToken;
    private String origin;
    private ClientTls tls = ClientTls.DEFAULT;
    private TunnelSettings settings = TunnelSettings.DEFAULT;
    private ProxyOptions proxy = ProxyOptions.SYSTEM;
    private String connectToHost;
    private int connectToPort;

    private Builder(String url) {
      url(url);
    }

    private Builder(OkHttpWebSocketOptions o) {
      this.url = o.url;
      this.headers.putAll(o.headers);
      this.headersSupplier = o.headersSupplier;
      this.subprotocols = o.subprotocols;
      this.bearerToken = o.bearerToken;
      this.origin = o.origin;
      this.tls = o.tls;
      this.settings = o.settings;
      this.proxy = o.proxy;
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
        throw new IllegalArgumentException("url: " + Checks.redactUrl(url) + " (expected: a ws:// or wss:// URL; "
            + e.getReason() + ")");
      }
      // Never quote a password or a query back: they would end up in logs.
      String shown = Checks.redactUrl(url);
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
     * Adds a header to every upgrade request, e.g. {@code Authorization}. Values are never logged, nor quoted when
     * refused (the refusal names the first character it cannot send, and its index). Default: none. Headers the
     * handshake sets itself ({@code Host}, {@code Upgrade}, {@code Sec-WebSocket-*}, ...) are refused;
     * use {@link #origin} and {@link #subprotocols} for those.
     */
    public Builder header(String name, String value) {
      checkHeader(name, value);
      headers.put(name, value);
      return this;
    }

    /**
     * Sets a supplier called at every connect, on the thread that opens the connection, whose headers are added
     * after {@link #header}'s; use it for tokens that refresh. Default: none.
     */
    public Builder headersSupplier(HeadersSupplier supplier) {
      this.headersSupplier = supplier;
      return this;
    }

    /**
     * The subprotocols offered, in order; none offers no {@code Sec-WebSocket-Protocol} header (some generic bridges
     * want that). Default: {@value OkHttpWebSocketOptions#SUBPROTOCOL}.
     */
    public Builder subprotocols(String... names) {
      checkNotNull(names, "subprotocols");
      for (String name : names) {
        // The bearer check first: a token that is no HTTP token would otherwise be quoted. The prefix in any case,
        // as servers read it (wsgrpc's BearerTokens does) and as the refusal of a chosen one redacts it.
        boolean bearer = name != null && name.regionMatches(true, 0, BEARER_SUBPROTOCOL_PREFIX, 0,
            BEARER_SUBPROTOCOL_PREFIX.length());
        checkArgument(!bearer, "subprotocol",
            bearer ? name.substring(0, BEARER_SUBPROTOCOL_PREFIX.length()) + "<redacted>" : null,
            "a protocol name (set tokens with bearerTokenSubprotocol)");
        checkArgument(Checks.isToken(name), "subprotocol", name, "an HTTP token");
      }
      this.subprotocols = Arrays.asList(names.clone());
      return this;
    }

    /**
     * Also offers the subprotocol {@code bearer.<token>}, for servers that take the token there (wsgrpc's
     * {@code BearerTokens} does) and paths that strip {@code Authorization}. The server never echoes it; it is
     * never logged. {@code null} offers none. Default: none.
     */
    public Builder bearerTokenSubprotocol(String token) {
      if (token != null && !Checks.isToken(BEARER_SUBPROTOCOL_PREFIX + token)) {
        String where = Checks.whereNotAToken(token);
        checkArgument(false, "bearer token", "<redacted>", "an HTTP token (letters, digits, -._~+ and the like)"
            + (where == null ? "" : "; found " + where));
      }
      this.bearerToken = token;
      return this;
    }

    /** The {@code Origin} header, for servers that check it. Default: none. */
    public Builder origin(String origin) {
      checkArgument(origin == null || Checks.isHeaderValue(origin), "origin", origin, "a header value");
      this.origin = origin;
      return this;
    }

    /**
     * How the server's certificate is checked for wss URLs: {@link ClientTls#trusting} a PEM file, {@link
     * ClientTls#of} a socket factory used as given, and certificate pins ({@link ClientTls#withCertificatePinner}).
     * Default: {@link ClientTls#DEFAULT}, the platform's trust store, no pins.
     */
    public Builder tls(ClientTls tls) {
      this.tls = checkNotNull(tls, "tls");
      return this;
    }

    /**
     * The frame and handshake settings: frame payload limits, keepalive Pings, handshake timeout. Default:
     * {@link TunnelSettings#DEFAULT} (Pings every {@value TunnelSettings#DEFAULT_PING_INTERVAL_MILLIS} ms).
     */
    public Builder settings(TunnelSettings settings) {
      this.settings = checkNotNull(settings, "settings");
      return this;
    }

    /**
     * The HTTP proxy to go through. Default: {@link ProxyOptions#SYSTEM}: the platform's proxy settings, then
     * {@code HTTPS_PROXY}/{@code HTTP_PROXY}, with {@code NO_PROXY} as exceptions, decide.
     */
    public Builder proxy(ProxyOptions proxy) {
      this.proxy = checkNotNull(proxy, "proxy");
      return this;
    }

    /**
     * Dials {@code host:port} (say, one CDN edge's address) instead of the URL's host and port, while the
     * {@code Host} header, TLS SNI, the certificate check and the RPCs' {@code :authority} still carry the URL's
     * host. {@code host} is a name, an IPv4 address or an IPv6 literal (bracketed or not), without the port.
     * Default: none, dial the URL's host.
     */
    public Builder connectTo(String host, int port) {
      Checks.checkHost(host, "connectTo host");
      checkArgument(port >= 1 && port <= 65535, "connectTo port", port, "between 1 and 65535");
      this.connectToHost = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
      this.connectToPort = port;
      return this;
    }

    /** Returns the options; fails when settings contradict each other. */
    public OkHttpWebSocketOptions build() {
      boolean secure = "wss".equalsIgnoreCase(url.getScheme());
      checkArgument(secure || tls.isDefault(), "url", Checks.redactUrl(url.toString()),
          "a wss:// URL when tls is set");
      return new OkHttpWebSocketOptions(this);
    }

    /**
     * Refuses a header the handshake cannot send. A refusal never quotes a value, whatever the header's name (any
     * header may carry a secret), nor a name that is no token (it may be a pasted credential): it says which
     * character is wrong, and where.
     */
    static void checkHeader(String name, String value) {
      String notToken = Checks.whereNotAToken(name);
      if (notToken != null) {
        checkArgument(false, "header name", "<redacted>", "an HTTP token; found " + notToken);
      }
      checkArgument(Checks.isToken(name), "header name", name, "an HTTP token");
      checkArgument(!RESERVED_HEADERS.contains(name.toLowerCase(Locale.ROOT)), "header name", name,
          "not one the handshake sets itself");
      if (!Checks.isHeaderValue(value)) {
        String where = Checks.whereNotAHeaderValue(value);
        checkArgument(false, "header " + name, value == null ? null : "<redacted>",
            "printable ASCII without line breaks" + (where == null ? "" : "; found " + where));
      }
    }
  }
}
