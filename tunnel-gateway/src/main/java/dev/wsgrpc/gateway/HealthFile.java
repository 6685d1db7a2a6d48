package dev.wsgrpc.gateway;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The file {@code --health-file} names: one line, the URL of the gateway's {@code /healthz} as it listens, e.g.
 * {@code http://127.0.0.1:8080/healthz}. The gateway writes it once it listens and deletes it when it exits;
 * {@link HealthCheck} reads it, so that a health check run beside the gateway (the container image's) dials what the
 * gateway's own options chose, command line included, with the port that {@code 0} picked.
 */
final class HealthFile {

  private HealthFile() {}

  /**
   * The URL of {@code /healthz} on a listener bound to {@code address}, port {@code port}: the address itself, or
   * 127.0.0.1 for a wildcard address, which the gateway's own machine reaches on loopback.
   */
  static URI url(String address, int port, boolean tls) throws IOException {
    InetAddress bound = InetAddress.getByName(address);
    String host = bound.isAnyLocalAddress() ? "127.0.0.1" : bound.getHostAddress();
    try {
      return new URI(tls ? "https" : "http", null, host, port, "/healthz", null, null);
    } catch (URISyntaxException e) {
      throw new IOException("no URL for " + address + ":" + port + ": " + e.getMessage(), e);
    }
  }

  /** Writes {@code url} to {@code file}, replacing it at once: a reader sees the old line or the new, never part. */
  static void write(Path file, URI url) throws IOException {
    Path next = file.resolveSibling(file.getFileName() + ".next");
    Files.write(next, (url + "\n").getBytes(StandardCharsets.US_ASCII));
    Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * The URL {@code file} holds.
   *
   * @throws IOException when it is missing (the gateway is not listening yet, or has exited) or holds no URL
   */
  static URI read(Path file) throws IOException {
    String line;
    try {
      line = new String(Files.readAllBytes(file), StandardCharsets.US_ASCII).trim();
    } catch (NoSuchFileException e) {
      throw new IOException(file + " is missing: the gateway is not listening (yet)", e);
    }
    try {
      URI url = new URI(line);
      if (url.getHost() == null || url.getPort() < 0
          || !("http".equals(url.getScheme()) || "https".equals(url.getScheme()))) {
        throw new URISyntaxException(line, "expected http(s)://HOST:PORT/healthz");
      }
      return url;
    } catch (URISyntaxException e) {
      throw new IOException(file + ": expected the URL of /healthz but was '" + line + "'", e);
    }
  }

  /** Deletes {@code file}, if it is there: the gateway has stopped listening. */
  static void delete(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      // Left behind: the next gateway replaces it once it listens, and until then its port refuses the check.
    }
  }
}
