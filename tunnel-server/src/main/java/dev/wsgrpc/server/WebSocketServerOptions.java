package dev.wsgrpc.server;

import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkInRange;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;
import static dev.wsgrpc.core.internal.Preconditions.checkPositive;

import dev.wsgrpc.core.WebSocketTunnel;
import dev.wsgrpc.core.internal.FramePipelineSettings;
import dev.wsgrpc.core.internal.Http11Tokens;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.File;
import javax.net.ssl.SSLException;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * How a server accepts tunnels: the upgrade path, the subprotocol, TLS and limits. Immutable; build one with
 * {@link #newBuilder()}.
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
  private final Duration handshakeTimeout;
  private final Supplier<SslContext> sslContext;
  private final FramePipelineSettings frames;
  private final boolean nativeGrpc;
  private final PlainHttpHandler plainHttpHandler;
  private final TrustedProxies trustedProxies;
  private final TunnelListener listener;
  private final TunnelAdmission admission;
  private final TunnelAuthenticator authenticator;
  private final java.util.List<String> allowedOrigins;
  private final int maxTunnels;
  private final int maxTunnelsPerClient;
  private final int maxRequestLineBytes;
  private final int maxRequestHeaderBytes;
  private final BrowserOptions browser;

  private WebSocketServerOptions(Builder b) {
    this.path = b.path;
    this.subprotocol = b.subprotocol;
    this.handshakeTimeout = b.handshakeTimeout;
    this.sslContext = b.sslContext;
    this.frames = new FramePipelineSettings(b.frames);
    this.nativeGrpc = b.nativeGrpc;
    this.plainHttpHandler = b.plainHttpHandler;
    this.trustedProxies = b.trustedProxies;
    this.listener = b.listener;
    this.admission = b.admission;
    this.authenticator = b.authenticator;
    this.allowedOrigins = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(b.allowedOrigins));
    this.maxTunnels = b.maxTunnels;
    this.maxTunnelsPerClient = b.maxTunnelsPerClient;
    this.maxRequestLineBytes = b.maxRequestLineBytes;
    this.maxRequestHeaderBytes = b.maxRequestHeaderBytes;
    this.browser = b.browser;
  }

  public static Builder newBuilder() {
    return new Builder();
  }

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

  /** Time allowed for TLS and the upgrade request together. */
  public Duration handshakeTimeout() {
    return handshakeTimeout;
  }

  /** The TLS context for wss (asked once per new connection), or {@code null} for plain ws. */
  public Supplier<SslContext> sslContext() {
    return sslContext;
  }

  /** Whether connections that start gRPC directly (h2c preface, or ALPN h2) are served as plain gRPC too. */
  public boolean nativeGrpc() {
    return nativeGrpc;
  }

  /** Answers plain HTTP requests for other paths, or {@code null} (404). */
  public PlainHttpHandler plainHttpHandler() {
    return plainHttpHandler;
  }

  /** The proxies whose {@code Forwarded}/{@code X-Forwarded-For} headers decide the client's address. */
  public TrustedProxies trustedProxies() {
    return trustedProxies;
  }

  /** Observes tunnels; never null. */
  public TunnelListener listener() {
    return listener;
  }

  /** Decides each valid upgrade before the 101; never null. */
  public TunnelAdmission admission() {
    return admission;
  }

  /** Decides who each tunnel belongs to before the 101, or {@code null} for no authentication. */
  public TunnelAuthenticator authenticator() {
    return authenticator;
  }

  /** Origins allowed to open tunnels; empty allows all. */
  public java.util.List<String> allowedOrigins() {
    return allowedOrigins;
  }

  /** The most tunnels open at once; more get 503. */
  public int maxTunnels() {
    return maxTunnels;
  }

  /** The most tunnels open at once from one client address; more get 503. */
  public int maxTunnelsPerClient() {
    return maxTunnelsPerClient;
  }

  /** The longest request line accepted; longer gets 414. */
  public int maxRequestLineBytes() {
    return maxRequestLineBytes;
  }

  /** The most request header bytes accepted; more gets 431. */
  /** Which pages may call from a browser, or {@code null}: browser protocols off. */
  public BrowserOptions browser() {
    return browser;
  }

  public int maxRequestHeaderBytes() {
    return maxRequestHeaderBytes;
  }

  /** The largest frame payload accepted from a client, in bytes. */
  public int maxInboundFramePayload() {
    return frames.maxInboundFramePayload();
  }

  /** The largest frame payload sent to a client, in bytes. */
  public int maxOutboundFramePayload() {
    return frames.maxOutboundFramePayload();
  }

  /** Time between two WebSocket Pings to a client; {@link Duration#ZERO} when none are sent. */
  public Duration pingInterval() {
    return frames.pingInterval();
  }

  /** How long after a Ping something must arrive from the client before its tunnel is closed as dead. */
  public Duration pingTimeout() {
    return frames.pingTimeout();
  }

  @Override
  public String toString() {
    return "WebSocketServerOptions{path=" + path + ", subprotocol=" + subprotocol
        + ", handshakeTimeout=" + handshakeTimeout + ", tls=" + (sslContext != null)
        + ", nativeGrpc=" + nativeGrpc + ", plainHttpHandler=" + (plainHttpHandler != null)
        + ", trustedProxies=" + trustedProxies + ", authenticator=" + (authenticator != null)
        + ", allowedOrigins=" + allowedOrigins + ", maxTunnels=" + maxTunnels
        + ", maxTunnelsPerClient=" + maxTunnelsPerClient + ", maxRequestLineBytes=" + maxRequestLineBytes
        + ", maxRequestHeaderBytes=" + maxRequestHeaderBytes + ", browser=" + browser + ", " + frames + "}";
  }

  /** A validating builder; every setter fails fast with the offending value. Not thread-safe. */
  public static final class Builder {
    private String path = WebSocketTunnel.DEFAULT_PATH;
    private String subprotocol = WebSocketTunnel.SUBPROTOCOL;
    private Duration handshakeTimeout = Duration.ofMillis(WebSocketTunnel.DEFAULT_HANDSHAKE_TIMEOUT_MILLIS);
    private Supplier<SslContext> sslContext;
    private File certChainPem;
    private File privateKeyPem;
    private File clientCaPem;
    private final FramePipelineSettings frames;
    private boolean nativeGrpc;
    private PlainHttpHandler plainHttpHandler;
    private TrustedProxies trustedProxies = TrustedProxies.NONE;
    private TunnelListener listener = new TunnelListener() {};
    private TunnelAdmission admission = TunnelAdmission.ALL;
    private TunnelAuthenticator authenticator;
    private java.util.List<String> allowedOrigins = java.util.Collections.emptyList();
    private int maxTunnels = Integer.MAX_VALUE;
    private int maxTunnelsPerClient = Integer.MAX_VALUE;
    private int maxRequestLineBytes = DEFAULT_MAX_REQUEST_LINE_BYTES;
    private int maxRequestHeaderBytes = DEFAULT_MAX_REQUEST_HEADER_BYTES;
    private BrowserOptions browser;

    private Builder() {
      frames = new FramePipelineSettings();
    }

    private Builder(WebSocketServerOptions o) {
      path = o.path;
      subprotocol = o.subprotocol;
      handshakeTimeout = o.handshakeTimeout;
      sslContext = o.sslContext;
      frames = new FramePipelineSettings(o.frames);
      nativeGrpc = o.nativeGrpc;
      plainHttpHandler = o.plainHttpHandler;
      trustedProxies = o.trustedProxies;
      listener = o.listener;
      admission = o.admission;
      authenticator = o.authenticator;
      allowedOrigins = o.allowedOrigins;
      maxTunnels = o.maxTunnels;
      maxTunnelsPerClient = o.maxTunnelsPerClient;
      maxRequestLineBytes = o.maxRequestLineBytes;
      maxRequestHeaderBytes = o.maxRequestHeaderBytes;
      browser = o.browser;
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
     * Time allowed for TLS and the upgrade request together; a client that takes longer gets 408 (or, during TLS,
     * a closed connection). Default: {@value WebSocketTunnel#DEFAULT_HANDSHAKE_TIMEOUT_MILLIS} ms.
     */
    public Builder handshakeTimeout(Duration timeout) {
      checkNotNull(timeout, "handshakeTimeout");
      checkArgument(!timeout.isNegative() && !timeout.isZero(), "handshakeTimeout", timeout, "> 0");
      this.handshakeTimeout = timeout;
      return this;
    }

    /**
     * The TLS context for wss (a server context; offer ALPN {@code http/1.1}, or see {@link #tls(File, File)}).
     * The server does not take ownership. Default: none, plain ws.
     */
    public Builder sslContext(SslContext sslContext) {
      checkArgument(sslContext == null || sslContext.isServer(), "sslContext", sslContext, "a server context");
      this.sslContext = sslContext == null ? null : () -> sslContext;
      this.certChainPem = null;
      this.privateKeyPem = null;
      return this;
    }

    /**
     * A source of the TLS context for wss, asked once for every new connection, so that new certificates can be
     * picked up without a restart. It must be quick and must not block. The server does not take ownership.
     * Default: none, plain ws.
     */
    public Builder sslContextSupplier(Supplier<SslContext> sslContext) {
      this.sslContext = sslContext;
      this.certChainPem = null;
      this.privateKeyPem = null;
      return this;
    }

    /**
     * Also serves connections that start gRPC directly on the same port: the HTTP/2 preface in the clear (h2c),
     * or ALPN {@code h2} over TLS. Internal clients then need no tunnel. Such connections bypass
     * {@link #admission}. Default: false.
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

    /**
     * The proxies (CIDR blocks such as {@code 10.0.0.0/8} or single addresses) whose {@code Forwarded} and
     * {@code X-Forwarded-For} headers decide the client's address, which services then see as
     * {@code Grpc.TRANSPORT_ATTR_REMOTE_ADDR}. From anyone else the headers are ignored. Default: none.
     */
    public Builder trustedProxies(java.util.List<String> cidrs) {
      checkNotNull(cidrs, "trustedProxies");
      this.trustedProxies = TrustedProxies.parse(cidrs);
      return this;
    }

    /** Observes tunnels: opened, closed, refused. Default: none. */
    public Builder listener(TunnelListener listener) {
      this.listener = checkNotNull(listener, "listener");
      return this;
    }

    /** Decides each valid upgrade before the 101 (draining, limits). Default: admit all. */
    public Builder admission(TunnelAdmission admission) {
      this.admission = checkNotNull(admission, "admission");
      return this;
    }

    /**
     * Authenticates each upgrade before the 101: a principal for {@link TunnelPrincipal}, or 401/403. Built in:
     * {@link BearerTokens}, {@link TunnelAuthenticator#CLIENT_CERTIFICATE}. Default: none, every client admitted.
     */
    public Builder authenticator(TunnelAuthenticator authenticator) {
      this.authenticator = authenticator;
      return this;
    }

    /**
     * The only {@code Origin} values allowed to open tunnels (e.g. {@code https://app.example.com}), compared
     * ignoring case; a request with another Origin gets 403. Requests without Origin (non-browser clients) are
     * allowed. Default: empty, any Origin.
     */
    public Builder allowedOrigins(java.util.List<String> origins) {
      checkNotNull(origins, "allowedOrigins");
      for (String origin : origins) {
        checkArgument(origin != null && Http11Tokens.isHeaderValue(origin) && !origin.isEmpty(), "allowedOrigins",
            origin, "an origin such as https://app.example.com");
      }
      this.allowedOrigins = new java.util.ArrayList<>(origins);
      return this;
    }

    /**
     * Turns the browser protocols on (gRPC-Web, and gRPC over WebSocket with subprotocol {@code grpc-websockets})
     * for the pages {@code browser} allows, on every path but the tunnel's; {@code null} turns them off. The
     * authenticator, admission and limits apply to them as to tunnels. Default: off.
     */
    public Builder browser(BrowserOptions browser) {
      this.browser = browser;
      return this;
    }

    /** The most tunnels open at once; more get 503 with {@code Retry-After}. Default: no limit. */
    public Builder maxTunnels(int max) {
      this.maxTunnels = checkPositive(max, "maxTunnels");
      return this;
    }

    /**
     * The most tunnels open at once from one client address (after {@link #trustedProxies}); more get 503 with
     * {@code Retry-After}. Default: no limit.
     */
    public Builder maxTunnelsPerClient(int max) {
      this.maxTunnelsPerClient = checkPositive(max, "maxTunnelsPerClient");
      return this;
    }

    /** The longest request line accepted; longer gets 414. Default: {@value #DEFAULT_MAX_REQUEST_LINE_BYTES}. */
    public Builder maxRequestLineBytes(int bytes) {
      this.maxRequestLineBytes = checkInRange(bytes, 64, 1 << 20, "maxRequestLineBytes");
      return this;
    }

    /**
     * The most request header bytes accepted; more gets 431. Default: {@value #DEFAULT_MAX_REQUEST_HEADER_BYTES}.
     */
    public Builder maxRequestHeaderBytes(int bytes) {
      this.maxRequestHeaderBytes = checkInRange(bytes, 256, 1 << 20, "maxRequestHeaderBytes");
      return this;
    }

    /**
     * Serves wss with the certificate chain and PKCS#8 private key in these PEM files, read by {@link #build()}.
     * ALPN offers {@code http/1.1} (HTTP/2 runs inside the WebSocket), and also {@code h2} when
     * {@link #nativeGrpc} is on. Default: none, plain ws.
     */
    public Builder tls(File certChainPem, File privateKeyPem) {
      this.certChainPem = checkNotNull(certChainPem, "certChainPem");
      this.privateKeyPem = checkNotNull(privateKeyPem, "privateKeyPem");
      this.sslContext = null;
      return this;
    }

    /**
     * With {@link #tls(File, File)}: require every client to present a certificate issued by the CAs in this PEM
     * file (mutual TLS); pair with {@link TunnelAuthenticator#CLIENT_CERTIFICATE}. Default: none.
     */
    public Builder tlsClientCa(File caPem) {
      this.clientCaPem = caPem;
      return this;
    }

    /**
     * The largest frame payload accepted; a larger frame ends the tunnel with close 1009.
     * Default: {@value WebSocketTunnel#DEFAULT_MAX_INBOUND_FRAME_PAYLOAD} bytes.
     */
    public Builder maxInboundFramePayload(int bytes) {
      frames.maxInboundFramePayload(bytes);
      return this;
    }

    /**
     * The largest frame payload sent; larger writes are split.
     * Default: {@value WebSocketTunnel#DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD} bytes.
     */
    public Builder maxOutboundFramePayload(int bytes) {
      frames.maxOutboundFramePayload(bytes);
      return this;
    }

    /**
     * Time between two WebSocket Pings to each client. Pings keep proxies and CDNs in front of the server from
     * dropping quiet tunnels (nginx and AWS ALB after 60 s, Cloudflare after about 100 s) and let the server notice
     * clients that have vanished (see {@link #pingTimeout}). {@link Duration#ZERO} sends none. Default:
     * {@value WebSocketTunnel#DEFAULT_PING_INTERVAL_MILLIS} ms.
     */
    public Builder pingInterval(Duration interval) {
      frames.pingInterval(interval);
      return this;
    }

    /**
     * How long after a Ping something (a Pong, data, any frame) must arrive from the client; when nothing does,
     * the tunnel is closed and its calls are cancelled. Default: {@value WebSocketTunnel#DEFAULT_PING_TIMEOUT_MILLIS}
     * ms.
     */
    public Builder pingTimeout(Duration timeout) {
      frames.pingTimeout(timeout);
      return this;
    }

    /**
     * Returns the options.
     *
     * @throws IllegalArgumentException when the {@link #tls} files cannot be read as a certificate chain and key
     */
    public WebSocketServerOptions build() {
      checkArgument(clientCaPem == null || certChainPem != null, "tlsClientCa", clientCaPem,
          "set together with tls(cert, key)");
      if (certChainPem != null) {
        SslContext context = serverContext(certChainPem, privateKeyPem, nativeGrpc, clientCaPem);
        sslContext = () -> context;
      }
      return new WebSocketServerOptions(this);
    }
  }

  /**
   * A server TLS context from PEM files that offers ALPN {@code http/1.1} for tunnels, preceded by {@code h2} when
   * native gRPC is served on the same port.
   *
   * @throws IllegalArgumentException when the files cannot be read as a certificate chain and key
   */
  public static SslContext serverContext(File certChainPem, File privateKeyPem, boolean offerH2) {
    return serverContext(certChainPem, privateKeyPem, offerH2, null);
  }

  /**
   * Like {@link #serverContext(File, File, boolean)}; with {@code clientCaPem}, every client must present a
   * certificate issued by one of those CAs (mutual TLS; see {@link TunnelAuthenticator#CLIENT_CERTIFICATE}).
   *
   * @throws IllegalArgumentException when the files cannot be read
   */
  public static SslContext serverContext(File certChainPem, File privateKeyPem, boolean offerH2, File clientCaPem) {
    try {
      String[] protocols = offerH2
          ? new String[] {ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1}
          : new String[] {ApplicationProtocolNames.HTTP_1_1};
      SslContextBuilder builder = SslContextBuilder.forServer(certChainPem, privateKeyPem);
      if (clientCaPem != null) {
        builder.trustManager(clientCaPem).clientAuth(io.netty.handler.ssl.ClientAuth.REQUIRE);
      }
      return builder
          .applicationProtocolConfig(new ApplicationProtocolConfig(
              ApplicationProtocolConfig.Protocol.ALPN,
              // Clients that offer no ALPN, or none of these, still get the upgrade, as from any web server.
              ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
              ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
              protocols))
          .build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("tls: " + certChainPem + ", " + privateKeyPem
          + (clientCaPem == null ? "" : ", client CA " + clientCaPem)
          + " (expected: a PEM certificate chain and a PEM PKCS#8 private key"
          + (clientCaPem == null ? "" : " and PEM CA certificates") + "; " + e.getMessage() + ")", e);
    }
  }
}
