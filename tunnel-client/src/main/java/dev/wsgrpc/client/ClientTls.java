package dev.wsgrpc.client;

import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.File;
import javax.net.ssl.SSLException;

/**
 * How a client checks a wss server: the JDK's trust store ({@link #DEFAULT}), the certificates of a PEM file
 * ({@link #trusting}), or a TLS context given as is ({@link #of}). The one way to set TLS on
 * {@link WebSocketClientOptions.Builder#tls}. Immutable.
 */
public final class ClientTls {

  /** The JDK's default trust store, ALPN {@code http/1.1} only. */
  public static final ClientTls DEFAULT = new ClientTls(null, null);

  private final SslContext sslContext;
  private final File trustCertificates;

  private ClientTls(SslContext sslContext, File trustCertificates) {
    this.sslContext = sslContext;
    this.trustCertificates = trustCertificates;
  }

  /**
   * Trusts the CA or server certificates in this PEM file instead of the JDK's trust store; the file is read when
   * a channel's credentials are made. ALPN offers {@code http/1.1} only.
   */
  public static ClientTls trusting(File pemFile) {
    return new ClientTls(null, checkNotNull(pemFile, "trustCertificates"));
  }

  /**
   * Uses this client context as given (its trust and ALPN settings included). The channel does not take
   * ownership.
   */
  public static ClientTls of(SslContext sslContext) {
    checkArgument(sslContext != null && sslContext.isClient(), "sslContext", sslContext, "a client context");
    return new ClientTls(sslContext, null);
  }

  /** The context given to {@link #of(SslContext)}, or {@code null}. */
  public SslContext sslContext() {
    return sslContext;
  }

  /** The PEM file given to {@link #trusting(File)}, or {@code null}. */
  public File trustCertificates() {
    return trustCertificates;
  }

  /**
   * The context to use: the one given, else one that trusts {@link #trustCertificates()} (or the JDK's trust
   * store) and offers ALPN {@code http/1.1} only, since offering h2 through proxies and CDNs has broken tunnels.
   *
   * @throws IllegalArgumentException when the trust certificates cannot be read
   */
  SslContext newContext() {
    if (sslContext != null) {
      return sslContext;
    }
    try {
      SslContextBuilder builder = SslContextBuilder.forClient().applicationProtocolConfig(
          new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
              ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
              ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, ApplicationProtocolNames.HTTP_1_1));
      return (trustCertificates == null ? builder : builder.trustManager(trustCertificates)).build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("trustCertificates: " + trustCertificates
          + " (expected: a readable PEM file of certificates; " + e.getMessage() + ")", e);
    }
  }

  @Override
  public String toString() {
    return sslContext != null ? "sslContext" : trustCertificates != null ? "trustCertificates=" + trustCertificates
        : "default";
  }
}
