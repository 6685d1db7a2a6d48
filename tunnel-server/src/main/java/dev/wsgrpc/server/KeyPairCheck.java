package dev.wsgrpc.server;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.PSSParameterSpec;
import java.util.Base64;
import java.util.Collection;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whether a PEM private key belongs to the first certificate of a PEM chain. A TLS library reads the two files
 * separately and takes a key of another certificate without a word; every handshake then fails, and the log says
 * little about why. So the key signs a random challenge and the certificate's public key verifies it.
 */
final class KeyPairCheck {

  private static final Pattern PKCS8 = Pattern.compile(
      "-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");

  private KeyPairCheck() {}

  /**
   * Why the key in {@code privateKeyPem} is not the private key of the first certificate in {@code certChainPem}, or
   * null when it is, or when this cannot tell (a key that is not unencrypted PKCS#8, an algorithm it does not know):
   * files that the TLS library read already.
   */
  static String mismatch(File certChainPem, File privateKeyPem) {
    X509Certificate leaf;
    PrivateKey key;
    try {
      leaf = firstCertificate(certChainPem);
      Matcher m = PKCS8.matcher(Files.readString(privateKeyPem.toPath(), StandardCharsets.US_ASCII));
      if (leaf == null || !m.find()) {
        return null;
      }
      PublicKey publicKey = leaf.getPublicKey();
      byte[] encoded = Base64.getMimeDecoder().decode(m.group(1));
      try {
        key = KeyFactory.getInstance(publicKey.getAlgorithm()).generatePrivate(new PKCS8EncodedKeySpec(encoded));
      } catch (GeneralSecurityException e) {
        return "the key is not of the certificate's algorithm, " + publicKey.getAlgorithm();
      }
      Signature signature = signature(key.getAlgorithm());
      if (signature == null) {
        return null;
      }
      Boolean signs = signs(signature, key, publicKey);
      if (signs == null || signs) {
        return null;
      }
    } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
      return null; // read by the TLS library already; what this cannot parse it does not judge
    }
    return "the key does not belong to the certificate " + leaf.getSubjectX500Principal().getName()
        + ", the first in the chain";
  }

  /**
   * Whether {@code publicKey} verifies what {@code key} signed; null when the JDK will not verify with it at all. A key
   * of the same algorithm but another size (an RSA key of 3072 bits against a certificate's of 2048) makes the JDK
   * throw a {@code SignatureException} rather than answer false: a mismatch too.
   */
  private static Boolean signs(Signature signature, PrivateKey key, PublicKey publicKey)
      throws GeneralSecurityException {
    byte[] challenge = new byte[32];
    new SecureRandom().nextBytes(challenge);
    signature.initSign(key); // a failure to sign is not the pair's: thrown, "cannot tell"
    signature.update(challenge);
    byte[] signed = signature.sign();
    try {
      signature.initVerify(publicKey);
    } catch (java.security.InvalidKeyException e) {
      return null; // parameters the JDK will not combine (RSASSA-PSS): cannot tell
    }
    signature.update(challenge);
    try {
      return signature.verify(signed);
    } catch (java.security.SignatureException e) {
      return false;
    }
  }

  private static X509Certificate firstCertificate(File certChainPem) throws IOException, GeneralSecurityException {
    try (InputStream in = Files.newInputStream(certChainPem.toPath())) {
      Collection<? extends Certificate> chain = CertificateFactory.getInstance("X.509").generateCertificates(in);
      return chain.isEmpty() ? null : (X509Certificate) chain.iterator().next();
    }
  }

  /** A signature of the key's algorithm, or null for one this does not know. */
  private static Signature signature(String keyAlgorithm) throws GeneralSecurityException {
    switch (keyAlgorithm) {
      case "RSA":
        return Signature.getInstance("SHA256withRSA");
      case "EC":
        return Signature.getInstance("SHA256withECDSA");
      case "DSA":
        return Signature.getInstance("SHA256withDSA");
      case "Ed25519":
      case "Ed448":
      case "EdDSA":
        return Signature.getInstance(keyAlgorithm);
      case "RSASSA-PSS":
        Signature pss = Signature.getInstance("RSASSA-PSS");
        pss.setParameter(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1));
        return pss;
      default:
        return null;
    }
  }
}
