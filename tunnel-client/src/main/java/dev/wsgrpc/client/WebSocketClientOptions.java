package dev.wsgrpc.client;

import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;

import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.core.WebSocketTunnel;
import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.InvalidValueException;
import dev.wsgrpc.core.internal.UrlRedaction;
import java.net.URI;
import java.net.URISyntaxException;
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
 *     .tls(ClientTls.trusting(new File("ca.pem")))
 *     .proxy(ProxyOptions.newBuilder().address("proxy.corp", 3128).credentials("alice", password).build())
 *     .settings(TunnelSettings.newBuilder().pingInterval(Duration.ofSeconds(20)).build())
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
  private final ClientTls tls;
  private final TunnelSettings settings;
  private final ProxyOptions proxy;
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
   * The URL as errors and logs show it: a query (which may carry a token) is replaced by {@code ?<redacted>}. Built
   * from the checked URL's parts (it has no user info and no fragment), so that an {@code @} in its query hides
   * nothing else; {@link UrlRedaction#redact} is for text that did not pass the checks.
   */
  String safeUrl() {
    return url.getScheme() + "://" + url.getRawAuthority() + (url.getRawPath() == null ? "" : url.getRawPath())
        + (url.getRawQuery() == null ? "" : "?<redacted>");
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
   * #connectToHost()} and {@link #connectToPort()} when set. An IPv6 literal's brackets are percent-encoded
   * ({@code dns:///%5B::1%5D:443}): grpc-java refuses them in a target's path.
   */
  public String target() {
    String dial = connectToHost != null ? connectToHost : host;
    if (dial.startsWith("[") && dial.endsWith("]")) {
      dial = dial.substring(1, dial.length() - 1);
    }
    String h = dial.indexOf(':') >= 0 ? "%5B" + dial + "%5D" : dial;
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

  /** How the server's certificate is checked for wss. */
  public ClientTls tls() {
    return tls;
  }

  /** The frame and handshake settings. */
  public TunnelSettings settings() {
    return settings;
  }

  /** Which HTTP CONNECT proxy connections go through. */
  public ProxyOptions proxy() {
    return proxy;
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
    // Header values may be secrets, and so may the URL's query: names only, and the query redacted.
    return "WebSocketClientOptions{url=" + safeUrl() + ", headers=" + headers.keySet()
        + ", headersSupplier=" + (headersSupplier != null) + ", subprotocols=" + shownSubprotocols()
        + ", origin=" + origin + ", tls=" + tls + ", settings=" + settings + ", proxy=" + proxy
        + ", connectTo=" + (connectToHost == null ? null : connectToHost + ":" + connectToPort) + "}";
  }

  /** The subprotocols, with the token of a {@code bearer.<token>} offer (a credential) redacted. */
  List<String> shownSubprotocols() {
    return shownSubprotocols(subprotocols);
  }

  /**
   * {@code names} as errors and logs show subprotocols: the token of a {@code bearer.<token>} one (a credential)
   * redacted, e.g. {@code [wsgrpc.v1, bearer.<redacted>]}.
   */
  static List<String> shownSubprotocols(List<String> names) {
    List<String> shown = new ArrayList<>(names.size());
    for (String p : names) {
      shown.add(Http11Tokens.shownSubprotocol(p));
    }
    return shown;
  }

  /** A validating builder; every setter fails fast with the offending value. Not thread-safe. */
  public static final class Builder {
    private URI url;
    private final Map<String, String> headers = new LinkedHashMap<>();
    private Supplier<Map<String, String>> headersSupplier;
    private List<String> subprotocols = Collections.singletonList(WebSocketTunnel.SUBPROTOCOL);
    private String origin;
    private ClientTls tls = ClientTls.DEFAULT;
    private TunnelSettings settings = TunnelSettings.DEFAULT;
    private ProxyOptions proxy = ProxyOptions.SYSTEM;
    private String connectToHost;
    private int connectToPort;

    private Builder(String url) {
      url(url);
    }

    private Builder(WebSocketClientOptions o) {
      this.url = o.url;
      this.headers.putAll(o.headers);
      this.headersSupplier = o.headersSupplier;
      this.subprotocols = o.subprotocols;
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
        throw new InvalidValueException("url", UrlRedaction.redact(url), "a ws:// or wss:// URL; " + e.getReason());
      }
      // Never quote a password or a query back: they would end up in logs.
      String shown = UrlRedaction.redact(url);
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
     * refused (the refusal names the first character it cannot send, and its index). Default: none.
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
      checkNotNull(names, "subprotocols");
      for (String name : names) {
        if (!Http11Tokens.isToken(name) && name != null && !Http11Tokens.shownSubprotocol(name).equals(name)) {
          // A bearer.<token> offer is a credential: shown as toString() shows it, with where it stops being a token.
          throw new InvalidValueException("subprotocol", Http11Tokens.shownSubprotocol(name),
              "an HTTP token; found " + Http11Tokens.whereNotAToken(name));
        }
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
     * How the server's certificate is checked for wss URLs: {@link ClientTls#trusting} a PEM file, or
     * {@link ClientTls#of} a client context used as given. Default: {@link ClientTls#DEFAULT}, the JDK's trust
     * store, ALPN {@code http/1.1} only.
     */
    public Builder tls(ClientTls tls) {
      this.tls = checkNotNull(tls, "tls");
      return this;
    }

    /**
     * The frame and handshake settings: frame payload limits, keepalive Pings, handshake timeout. Default:
     * {@link TunnelSettings#DEFAULT}.
     */
    public Builder settings(TunnelSettings settings) {
      this.settings = checkNotNull(settings, "settings");
      return this;
    }

    /**
     * The HTTP CONNECT proxy to go through. Default: {@link ProxyOptions#SYSTEM}: the JVM's proxy properties, then
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
      checkHost(host, "connectTo host");
      checkArgument(port >= 1 && port <= 65535, "connectTo port", port, "between 1 and 65535");
      this.connectToHost = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
      this.connectToPort = port;
      return this;
    }

    /** Returns the options; fails when settings contradict each other. */
    public WebSocketClientOptions build() {
      boolean secure = "wss".equalsIgnoreCase(url.getScheme());
      checkArgument(secure || tls == ClientTls.DEFAULT, "url", UrlRedaction.redact(url.toString()),
          "a wss:// URL when tls is set");
      return new WebSocketClientOptions(this);
    }

    /**
     * Refuses a header the handshake cannot send. A refusal never quotes a value, whatever the header's name (any
     * header may carry a secret), nor a name that is no token (it may be a pasted credential): it says which
     * character is wrong, and where.
     */
    private static void checkHeader(String name, String value) {
      String notToken = Http11Tokens.whereNotAToken(name);
      if (notToken != null) {
        throw new InvalidValueException("header name", "<redacted>", "an HTTP token; found " + notToken);
      }
      checkArgument(Http11Tokens.isToken(name), "header name", name, "an HTTP token");
      checkArgument(!RESERVED_HEADERS.contains(name.toLowerCase(Locale.ROOT)), "header name", name,
          "not one the handshake sets itself");
      if (!Http11Tokens.isHeaderValue(value)) {
        String where = Http11Tokens.whereNotAHeaderValue(value);
        throw new InvalidValueException("header " + name, value == null ? null : "<redacted>",
            "printable Latin-1 without line breaks" + (where == null ? "" : "; found " + where));
      }
    }
  }

  /**
   * Refuses what cannot be dialed as a host: a name, an IPv4 address or an IPv6 literal (bracketed or not). A host
   * holding a port ({@code "edge.example.com:443"}) would otherwise be taken, and fail only when the channel is
   * built (grpc-java: "Could not find a NameResolverProvider").
   */
  static void checkHost(String host, String name) {
    checkArgument(host != null && !host.isEmpty() && Http11Tokens.isHeaderValue(host) && host.indexOf(' ') < 0,
        name, host, "a host name or IP address");
    boolean bracketed = host.startsWith("[") && host.endsWith("]");
    boolean plain = !bracketed && host.indexOf(':') < 0 && host.indexOf('[') < 0 && host.indexOf(']') < 0;
    checkArgument(plain || isIpv6Literal(bracketed ? host.substring(1, host.length() - 1) : host), name, host,
        "a host name or IP address without a port (':' only in an IPv6 literal; the port is the second argument)");
  }

  /** Whether {@code s} is an IPv6 address, as a URI holds it in brackets (RFC 3986 3.2.2); no zone. */
  private static boolean isIpv6Literal(String s) {
    if (s.indexOf(':') < 0) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.') {
        return false;
      }
    }
    try {
      return new URI("http://[" + s + "]/").getHost() != null;
    } catch (URISyntaxException e) {
      return false;
    }
  }

  static void checkSuppliedHeader(String name, String value) {
    Builder.checkHeader(name, value);
  }
}
