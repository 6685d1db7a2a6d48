package dev.wsgrpc.server;

import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;
import static dev.wsgrpc.core.internal.Preconditions.checkPositive;

import dev.wsgrpc.core.WebSocketTunnel;
import dev.wsgrpc.core.internal.Http11Tokens;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.File;
import javax.net.ssl.SSLException;
import java.time.Duration;

/**
 * How a server accepts tunnels: the upgrade path, the subprotocol, TLS and limits. Immutable; build one with
 * {@link #newBuilder()}.
 */
public final class WebSocketServerOptions {

  /** The options every setter leaves at its default: ws on {@value WebSocketTunnel#DEFAULT_PATH}. */
  public static final WebSocketServerOptions DEFAULT = newBuilder().build();

  private final String path;
  private final String subprotocol;
  private final Duration handshakeTimeout;
  private final SslContext sslContext;
  private final int maxInboundFramePayload;
  private final int maxOutboundFramePayload;

  private WebSocketServerOptions(Builder b) {
    this.path = b.path;
    this.subprotocol = b.subprotocol;
    this.handshakeTimeout = b.handshakeTimeout;
    this.sslContext = b.sslContext;
    this.maxInboundFramePayload = b.maxInboundFramePayload;
    this.maxOutboundFramePayload = b.maxOutboundFramePayload;
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

  /** The TLS context for wss, or {@code null} for plain ws. */
  public SslContext sslContext() {
    return sslContext;
  }

  /** The largest frame payload accepted from a client, in bytes. */
  public int maxInboundFramePayload() {
    return maxInboundFramePayload;
  }

  /** The largest frame payload sent to a client, in bytes. */
  public int maxOutboundFramePayload() {
    return maxOutboundFramePayload;
  }

  @Override
  public String toString() {
    return "WebSocketServerOptions{path=" + path + ", subprotocol=" + subprotocol
        + ", handshakeTimeout=" + handshakeTimeout + ", tls=" + (sslContext != null)
        + ", maxInboundFramePayload=" + maxInboundFramePayload
        + ", maxOutboundFramePayload=" + maxOutboundFramePayload + "}";
  }

  /** A validating builder; every setter fails fast with the offending value. Not thread-safe. */
  public static final class Builder {
    private String path = WebSocketTunnel.DEFAULT_PATH;
    private String subprotocol = WebSocketTunnel.SUBPROTOCOL;
    private Duration handshakeTimeout = Duration.ofMillis(WebSocketTunnel.DEFAULT_HANDSHAKE_TIMEOUT_MILLIS);
    private SslContext sslContext;
    private int maxInboundFramePayload = WebSocketTunnel.DEFAULT_MAX_INBOUND_FRAME_PAYLOAD;
    private int maxOutboundFramePayload = WebSocketTunnel.DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD;

    private Builder() {}

    private Builder(WebSocketServerOptions o) {
      path = o.path;
      subprotocol = o.subprotocol;
      handshakeTimeout = o.handshakeTimeout;
      sslContext = o.sslContext;
      maxInboundFramePayload = o.maxInboundFramePayload;
      maxOutboundFramePayload = o.maxOutboundFramePayload;
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
      this.sslContext = sslContext;
      return this;
    }

    /**
     * Serves wss with the certificate chain and PKCS#8 private key in these PEM files, offering ALPN
     * {@code http/1.1} (HTTP/2 runs inside the WebSocket, so {@code h2} is not offered). Default: none, plain ws.
     *
     * @throws IllegalArgumentException when the files cannot be read as a certificate chain and key
     */
    public Builder tls(File certChainPem, File privateKeyPem) {
      checkNotNull(certChainPem, "certChainPem");
      checkNotNull(privateKeyPem, "privateKeyPem");
      try {
        return sslContext(SslContextBuilder.forServer(certChainPem, privateKeyPem)
            .applicationProtocolConfig(new ApplicationProtocolConfig(
                ApplicationProtocolConfig.Protocol.ALPN,
                // Clients that offer no ALPN, or not http/1.1, still get the upgrade, as from any web server.
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                ApplicationProtocolNames.HTTP_1_1))
            .build());
      } catch (SSLException | IllegalArgumentException e) {
        throw new IllegalArgumentException("tls: " + certChainPem + ", " + privateKeyPem
            + " (expected: a PEM certificate chain and a PEM PKCS#8 private key; " + e.getMessage() + ")", e);
      }
    }

    /**
     * The largest frame payload accepted; a larger frame ends the tunnel with close 1009.
     * Default: {@value WebSocketTunnel#DEFAULT_MAX_INBOUND_FRAME_PAYLOAD} bytes.
     */
    public Builder maxInboundFramePayload(int bytes) {
      this.maxInboundFramePayload = checkPositive(bytes, "maxInboundFramePayload");
      return this;
    }

    /**
     * The largest frame payload sent; larger writes are split.
     * Default: {@value WebSocketTunnel#DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD} bytes.
     */
    public Builder maxOutboundFramePayload(int bytes) {
      this.maxOutboundFramePayload = checkPositive(bytes, "maxOutboundFramePayload");
      return this;
    }

    public WebSocketServerOptions build() {
      return new WebSocketServerOptions(this);
    }
  }
}
