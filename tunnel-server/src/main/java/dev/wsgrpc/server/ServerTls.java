package dev.wsgrpc.server;

import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.File;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;

/**
 * How a server serves wss: PEM files ({@link #pemFiles}), a context given as is ({@link #of}) or a source asked
 * for every new connection ({@link #reloading}). The one way to set TLS on {@link WebSocketServerOptions.Builder#tls}.
 * Immutable.
 */
public final class ServerTls {

  private final File certChainPem;
  private final File privateKeyPem;
  private final File clientCaPem;
  private final Supplier<SslContext> source;

  private ServerTls(File certChainPem, File privateKeyPem, File clientCaPem, Supplier<SslContext> source) {
    this.certChainPem = certChainPem;
    this.privateKeyPem = privateKeyPem;
    this.clientCaPem = clientCaPem;
    this.source = source;
  }

  /**
   * The certificate chain and PKCS#8 private key in these PEM files, read when the options are built. ALPN offers
   * {@code http/1.1} (HTTP/2 runs inside the WebSocket), and also {@code h2} first when the options serve
   * {@linkplain WebSocketServerOptions.Builder#nativeGrpc native gRPC}.
   */
  public static ServerTls pemFiles(File certChainPem, File privateKeyPem) {
    return new ServerTls(checkNotNull(certChainPem, "certChainPem"), checkNotNull(privateKeyPem, "privateKeyPem"),
        null, null);
  }

  /**
   * This server context, used as given (offer ALPN {@code http/1.1}; see {@link #serverContext}). The server does
   * not take ownership.
   */
  public static ServerTls of(SslContext sslContext) {
    checkArgument(sslContext != null && sslContext.isServer(), "sslContext", sslContext, "a server context");
    return new ServerTls(null, null, null, () -> sslContext);
  }

  /**
   * A source of the server context, asked once for every new connection, so that new certificates are picked up
   * without a restart. It must be quick and must not block. The server does not take ownership.
   */
  public static ServerTls reloading(Supplier<SslContext> sslContext) {
    return new ServerTls(null, null, null, checkNotNull(sslContext, "sslContext"));
  }

  /**
   * With {@link #pemFiles}: every client must present a certificate issued by the CAs in this PEM file (mutual
   * TLS); pair with {@link TunnelAuthenticator#CLIENT_CERTIFICATE}.
   */
  public ServerTls requireClientCertificates(File caPem) {
    checkArgument(certChainPem != null, "caPem", caPem, "set together with pemFiles(cert, key)");
    return new ServerTls(certChainPem, privateKeyPem, checkNotNull(caPem, "caPem"), null);
  }

  /** The context source for the options, reading the PEM files now. */
  Supplier<SslContext> contexts(boolean nativeGrpc, boolean browsers) {
    if (source != null) {
      return source;
    }
    SslContext context = serverContext(certChainPem, privateKeyPem, applicationProtocols(nativeGrpc, browsers),
        clientCaPem);
    return () -> context;
  }

  /**
   * The ALPN protocols of a listener, in the order it prefers them (the server's order decides): {@code http/1.1}
   * for tunnels; with native gRPC, {@code h2} before it, unless browser protocols are served too. Browsers offer
   * both, and their gRPC-Web over HTTP/2 would reach gRPC's own handler, which refuses it (415); gRPC clients offer
   * {@code h2} alone and get it either way. So with both, {@code http/1.1} comes first.
   */
  static String[] applicationProtocols(boolean nativeGrpc, boolean browsers) {
    if (!nativeGrpc) {
      return new String[] {ApplicationProtocolNames.HTTP_1_1};
    }
    return browsers
        ? new String[] {ApplicationProtocolNames.HTTP_1_1, ApplicationProtocolNames.HTTP_2}
        : new String[] {ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1};
  }

  /**
   * A server TLS context from PEM files that offers ALPN {@code http/1.1} for tunnels, preceded by {@code h2} when
   * native gRPC is served on the same port; with {@code clientCaPem} (may be null), every client must present a
   * certificate issued by one of those CAs.
   *
   * @throws IllegalArgumentException when the files cannot be read as a certificate chain and key, or when the key
   *     is not the private key of the chain's first certificate
   */
  public static SslContext serverContext(File certChainPem, File privateKeyPem, boolean offerH2, File clientCaPem) {
    return serverContext(certChainPem, privateKeyPem, applicationProtocols(offerH2, false), clientCaPem);
  }

  /** A server TLS context from PEM files offering {@code protocols} with ALPN, in that order of preference. */
  static SslContext serverContext(File certChainPem, File privateKeyPem, String[] protocols, File clientCaPem) {
    String mismatch = KeyPairCheck.mismatch(certChainPem, privateKeyPem);
    if (mismatch != null) {
      // Else every handshake would fail: a renewal that wrote one file before the other, the wrong key copied.
      throw new IllegalArgumentException("tls: " + certChainPem + ", " + privateKeyPem
          + " (expected: the private key of the first certificate of the chain; " + mismatch + ")");
    }
    try {
      SslContextBuilder builder = SslContextBuilder.forServer(certChainPem, privateKeyPem);
      if (clientCaPem != null) {
        builder.trustManager(clientCaPem).clientAuth(ClientAuth.REQUIRE);
      }
      // Clients that offer no ALPN, or none of these, still get the upgrade, as from any web server.
      return builder.applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
          ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
          ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, protocols)).build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("tls: " + certChainPem + ", " + privateKeyPem
          + (clientCaPem == null ? "" : ", client CA " + clientCaPem)
          + " (expected: a PEM certificate chain and a PEM PKCS#8 private key"
          + (clientCaPem == null ? "" : " and PEM CA certificates") + "; " + e.getMessage() + ")", e);
    }
  }

  @Override
  public String toString() {
    // File names only: never the key's contents.
    return certChainPem != null
        ? "pemFiles(" + certChainPem + ", " + privateKeyPem + (clientCaPem == null ? "" : ", clientCa " + clientCaPem)
            + ")"
        : "sslContext";
  }
}
