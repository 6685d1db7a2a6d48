package dev.wsgrpc.it;

import dev.wsgrpc.testing.ExternalProgram;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A real HTTP CONNECT proxy, Debian's tinyproxy, on a loopback port with Basic authentication: the corporate proxy
 * of the tests. It logs every request it sees, so tests can tell that a connection really went through it.
 */
final class Tinyproxy implements AutoCloseable {

  static final String USER = "alice";
  static final String PASSWORD = "s3cret";

  private final ExternalProgram program;
  private final int port;

  private Tinyproxy(ExternalProgram program, int port) {
    this.program = program;
    this.port = port;
  }

  /**
   * Starts tinyproxy on a free loopback port, accepting {@link #USER}/{@link #PASSWORD}, with {@code extraConfig}
   * lines added to its configuration (e.g. {@code "ConnectPort 443"}); skips when missing.
   */
  static Tinyproxy start(String... extraConfig) throws IOException, InterruptedException {
    String exe = ExternalProgram.requireInstalled("tinyproxy", "tinyproxy");
    int port = ExternalProgram.freePort();
    Path dir = Files.createTempDirectory("wsgrpc-tinyproxy");
    dir.toFile().deleteOnExit();
    Path config = dir.resolve("tinyproxy.conf");
    String text = "Port " + port + "\n"
        + "Listen 127.0.0.1\n"
        + "Timeout 600\n"
        + "LogLevel Connect\n"
        + "MaxClients 200\n"
        + "Allow 127.0.0.1\n"
        + "BasicAuth " + USER + " " + PASSWORD + "\n"
        + (extraConfig.length == 0 ? "" : String.join("\n", extraConfig) + "\n");
    Files.write(config, text.getBytes(StandardCharsets.US_ASCII));
    config.toFile().deleteOnExit();
    ExternalProgram program = ExternalProgram.start("tinyproxy", exe, "-d", "-c", config.toString())
        .awaitListening(port, Duration.ofSeconds(30));
    return new Tinyproxy(program, port);
  }

  int port() {
    return port;
  }

  /** What tinyproxy logged so far: one {@code CONNECT host:port} line per request it received. */
  String log() {
    return program.output();
  }

  /** How many CONNECT requests for {@code hostAndPort} tinyproxy has logged. */
  long connects(String hostAndPort) {
    return log().lines().filter(l -> l.contains("Request") && l.contains("CONNECT " + hostAndPort + " ")).count();
  }

  @Override
  public void close() throws InterruptedException {
    program.close();
  }
}
