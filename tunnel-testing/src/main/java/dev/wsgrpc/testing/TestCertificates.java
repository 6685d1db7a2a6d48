package dev.wsgrpc.testing;

import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A certificate authority, a server certificate for {@code localhost} and {@code 127.0.0.1}, and a client
 * certificate, made fresh for each
 * test run, as PEM files that servers, clients and third-party programs (nginx, haproxy) can read.
 */
public final class TestCertificates {

  private final X509Bundle ca;
  private final X509Bundle server;
  private final X509Bundle client;
  private final Path dir;

  private TestCertificates(X509Bundle ca, X509Bundle server, X509Bundle client, Path dir) {
    this.ca = ca;
    this.server = server;
    this.client = client;
    this.dir = dir;
  }

  /** Issues a new CA and a server certificate signed by it, valid for localhost and 127.0.0.1. */
  public static TestCertificates create() {
    return create(new String[0]);
  }

  /**
   * Like {@link #create()}, with the server certificate also valid for {@code dnsNames}: names with a dot, for
   * tests that need TLS SNI (Java sends none for {@code localhost}).
   */
  public static TestCertificates create(String... dnsNames) {
    try {
      Instant now = Instant.now();
      CertificateBuilder base = new CertificateBuilder()
          .notBefore(now.minus(1, ChronoUnit.DAYS))
          .notAfter(now.plus(2, ChronoUnit.DAYS))
          .ecp256();
      X509Bundle ca = base.copy()
          .subject("CN=wsgrpc test CA")
          .setIsCertificateAuthority(true)
          .buildSelfSigned();
      CertificateBuilder serverBuilder = base.copy()
          .subject("CN=localhost")
          .addSanDnsName("localhost")
          .addSanIpAddress("127.0.0.1")
          .addExtendedKeyUsageServerAuth();
      for (String name : dnsNames) {
        serverBuilder.addSanDnsName(name);
      }
      X509Bundle server = serverBuilder.buildIssuedBy(ca);
      X509Bundle client = base.copy()
          .subject("CN=wsgrpc-test-client")
          .addExtendedKeyUsageClientAuth()
          .buildIssuedBy(ca);
      Path dir = Files.createTempDirectory("wsgrpc-certs");
      dir.toFile().deleteOnExit();
      TestCertificates certs = new TestCertificates(ca, server, client, dir);
      certs.write("ca.pem", ca.getCertificatePEM());
      certs.write("server.pem", server.getCertificatePEM());
      certs.write("server-key.pem", server.getPrivateKeyPEM());
      certs.write("server-bundle.pem", server.getCertificatePEM() + server.getPrivateKeyPEM());
      certs.write("client.pem", client.getCertificatePEM());
      certs.write("client-key.pem", client.getPrivateKeyPEM());
      return certs;
    } catch (Exception e) {
      throw new IllegalStateException("cannot issue test certificates", e);
    }
  }

  private void write(String name, String pem) throws IOException {
    Path file = dir.resolve(name);
    Files.write(file, pem.getBytes(StandardCharsets.US_ASCII));
    file.toFile().deleteOnExit();
  }

  /** PEM of the CA certificate: what clients trust. */
  public File caPem() {
    return dir.resolve("ca.pem").toFile();
  }

