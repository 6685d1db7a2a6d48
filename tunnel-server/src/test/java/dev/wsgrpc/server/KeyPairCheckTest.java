package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.TestCertificates;
import io.netty.handler.ssl.SslContext;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.KeyPairGenerator;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyPairCheckTest {

  private final TestCertificates certs = TestCertificates.create();

  @Test
  void theCertificatesOwnKeyPasses() {
    assertNull(KeyPairCheck.mismatch(certs.serverCertPem(), certs.serverKeyPem()));
    assertNull(KeyPairCheck.mismatch(certs.clientCertPem(), certs.clientKeyPem()));
    SslContext context = ServerTls.serverContext(certs.serverCertPem(), certs.serverKeyPem(), false, null);
    assertTrue(context.isServer());
  }

  @Test
  void aKeyOfAnotherCertificateIsRefusedNamingBothFiles() {
    TestCertificates other = TestCertificates.create();
    assertEquals("the key does not belong to the certificate CN=localhost, the first in the chain",
        KeyPairCheck.mismatch(certs.serverCertPem(), other.serverKeyPem()));
    // The client's key with the server's certificate: the same CA, another key.
    assertEquals("the key does not belong to the certificate CN=localhost, the first in the chain",
        KeyPairCheck.mismatch(certs.serverCertPem(), certs.clientKeyPem()));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ServerTls.serverContext(certs.serverCertPem(), other.serverKeyPem(), true, null));
    assertEquals("tls: " + certs.serverCertPem() + ", " + other.serverKeyPem() + " (expected: the private key of the "
        + "first certificate of the chain; the key does not belong to the certificate CN=localhost, the first in the "
        + "chain)", e.getMessage());
  }

  @Test
  void aKeyOfAnotherAlgorithmIsRefused(@TempDir File dir) throws Exception {
    KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
    rsa.initialize(2048);
    File key = new File(dir, "rsa-key.pem");
    writePkcs8(key, rsa.generateKeyPair().getPrivate().getEncoded());
    assertEquals("the key is not of the certificate's algorithm, EC",
        KeyPairCheck.mismatch(certs.serverCertPem(), key));
  }

  /** The JDK throws, rather than answers false, for an RSA signature of another size: a mismatch all the same. */
  @Test
  void anRsaKeyOfAnotherSizeIsRefused(@TempDir File dir) throws Exception {
    File cert = new File(dir, "rsa.pem");
    File key = new File(dir, "rsa-key.pem");
    TestCertificates.writeRsaWithPkcs1Key(cert, key); // a 2048-bit RSA certificate
    KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
    rsa.initialize(3072);
    File larger = new File(dir, "rsa-3072-key.pem");
    writePkcs8(larger, rsa.generateKeyPair().getPrivate().getEncoded());
    assertEquals("the key does not belong to the certificate CN=localhost, the first in the chain",
        KeyPairCheck.mismatch(cert, larger));
  }

  private static void writePkcs8(File file, byte[] der) throws Exception {
    Files.writeString(file.toPath(), "-----BEGIN PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
        + "\n-----END PRIVATE KEY-----\n");
  }

  @Test
  void whatItCannotReadItLeavesToTheTlsLibrary(@TempDir File dir) throws Exception {
    File encrypted = new File(dir, "encrypted.pem");
    Files.writeString(encrypted.toPath(), "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
        + "-----END ENCRYPTED PRIVATE KEY-----\n");
    assertNull(KeyPairCheck.mismatch(certs.serverCertPem(), encrypted));
    File garbled = new File(dir, "garbled.pem");
    Files.writeString(garbled.toPath(), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assertNull(KeyPairCheck.mismatch(garbled, certs.serverKeyPem()));
    assertNull(KeyPairCheck.mismatch(new File(dir, "missing.pem"), certs.serverKeyPem()));
  }
}
