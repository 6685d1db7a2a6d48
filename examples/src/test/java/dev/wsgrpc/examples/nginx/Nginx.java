package dev.wsgrpc.examples.nginx;

import dev.wsgrpc.testing.ExternalProgram;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A real nginx started from a configuration text, with its own temporary prefix directory, exactly as the example's
 * README runs it by hand: {@code nginx -p DIR -e stderr -c DIR/nginx.conf}.
 */
final class Nginx implements AutoCloseable {

  private final String executable;
  private final Path prefix;
  private final int port;
  private ExternalProgram program;

  private Nginx(String executable, Path prefix, int port) {
    this.executable = executable;
    this.prefix = prefix;
    this.port = port;
  }

  /** Starts nginx with {@code config}, which listens on {@code port}; skips the test when nginx is missing. */
  static Nginx start(String config, int port) throws IOException, InterruptedException {
    String executable = ExternalProgram.requireInstalled("nginx", "nginx-light");
    Path prefix = Files.createTempDirectory("wsgrpc-example-nginx");
    // Run as root, nginx's workers switch to an unprivileged user, which must be able to enter the directory.
    prefix.toFile().setReadable(true, false);
    prefix.toFile().setExecutable(true, false);
    Files.writeString(prefix.resolve("nginx.conf"), config, StandardCharsets.UTF_8);
    Nginx nginx = new Nginx(executable, prefix, port);
    nginx.startProgram();
    return nginx;
  }

  /** Stops nginx, which closes every connection through it, and starts it again on the same port. */
  void restart() throws IOException, InterruptedException {
    program.close();
    startProgram();
  }

  private void startProgram() throws IOException, InterruptedException {
    program = ExternalProgram.start("nginx", executable, "-p", prefix.toString(), "-e", "stderr",
        "-c", prefix.resolve("nginx.conf").toString());
    program.awaitListening(port, Duration.ofSeconds(30));
  }

  /** What nginx printed: for failure messages. */
  String output() {
    return program.output();
  }

  @Override
  public void close() throws Exception {
    try {
      program.close();
    } finally {
      try (Stream<Path> files = Files.walk(prefix)) {
        files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
      }
    }
  }
}
