package dev.wsgrpc.gateway;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What is wrong with a file an option names, in words for its error line ({@code "--tls-key: FILE (expected: ...;
 * PROBLEM)"}), or null when nothing is known to be: missing, a directory or unreadable files, and PEM files without
 * what they must hold. The checks only refuse what could not work; anything else is left to the code that reads the
 * file, whose own refusal is reported too.
 */
final class OptionFiles {

  /** What a private key option expects. */
  static final String PRIVATE_KEY = "a PEM PKCS#8 private key, -----BEGIN PRIVATE KEY-----";

  /** Certificates and keys are a few KiB: a file read this far holds them if it holds any. */
  private static final int READ_AT_MOST = 1 << 20;

  private static final Pattern CERTIFICATE = Pattern.compile("-+BEGIN\\s[^-\\r\\n]*CERTIFICATE");
  private static final Pattern ANY_PRIVATE_KEY = Pattern.compile("-+BEGIN\\s[^-\\r\\n]*PRIVATE\\s+KEY");
  private static final Pattern PKCS8 = Pattern.compile("-+BEGIN\\s+PRIVATE\\s+KEY");
  /** The forms OpenSSL also writes, which Java cannot read without a password or at all (no BouncyCastle here). */
  private static final Pattern OTHER_KEY = Pattern.compile("-+BEGIN\\s+(RSA|EC|DSA|ENCRYPTED)\\s+PRIVATE\\s+KEY");

  /** Why {@code file} cannot be read, or null if it can. */
  static String unreadable(File file) {
    Path path = file.toPath();
    if (Files.isDirectory(path)) {
      return "it is a directory";
    }
    if (Files.isReadable(path)) {
      return null;
    }
    if (Files.notExists(path)) {
      return "no such file" + (file.isAbsolute() ? "" : " in " + new File("").getAbsolutePath());
    }
    return "it cannot be read by user " + System.getProperty("user.name")
        + " (check the permissions of the file and of its directories)";
  }

  /** Why {@code file} holds no PEM certificate, or null if it can be read and does. */
  static String certificatesProblem(File file) {
    String pem;
    try {
      pem = readable(file);
    } catch (Unreadable e) {
      return e.getMessage();
    }
    if (CERTIFICATE.matcher(pem).find()) {
      return null;
    }
    return ANY_PRIVATE_KEY.matcher(pem).find()
        ? "found a private key and no -----BEGIN CERTIFICATE-----: are the certificate and the key swapped?"
        : "found no -----BEGIN CERTIFICATE----- in it";
  }

  /**
   * Why {@code file} holds no PKCS#8 private key, or null if it can be read and does (or holds a key of a form not
   * known here, left to the TLS code): a PKCS#1, SEC1 or encrypted key comes with the command that converts it.
   */
  static String privateKeyProblem(File file) {
    String pem;
    try {
      pem = readable(file);
    } catch (Unreadable e) {
      return e.getMessage();
    }
    if (PKCS8.matcher(pem).find()) {
      return null;
    }
    Matcher other = OTHER_KEY.matcher(pem);
    if (other.find()) {
      String kind = other.group(1);
      String found;
      switch (kind) {
        case "RSA":
          found = "found a PKCS#1 RSA key, -----BEGIN RSA PRIVATE KEY-----, which Java cannot read";
          break;
        case "EC":
          found = "found a SEC1 EC key, -----BEGIN EC PRIVATE KEY-----, which Java cannot read";
          break;
        case "DSA":
          found = "found an OpenSSL DSA key, -----BEGIN DSA PRIVATE KEY-----, which Java cannot read";
          break;
        default:
          found = "found an encrypted key, -----BEGIN ENCRYPTED PRIVATE KEY-----, and the gateway takes no password";
          break;
      }
      return found + ": convert it with " + convertCommand(file);
    }
    if (ANY_PRIVATE_KEY.matcher(pem).find()) {
      return null; // some other key form: the TLS code says what it makes of it
    }
    return CERTIFICATE.matcher(pem).find()
        ? "found a certificate and no -----BEGIN PRIVATE KEY-----: are the certificate and the key swapped?"
        : "found no -----BEGIN PRIVATE KEY----- in it";
  }

  /** {@code openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem}, next to {@code key}. */
  static String convertCommand(File key) {
    String name = key.getName();
    String converted = (name.endsWith(".pem") ? name.substring(0, name.length() - 4) : name) + "-pkcs8.pem";
    File out = key.getParent() == null ? new File(converted) : new File(key.getParent(), converted);
    return "openssl pkcs8 -topk8 -nocrypt -in " + shellWord(key.getPath()) + " -out " + shellWord(out.getPath());
  }

  /** {@code word} as a shell reads it back: quoted when it holds anything but letters, digits and {@code _.,/+:=@-}. */
  private static String shellWord(String word) {
    return word.matches("[A-Za-z0-9_.,/+:=@-]+") ? word : "'" + word.replace("'", "'\\''") + "'";
  }

  /** The beginning of {@code file}'s text; throws {@link Unreadable} saying why it cannot be read. */
  private static String readable(File file) throws Unreadable {
    String problem = unreadable(file);
    if (problem != null) {
      throw new Unreadable(problem);
    }
    try {
      return start(file);
    } catch (IOException e) {
      throw new Unreadable("it cannot be read: " + e);
    }
  }

  /** Why a file cannot be read, as an option's refusal says it. */
  private static final class Unreadable extends Exception {
    private static final long serialVersionUID = 1L;

    Unreadable(String why) {
      super(why, null, false, false);
    }
  }

  private static String start(File file) throws IOException {
    try (InputStream in = Files.newInputStream(file.toPath())) {
      return new String(in.readNBytes(READ_AT_MOST), StandardCharsets.ISO_8859_1);
    }
  }

  private OptionFiles() {}
}
