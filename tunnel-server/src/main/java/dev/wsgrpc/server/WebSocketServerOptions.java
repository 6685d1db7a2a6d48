package dev.wsgrpc.server;

import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkInRange;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;

import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.core.WebSocketTunnel;
import dev.wsgrpc.core.internal.Http11Tokens;
import io.netty.handler.ssl.SslContext;
import java.util.function.Supplier;

/**
 * How a server accepts tunnels: the upgrade path, the subprotocol, TLS, the frame and handshake settings, and who may
 * open a tunnel. Immutable; build one with {@link #newBuilder()}.
 *
 * <pre>{@code
 * WebSocketServerOptions options = WebSocketServerOptions.newBuilder()
 *     .path("/tunnel")
 *     .tls(ServerTls.pemFiles(new File("cert.pem"), new File("key.pem")))
 *     .access(AccessPolicy.newBuilder().maxTunnels(10_000).maxTunnelsPerClient(100).build())
 *     .settings(TunnelSettings.newBuilder().pingInterval(Duration.ofSeconds(20)).build())
 *     .build();
 * }</pre>
 */
public final class WebSocketServerOptions {

  /** The default longest request line: {@value} bytes. */
  public static final int DEFAULT_MAX_REQUEST_LINE_BYTES = 4096;
  /** The default most request header bytes: {@value} (16 KiB). */
  public static final int DEFAULT_MAX_REQUEST_HEADER_BYTES = 16 * 1024;

  /** The options every setter leaves at its default: ws on {@value WebSocketTunnel#DEFAULT_PATH}. */
  public static final WebSocketServerOptions DEFAULT = newBuilder().build();

  private final String path;
  private final String subprotocol;
  private final ServerTls tls;
  private final Supplier<SslContext> sslContext;
  private final TunnelSettings settings;
  private final AccessPolicy access;
  private final boolean nativeGrpc;
  private final PlainHttpHandler plainHttpHandler;
  private final TunnelListener listener;
  private final int maxRequestLineBytes;
  private final int maxRequestHeaderBytes;
  private final BrowserOptions browser;
  private final Http2Limits http2Limits;

  private WebSocketServerOptions(Builder b) {
    this.path = b.path;
    this.subprotocol = b.subprotocol;
    this.tls = b.tls;
    this.sslContext = b.tls == null ? null : b.tls.contexts(b.nativeGrpc, b.browser != null);
    this.settings = b.settings;
    this.access = b.access;
    this.nativeGrpc = b.nativeGrpc;
    this.plainHttpHandler = b.plainHttpHandler;
    this.listener = b.listener;
    this.maxRequestLineBytes = b.maxRequestLineBytes;
    this.maxRequestHeaderBytes = b.maxRequestHeaderBytes;
    this.browser = b.browser;
    this.http2Limits = b.http2Limits;
  }

  /** Starts from the defaults ({@link #DEFAULT}). */
  public static Builder newBuilder() {
    return new Builder();
  }

  /** A builder that starts from these options. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** The path that answers the upgrade; every other path gets 404. */
  public String path() {
    return path;
  }

  /** The subprotocol echoed to clients that offer it. */
  public String subprotocol() {
    return subprotocol;
  }

  /** How wss is served, or {@code null} for plain ws. */
  public ServerTls tls() {
    return tls;
  }

  /** The TLS context for wss (asked once per new connection), or {@code null} for plain ws. */
  public Supplier<SslContext> sslContext() {
    return sslContext;
  }

  /** The frame and handshake settings. */
  public TunnelSettings settings() {
    return settings;
  }

  /** Who may open a tunnel, and how many. */
  public AccessPolicy access() {
    return access;
  }

  /** Whether connections that start gRPC directly (h2c preface, or ALPN h2) are served as plain gRPC too. */
  public boolean nativeGrpc() {
    return nativeGrpc;
  }

  /** Answers plain HTTP requests for other paths, or {@code null} (404). */
  public PlainHttpHandler plainHttpHandler() {
    return plainHttpHandler;
  }

  /** Observes tunnels; never null. */
  public TunnelListener listener() {
    return listener;
  }

  /** The longest request line accepted; longer gets 414. */
  public int maxRequestLineBytes() {
    return maxRequestLineBytes;
  }

