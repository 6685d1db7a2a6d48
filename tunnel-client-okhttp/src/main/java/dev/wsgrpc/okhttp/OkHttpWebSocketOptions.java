package dev.wsgrpc.okhttp;

import static dev.wsgrpc.okhttp.Checks.checkArgument;
import static dev.wsgrpc.okhttp.Checks.checkNotNull;

import java.io.File;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.X509TrustManager;
import okhttp3.CertificatePinner;

/**
 * How an OkHttp-based client reaches a wsgrpc server: the URL and everything about the WebSocket. The same
 * settings, names and defaults as the Netty client's {@code WebSocketClientOptions}, in types Android API 21 has
 * ({@code long} + {@link TimeUnit} instead of {@code Duration}; {@link HeadersSupplier} instead of
 * {@code Supplier}). Immutable; build one with {@link #newBuilder(String)}.
 *
 * <pre>{@code
 * OkHttpWebSocketOptions options = OkHttpWebSocketOptions.newBuilder("wss://edge.example.com/grpc")
 *     .headersSupplier(() -> Collections.singletonMap("Authorization", "Bearer " + tokens.current()))
 *     .build();
 * ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(options).build();
 * }</pre>
 */
public final class OkHttpWebSocketOptions {

  /** The subprotocol of this protocol's version, offered by default: {@value}. */
  public static final String SUBPROTOCOL = "wsgrpc.v1";
  /** Prefix of a subprotocol that carries a bearer token rather than naming a protocol: {@value}. */
  public static final String BEARER_SUBPROTOCOL_PREFIX = "bearer.";
  /** Default {@link Builder#handshakeTimeout}: {@value} ms. */
  public static final long DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 10_000;
  /** Default {@link Builder#pingInterval}: {@value} ms, below the 60 s idle timeout of nginx and AWS ALB. */
  public static final long DEFAULT_PING_INTERVAL_MILLIS = 30_000;
  /** Default {@link Builder#maxOutboundFramePayload}: {@value} bytes. */
  public static final int DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD = 64 * 1024;
  /** Default {@link Builder#maxInboundFramePayload}: {@value} bytes. */
  public static final int DEFAULT_MAX_INBOUND_FRAME_PAYLOAD = 1024 * 1024;

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
  private final long handshakeTimeoutMillis;
  private final long pingIntervalMillis;
  private final int maxOutboundFramePayload;
  private final int maxInboundFramePayload;
  private final File trustCertificates;
  private final SSLSocketFactory sslSocketFactory;
  private final X509TrustManager trustManager;
  private final CertificatePinner certificatePinner;
  private final String proxyHost;
  private final int proxyPort;
  private final String proxyUsername;
  private final String proxyPassword;
  private final boolean useSystemProxy;
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
    this.handshakeTimeoutMillis = b.handshakeTimeoutMillis;
    this.pingIntervalMillis = b.pingIntervalMillis;
    this.maxOutboundFramePayload = b.maxOutboundFramePayload;
    this.maxInboundFramePayload = b.maxInboundFramePayload;
    this.trustCertificates = b.trustCertificates;
    this.sslSocketFactory = b.sslSocketFactory;
    this.trustManager = b.trustManager;
    this.certificatePinner = b.certificatePinner;
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