  /** A JDK client TLS context that trusts this CA alone: for the JDK's HTTP client and plain sockets. */
  public SSLContext jdkClientContext() {
    try (InputStream ca = Files.newInputStream(caPem().toPath())) {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      store.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(ca));
      TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trust.init(store);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, trust.getTrustManagers(), null);
      return context;
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot trust " + caPem() + ": " + e, e);
    }
  }

  /** A JDK server TLS context with the server certificate: for plain server sockets. */
  public SSLContext jdkServerContext() {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(server.toKeyManagerFactory().getKeyManagers(), null, null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot serve " + serverCertPem() + ": " + e, e);
    }
  }

  /** PEM of the server certificate. */
  public File serverCertPem() {
    return dir.resolve("server.pem").toFile();
  }

  /** PEM of the server's private key (PKCS#8). */
  public File serverKeyPem() {
    return dir.resolve("server-key.pem").toFile();
  }

  /** Certificate followed by key in one PEM file, as haproxy wants it. */
  public File serverBundlePem() {
    return dir.resolve("server-bundle.pem").toFile();
  }

  /** PEM of a client certificate ({@code CN=wsgrpc-test-client}) issued by the same CA, for mutual TLS. */
  public File clientCertPem() {
    return dir.resolve("client.pem").toFile();
  }

  /** PEM of the client certificate's private key (PKCS#8). */
  public File clientKeyPem() {
    return dir.resolve("client-key.pem").toFile();
  }

  /**
   * Puts this server certificate and key in place of {@code cert} and {@code key} the way certbot renews them: new
   * files written next to them, then moved over them atomically, key first.
   */
  public void renew(File cert, File key) throws IOException {
    Path newKey = key.toPath().resolveSibling(key.getName() + ".new");
    Path newCert = cert.toPath().resolveSibling(cert.getName() + ".new");
    Files.copy(serverKeyPem().toPath(), newKey, StandardCopyOption.REPLACE_EXISTING);
    Files.copy(serverCertPem().toPath(), newCert, StandardCopyOption.REPLACE_EXISTING);
    Files.move(newKey, key.toPath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    Files.move(newCert, cert.toPath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * Writes an RSA certificate for {@code localhost} (from a CA of its own) to {@code cert}, and its key to
   * {@code key} as {@code openssl genrsa -traditional} (and OpenSSL before 3.0) writes it: PKCS#1, {@code -----BEGIN
   * RSA PRIVATE KEY-----}, which Java cannot read; for tests of how that key is refused.
   */
  public static void writeRsaWithPkcs1Key(File cert, File key) {
    try {
      Instant now = Instant.now();
      CertificateBuilder base = new CertificateBuilder()
          .notBefore(now.minus(1, ChronoUnit.DAYS))
          .notAfter(now.plus(2, ChronoUnit.DAYS))
          .rsa2048();
      X509Bundle ca = base.copy().subject("CN=wsgrpc test RSA CA").setIsCertificateAuthority(true).buildSelfSigned();
      X509Bundle rsa = base.copy()
          .subject("CN=localhost")
          .addSanDnsName("localhost")
          .addExtendedKeyUsageServerAuth()
          .buildIssuedBy(ca);
      byte[] pkcs1 = privateKeyOfPkcs8(rsa.getKeyPair().getPrivate().getEncoded());
      String pem = "-----BEGIN RSA PRIVATE KEY-----\n"
          + java.util.Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(pkcs1)
          + "\n-----END RSA PRIVATE KEY-----\n";
      Files.write(cert.toPath(), rsa.getCertificatePEM().getBytes(StandardCharsets.US_ASCII));
      Files.write(key.toPath(), pem.getBytes(StandardCharsets.US_ASCII));
    } catch (Exception e) {
      throw new IllegalStateException("cannot issue an RSA test certificate", e);
    }
  }

  /**
   * The {@code privateKey} OCTET STRING of a PKCS#8 PrivateKeyInfo (RFC 5208): {@code SEQUENCE {version INTEGER,
   * algorithm SEQUENCE, privateKey OCTET STRING, ...}}; for RSA, the PKCS#1 RSAPrivateKey.
   */
  private static byte[] privateKeyOfPkcs8(byte[] der) {
    java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(der);
    expectTag(in, 0x30);
    readLength(in);
    expectTag(in, 0x02);
    skip(in, readLength(in));
    expectTag(in, 0x30);
    skip(in, readLength(in));
    expectTag(in, 0x04);
    byte[] key = new byte[readLength(in)];
    in.get(key);
    return key;
  }

  private static void skip(java.nio.ByteBuffer in, int bytes) {
    in.position(in.position() + bytes);
  }

  private static void expectTag(java.nio.ByteBuffer in, int tag) {
    int found = in.get() & 0xff;
    if (found != tag) {
      throw new IllegalArgumentException("PKCS#8: expected DER tag " + tag + ", found " + found);
    }
  }

  /** A DER length: one byte below 128, else 0x80 plus the count of big-endian bytes that follow. */
  private static int readLength(java.nio.ByteBuffer in) {
    int first = in.get() & 0xff;
    if (first < 0x80) {
      return first;
    }
    int length = 0;
    for (int i = 0; i < (first & 0x7f); i++) {
      length = (length << 8) | (in.get() & 0xff);
    }
    return length;
  }

  /** The CA bundle, for trust managers. */
  public X509Bundle ca() {
    return ca;
  }

  /** The server bundle, for key managers. */
  public X509Bundle server() {
    return server;
  }

}