  /** Which pages may call from a browser, or {@code null}: browser protocols off. */
  public BrowserOptions browser() {
    return browser;
  }

  /** The most request header bytes accepted; more gets 431. */
  public int maxRequestHeaderBytes() {
    return maxRequestHeaderBytes;
  }

  /** What one client may do inside one connection at the HTTP/2 level: concurrent calls, stream resets. */
  public Http2Limits http2Limits() {
    return http2Limits;
  }

  @Override
  public String toString() {
    return "WebSocketServerOptions{path=" + path + ", subprotocol=" + subprotocol + ", tls=" + tls
        + ", nativeGrpc=" + nativeGrpc + ", plainHttpHandler=" + (plainHttpHandler != null)
        + ", maxRequestLineBytes=" + maxRequestLineBytes + ", maxRequestHeaderBytes=" + maxRequestHeaderBytes
        + ", access=" + access + ", settings=" + settings + ", browser=" + browser + ", http2Limits=" + http2Limits
        + "}";
  }

  /** A validating builder; every setter fails fast with the offending value. Not thread-safe. */
  public static final class Builder {
    private String path = WebSocketTunnel.DEFAULT_PATH;
    private String subprotocol = WebSocketTunnel.SUBPROTOCOL;
    private ServerTls tls;
    private TunnelSettings settings = TunnelSettings.DEFAULT;
    private AccessPolicy access = AccessPolicy.OPEN;
    private boolean nativeGrpc;
    private PlainHttpHandler plainHttpHandler;
    private TunnelListener listener = new TunnelListener() {};
    private int maxRequestLineBytes = DEFAULT_MAX_REQUEST_LINE_BYTES;
    private int maxRequestHeaderBytes = DEFAULT_MAX_REQUEST_HEADER_BYTES;
    private BrowserOptions browser;
    private Http2Limits http2Limits = Http2Limits.DEFAULT;

    private Builder() {}

    private Builder(WebSocketServerOptions o) {
      path = o.path;
      subprotocol = o.subprotocol;
      tls = o.tls;
      settings = o.settings;
      access = o.access;
      nativeGrpc = o.nativeGrpc;
      plainHttpHandler = o.plainHttpHandler;
      listener = o.listener;
      maxRequestLineBytes = o.maxRequestLineBytes;
      maxRequestHeaderBytes = o.maxRequestHeaderBytes;
      browser = o.browser;
      http2Limits = o.http2Limits;
    }

    /** The path that answers the upgrade, matched exactly (the query is ignored). Default: {@value WebSocketTunnel#DEFAULT_PATH}. */
    public Builder path(String path) {
      checkNotNull(path, "path");
      checkArgument(path.startsWith("/") && path.indexOf('?') < 0 && path.indexOf('#') < 0
          && Http11Tokens.isHeaderValue(path) && path.indexOf(' ') < 0, "path", path,
          "an absolute path such as /grpc, without query");
      this.path = path;
      return this;
    }

    /** The subprotocol echoed to clients that offer it. Default: {@value WebSocketTunnel#SUBPROTOCOL}. */
    public Builder subprotocol(String subprotocol) {
      checkArgument(Http11Tokens.isToken(subprotocol), "subprotocol", subprotocol, "an HTTP token");
      this.subprotocol = subprotocol;
      return this;
    }

    /**
     * Serves wss: {@link ServerTls#pemFiles} (read by {@link #build()}), {@link ServerTls#of} a context, or
     * {@link ServerTls#reloading} a context source; {@code null} serves plain ws. Default: none, plain ws.
     */
    public Builder tls(ServerTls tls) {
      this.tls = tls;
      return this;
    }

    /**
     * The frame and handshake settings: frame payload limits, keepalive Pings to each client (they keep proxies
     * and CDNs in front of the server from dropping quiet tunnels, and let the server notice vanished clients),
     * and the handshake timeout (a client that takes longer gets 408). Default: {@link TunnelSettings#DEFAULT}.
     */
    public Builder settings(TunnelSettings settings) {
      this.settings = checkNotNull(settings, "settings");
      return this;
    }

    /**
     * Who may open a tunnel (authenticator, allowed origins, admission) and how many (tunnel limits, counted per
     * client address after the trusted proxies). Default: {@link AccessPolicy#OPEN}, everyone, no limits.
     */
    public Builder access(AccessPolicy access) {
      this.access = checkNotNull(access, "access");
      return this;
    }