  /** The URL as errors show it: a query (which may carry a token) is replaced by {@code ?<redacted>}. */
  String safeUrl() {
    String s = url.toString();
    return url.getRawQuery() == null ? s : s.substring(0, s.indexOf('?')) + "?<redacted>";
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
   * {@link #connectToPort()} when set. Each resolved address becomes one WebSocket dialed to that address.
   */
  public String target() {
    String dial = connectToHost != null ? connectToHost : host;
    return "dns:///" + bracketed(dial) + ":" + (connectToHost != null ? connectToPort : port);
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

  /** Time allowed for TCP, TLS and the upgrade together, in milliseconds. */
  public long handshakeTimeoutMillis() {
    return handshakeTimeoutMillis;
  }

  /** Time between two WebSocket Pings in milliseconds; 0 when none are sent. */
  public long pingIntervalMillis() {
    return pingIntervalMillis;
  }

  /** The largest frame payload sent to the server, in bytes. */
  public int maxOutboundFramePayload() {
    return maxOutboundFramePayload;
  }

  /** The largest message accepted from the server, in bytes. */
  public int maxInboundFramePayload() {
    return maxInboundFramePayload;
  }

  /** PEM file of certificates to trust for wss, or {@code null}. */
  public File trustCertificates() {
    return trustCertificates;
  }

  /** The TLS socket factory for wss, or {@code null}. */
  public SSLSocketFactory sslSocketFactory() {
    return sslSocketFactory;
  }

  /** The trust manager that goes with {@link #sslSocketFactory()}, or {@code null}. */
  public X509TrustManager trustManager() {
    return trustManager;
  }

  /** The certificate pins checked on wss, or {@code null} for none. */
  public CertificatePinner certificatePinner() {
    return certificatePinner;
  }

  /** The explicitly configured HTTP proxy's host, or {@code null}. */
  public String proxyHost() {
    return proxyHost;
  }

  /** The explicitly configured HTTP proxy's port, or 0. */
  public int proxyPort() {
    return proxyPort;
  }

  /** The user name for the proxy's Basic authentication, or {@code null}. */
  public String proxyUsername() {
    return proxyUsername;
  }

  /** The password for the proxy's Basic authentication, or {@code null}. Never shown. */
  String proxyPassword() {
    return proxyPassword;
  }

  /** Whether, with no explicit proxy, the platform's proxy settings choose one. */
  public boolean useSystemProxy() {
    return useSystemProxy;
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
    // Header values and tokens may be secrets: names only.
    return "OkHttpWebSocketOptions{url=" + safeUrl() + ", headers=" + headers.keySet()
        + ", headersSupplier=" + (headersSupplier != null) + ", subprotocols=" + subprotocols
        + ", bearerTokenSubprotocol=" + (bearerToken != null) + ", origin=" + origin
        + ", handshakeTimeoutMillis=" + handshakeTimeoutMillis + ", pingIntervalMillis=" + pingIntervalMillis
        + ", maxOutboundFramePayload=" + maxOutboundFramePayload
        + ", maxInboundFramePayload=" + maxInboundFramePayload
        + ", trustCertificates=" + trustCertificates + ", sslSocketFactory=" + (sslSocketFactory != null)
        + ", certificatePinner=" + (certificatePinner != null)
        + ", proxy=" + (proxyHost == null ? null : proxyHost + ":" + proxyPort)
        + ", proxyUsername=" + proxyUsername + ", useSystemProxy=" + useSystemProxy
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
    private long handshakeTimeoutMillis = DEFAULT_HANDSHAKE_TIMEOUT_MILLIS;
    private long pingIntervalMillis = DEFAULT_PING_INTERVAL_MILLIS;
    private int maxOutboundFramePayload = DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD;
    private int maxInboundFramePayload = DEFAULT_MAX_INBOUND_FRAME_PAYLOAD;
    private File trustCertificates;
    private SSLSocketFactory sslSocketFactory;
    private X509TrustManager trustManager;
    private CertificatePinner certificatePinner;
    private String proxyHost;
    private int proxyPort;
    private String proxyUsername;
    private String proxyPassword;
    private boolean useSystemProxy = true;
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
      this.handshakeTimeoutMillis = o.handshakeTimeoutMillis;
      this.pingIntervalMillis = o.pingIntervalMillis;
      this.maxOutboundFramePayload = o.maxOutboundFramePayload;
      this.maxInboundFramePayload = o.maxInboundFramePayload;
      this.trustCertificates = o.trustCertificates;
      this.sslSocketFactory = o.sslSocketFactory;
      this.trustManager = o.trustManager;
      this.certificatePinner = o.certificatePinner;
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
      for (String name : names) {
        checkArgument(isToken(name), "subprotocol", name, "an HTTP token");
        checkArgument(!name.startsWith(BEARER_SUBPROTOCOL_PREFIX), "subprotocol", "bearer.<redacted>",
            "a protocol name (set tokens with bearerTokenSubprotocol)");
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
      checkArgument(token == null || isToken(BEARER_SUBPROTOCOL_PREFIX + token), "bearer token", "<redacted>",
          "an HTTP token (letters, digits, -._~+ and the like)");
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
     * Time allowed for TCP, TLS and the upgrade together; when it passes, RPCs fail UNAVAILABLE and the channel
     * retries with its backoff. Default: {@value OkHttpWebSocketOptions#DEFAULT_HANDSHAKE_TIMEOUT_MILLIS} ms.
     */
    public Builder handshakeTimeout(long timeout, TimeUnit unit) {
      checkNotNull(unit, "unit");
      checkArgument(timeout > 0, "handshakeTimeout", timeout + " " + unit, "> 0");
      this.handshakeTimeoutMillis = Math.max(1, unit.toMillis(timeout));
      return this;
    }

    /**
     * Time between two WebSocket Pings (OkHttp's {@code pingInterval}). Pings keep proxies, load balancers and
     * CDNs that drop idle connections (nginx and AWS ALB after 60 s, Cloudflare after about 100 s) from cutting a
     * quiet tunnel. A Ping whose Pong has not arrived when the next Ping is due ends the tunnel: in-flight RPCs
     * fail UNAVAILABLE and the channel reconnects, so a dead path is noticed within two intervals. 0 sends none.
     * Default: {@value OkHttpWebSocketOptions#DEFAULT_PING_INTERVAL_MILLIS} ms.
     */
    public Builder pingInterval(long interval, TimeUnit unit) {
      checkNotNull(unit, "unit");
      checkArgument(interval >= 0, "pingInterval", interval + " " + unit, ">= 0");
      this.pingIntervalMillis = interval == 0 ? 0 : Math.max(1, unit.toMillis(interval));
      return this;
    }

    /**
     * The largest frame payload sent; gRPC's bytes are cut into binary messages of at most this size. Keep it at or
     * below what every proxy on the path and the server accept. Default:
     * {@value OkHttpWebSocketOptions#DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD} bytes.
     */
    public Builder maxOutboundFramePayload(int bytes) {
      checkArgument(bytes > 0, "maxOutboundFramePayload", bytes, "> 0");
      this.maxOutboundFramePayload = bytes;
      return this;
    }

    /**
     * The largest message accepted from the server; a larger one ends the tunnel with close 1009 and RPCs fail
     * RESOURCE_EXHAUSTED. OkHttp reassembles fragmented messages, so the limit applies per message here (the server
     * sends only unfragmented frames). Default: {@value OkHttpWebSocketOptions#DEFAULT_MAX_INBOUND_FRAME_PAYLOAD}
     * bytes.
     */
    public Builder maxInboundFramePayload(int bytes) {
      checkArgument(bytes > 0, "maxInboundFramePayload", bytes, "> 0");
      this.maxInboundFramePayload = bytes;
      return this;
    }

    /**
     * A PEM file of CA or server certificates to trust for wss, instead of the platform's trust store. Set TLS one
     * way: this or {@link #sslSocketFactory}. Default: the platform's trust store.
     */
    public Builder trustCertificates(File pemFile) {
      this.trustCertificates = pemFile;
      return this;
    }

    /**
     * The TLS socket factory and its trust manager for wss, used as given (OkHttp's
     * {@code sslSocketFactory(factory, trustManager)}). Set TLS one way: this or {@link #trustCertificates}.
     * Default: the platform's.
     */
    public Builder sslSocketFactory(SSLSocketFactory factory, X509TrustManager trustManager) {
      checkArgument((factory == null) == (trustManager == null), "trustManager", trustManager,
          "set together with the factory");
      this.sslSocketFactory = factory;
      this.trustManager = trustManager;
      return this;
    }

    /**
     * Certificate pins checked on every wss connect after the usual verification (OkHttp's
     * {@link CertificatePinner}); a mismatch fails the connect with UNAVAILABLE. Default: none.
     */
    public Builder certificatePinner(CertificatePinner pinner) {
      this.certificatePinner = pinner;
      return this;
    }

    /**
     * Reaches the server through this HTTP proxy, whatever the platform's settings say. For wss the proxy is
     * asked to {@code CONNECT} and TLS runs end to end through it; for ws OkHttp sends the upgrade request to the
     * proxy as a forward proxy. Default: none; the platform's settings decide (see {@link #useSystemProxy}).
     */
    public Builder proxy(String host, int port) {
      checkArgument(host != null && !host.isEmpty() && Checks.isHeaderValue(host) && host.indexOf(' ') < 0,
          "proxy host", host, "a host name or IP address");
      checkArgument(port >= 1 && port <= 65535, "proxy port", port, "between 1 and 65535");
      this.proxyHost = host;
      this.proxyPort = port;
      return this;
    }

    /** Basic authentication for the proxy, explicit or chosen by the platform. Never logged. Default: none. */
    public Builder proxyCredentials(String username, String password) {
      checkNotNull(username, "proxy username");
      checkNotNull(password, "proxy password");
      checkArgument(username.indexOf(':') < 0 && Checks.isHeaderValue(username), "proxy username", username,
          "no ':' or line breaks");
      checkArgument(Checks.isHeaderValue(password), "proxy password", "<redacted>", "no line breaks");
      this.proxyUsername = username;
      this.proxyPassword = password;
      return this;
    }

    /**
     * Whether, when no {@link #proxy} is set, the platform's settings choose a proxy: {@code
     * ProxySelector.getDefault()}, which on Android follows the system's (Wi-Fi) proxy and on the JVM the {@code
     * https.proxyHost}/{@code http.proxyHost} properties. {@code false} connects directly. Default: true.
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
      checkArgument(host != null && !host.isEmpty() && Checks.isHeaderValue(host) && host.indexOf(' ') < 0,
          "connectTo host", host, "a host name or IP address");
      checkArgument(port >= 1 && port <= 65535, "connectTo port", port, "between 1 and 65535");
      this.connectToHost = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
      this.connectToPort = port;
      return this;
    }

    /** Returns the options; fails when settings contradict each other. */
    public OkHttpWebSocketOptions build() {
      boolean secure = "wss".equalsIgnoreCase(url.getScheme());
      checkArgument(secure || (sslSocketFactory == null && trustCertificates == null && certificatePinner == null),
          "url", url, "a wss:// URL when sslSocketFactory, trustCertificates or certificatePinner is set");
      checkArgument(sslSocketFactory == null || trustCertificates == null, "trustCertificates", trustCertificates,
          "unset when sslSocketFactory is set (set TLS one way)");
      return new OkHttpWebSocketOptions(this);
    }

    private static boolean isToken(String name) {
      return Checks.isToken(name);
    }

    static void checkHeader(String name, String value) {
      checkArgument(Checks.isToken(name), "header name", name, "an HTTP token");
      checkArgument(!RESERVED_HEADERS.contains(name.toLowerCase(Locale.ROOT)), "header name", name,
          "not one the handshake sets itself");
      checkArgument(Checks.isHeaderValue(value), "header " + name,
          Checks.isSensitive(name) ? "<redacted>" : value, "printable ASCII without line breaks");
    }
  }
}
