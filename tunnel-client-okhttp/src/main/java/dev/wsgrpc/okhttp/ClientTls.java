package dev.wsgrpc.okhttp;

import static dev.wsgrpc.okhttp.Checks.checkArgument;
import static dev.wsgrpc.okhttp.Checks.checkNotNull;

import java.io.File;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.X509TrustManager;
import okhttp3.CertificatePinner;

/**
 * How the server's certificate is checked for wss: which certificates are trusted, and which pins must match. The
 * counterpart of the Netty client's {@code ClientTls}, in OkHttp's types. Immutable.
 *
 * <pre>{@code
 * ClientTls tls = ClientTls.DEFAULT.withCertificatePinner(new CertificatePinner.Builder()
 *     .add("edge.example.com", "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
 *     .build());
 * }</pre>
 */
public final class ClientTls {

  /** The platform's trust store (on Android, the system's and the app's network security config), no pins. */
  public static final ClientTls DEFAULT = new ClientTls(null, null, null, null);

  private final File trustCertificates;
  private final SSLSocketFactory sslSocketFactory;
  private final X509TrustManager trustManager;
  private final CertificatePinner certificatePinner;

  private ClientTls(File trustCertificates, SSLSocketFactory sslSocketFactory, X509TrustManager trustManager,
      CertificatePinner certificatePinner) {
    this.trustCertificates = trustCertificates;
    this.sslSocketFactory = sslSocketFactory;
    this.trustManager = trustManager;
    this.certificatePinner = certificatePinner;
  }

  /**
   * Trusts exactly the CA or server certificates in this PEM file instead of the platform's trust store; the file is
   * read when a channel is built (an unreadable file fails then, naming the file).
   */
  public static ClientTls trusting(File pemFile) {
    return new ClientTls(checkNotNull(pemFile, "trustCertificates"), null, null, null);
  }

  /**
   * Uses this TLS socket factory and its trust manager as given (OkHttp's {@code sslSocketFactory(factory,
   * trustManager)}). The channel does not take ownership.
   */
  public static ClientTls of(SSLSocketFactory factory, X509TrustManager trustManager) {
    checkNotNull(factory, "sslSocketFactory");
    checkArgument(trustManager != null, "trustManager", null, "the trust manager of the socket factory");
    return new ClientTls(null, factory, trustManager, null);
  }

  /**
   * These settings plus certificate pins checked on every wss connect after the usual verification (OkHttp's
   * {@link CertificatePinner}); a mismatch fails the connect with UNAVAILABLE. {@code null} removes the pins.
   * Default: none.
   */
  public ClientTls withCertificatePinner(CertificatePinner pinner) {
    return new ClientTls(trustCertificates, sslSocketFactory, trustManager, pinner);
  }

  /** The PEM file given to {@link #trusting(File)}, or {@code null}. */
  public File trustCertificates() {
    return trustCertificates;
  }

  /** The factory given to {@link #of}, or {@code null}. */
  public SSLSocketFactory sslSocketFactory() {
    return sslSocketFactory;
  }

  /** The trust manager given to {@link #of}, or {@code null}. */
  public X509TrustManager trustManager() {
    return trustManager;
  }

  /** The certificate pins, or {@code null} for none. */
  public CertificatePinner certificatePinner() {
    return certificatePinner;
  }

  /** Whether these are {@link #DEFAULT}'s settings. */
  boolean isDefault() {
    return trustCertificates == null && sslSocketFactory == null && certificatePinner == null;
  }

  @Override
  public String toString() {
    String trust = sslSocketFactory != null ? "sslSocketFactory" : trustCertificates != null
        ? "trustCertificates=" + trustCertificates : "default";
    return certificatePinner == null ? trust : trust + ", pins=" + certificatePinner.getPins().size();
  }
}