    /**
     * Also serves connections that start gRPC directly on the same port: the HTTP/2 preface in the clear (h2c),
     * or ALPN {@code h2} over TLS. Internal clients then need no tunnel. Such connections pass the same gate as
     * tunnels: the {@link AccessPolicy#admission} (called with a null path) and a slot of the tunnel limits when the
     * preface arrives (else GOAWAY and close), the handshake timeout until the client's SETTINGS, and the server's
     * keepalive. With an {@link AccessPolicy#authenticator}, every call on such a connection is authenticated on
     * its own with it (from its metadata and TLS session; {@link TunnelPrincipal#interceptor()}, which
     * {@link WebSocketServers} adds): a call without valid credentials ends {@code UNAUTHENTICATED} or
     * {@code PERMISSION_DENIED}. Default: false.
     */
    public Builder nativeGrpc(boolean nativeGrpc) {
      this.nativeGrpc = nativeGrpc;
      return this;
    }

    /** Answers plain HTTP requests for paths other than the tunnel's, e.g. health checks. Default: 404 for all. */
    public Builder plainHttpHandler(PlainHttpHandler handler) {
      this.plainHttpHandler = handler;
      return this;
    }

    /** Observes tunnels: opened, closed, refused. Default: none. */
    public Builder listener(TunnelListener listener) {
      this.listener = checkNotNull(listener, "listener");
      return this;
    }

    /**
     * The longest request line accepted; longer gets 414. From 64 to 1048576 bytes. Default:
     * {@value #DEFAULT_MAX_REQUEST_LINE_BYTES}.
     */
    public Builder maxRequestLineBytes(int bytes) {
      this.maxRequestLineBytes = checkInRange(bytes, 64, 1 << 20, "maxRequestLineBytes");
      return this;
    }

    /**
     * The most request header bytes accepted; more gets 431. From 256 to 1048576 bytes. Default:
     * {@value #DEFAULT_MAX_REQUEST_HEADER_BYTES}.
     */
    public Builder maxRequestHeaderBytes(int bytes) {
      this.maxRequestHeaderBytes = checkInRange(bytes, 256, 1 << 20, "maxRequestHeaderBytes");
      return this;
    }

    /**
     * Turns the browser protocols on (gRPC-Web, and gRPC over WebSocket with subprotocol {@code grpc-websockets})
     * for the pages {@code browser} allows, on every path but the tunnel's; {@code null} turns them off. The
     * access policy (authenticator, admission, limits) applies to them as to tunnels. Default: off.
     *
     * <p>gRPC-Web needs HTTP/1.1 (gRPC's own HTTP/2 handler refuses it): with {@link ServerTls#pemFiles} and
     * {@link #nativeGrpc} on as well, TLS prefers ALPN {@code http/1.1}, which browsers offer beside {@code h2}; gRPC
     * clients offer {@code h2} alone and still get it.
     */
    public Builder browser(BrowserOptions browser) {
      this.browser = browser;
      return this;
    }

    /**
     * What one client may do inside one tunnel or native connection at the HTTP/2 level: at most
     * {@value Http2Limits#DEFAULT_MAX_CONCURRENT_CALLS} concurrent calls, and at most
     * {@value Http2Limits#DEFAULT_MAX_RST_FRAMES} stream resets per {@value Http2Limits#DEFAULT_RST_WINDOW_SECONDS}
     * s (rapid reset) before GOAWAY {@code ENHANCE_YOUR_CALM}. The server builders from {@link WebSocketServers}
     * apply them; a later call on the builder ({@code maxConcurrentCallsPerConnection},
     * {@code maxRstFramesPerWindow}) wins. Default: {@link Http2Limits#DEFAULT}.
     */
    public Builder http2Limits(Http2Limits limits) {
      this.http2Limits = checkNotNull(limits, "http2Limits");
      return this;
    }

    /**
     * Returns the options.
     *
     * @throws IllegalArgumentException when the {@link ServerTls#pemFiles} cannot be read as a certificate chain
     *     and key
     */
    public WebSocketServerOptions build() {
      return new WebSocketServerOptions(this);
    }
  }
}
