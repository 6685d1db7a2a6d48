package dev.wsgrpc.it;

import dev.wsgrpc.testing.ExternalProgram;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code java -jar wsgrpc-cli.jar ...} as a user runs it: the runnable jar the tunnel-cli module packages, in a
 * process of its own with its output captured, and without the proxy variables of the machine running the tests
 * unless a test sets them.
 */
final class CliJar {

  /** What a finished run printed and returned. */
  static final class Result {
    final int exitCode;
    final String stdout;
    final String stderr;

    Result(int exitCode, String stdout, String stderr) {
      this.exitCode = exitCode;
      this.stdout = stdout;
      this.stderr = stderr;
    }

    @Override
    public String toString() {
      return "exit " + exitCode + "\n--- stdout:\n" + stdout + "--- stderr:\n" + stderr;
    }
  }

  /** The jar {@code mvn package} built in tunnel-cli. */
  static File jar() {
    File jar = Paths.get("..", "tunnel-cli", "target", "wsgrpc-cli.jar").toAbsolutePath().normalize().toFile();
    if (!jar.isFile()) {
      throw new AssertionError(jar + " is missing: run the build from the repository root (mvn -B verify), which "
          + "packages tunnel-cli before these tests");
    }
    return jar;
  }

  private static List<String> command(String... args) {
    List<String> command = new ArrayList<>(Arrays.asList(
        Paths.get(System.getProperty("java.home"), "bin", "java").toString(), "-jar", jar().getPath()));
    command.addAll(Arrays.asList(args));
    return command;
  }

  private static void environment(ProcessBuilder builder, Map<String, String> env) {
    builder.environment().keySet().removeIf(k -> {
      String lower = k.toLowerCase(Locale.ROOT);
      return lower.equals("http_proxy") || lower.equals("https_proxy") || lower.equals("all_proxy")
          || lower.equals("no_proxy");
    });
    builder.environment().putAll(env);
  }

  /** Runs the jar to its end (at most two minutes) with extra environment variables. */
  static Result run(Map<String, String> env, String... args) throws IOException, InterruptedException {
    Path out = Files.createTempFile("wsgrpc-cli", ".out");
    Path err = Files.createTempFile("wsgrpc-cli", ".err");
    out.toFile().deleteOnExit();
    err.toFile().deleteOnExit();
    ProcessBuilder builder = new ProcessBuilder(command(args)).redirectOutput(out.toFile())
        .redirectError(err.toFile());
    environment(builder, env);
    Process process = builder.start();
    if (!process.waitFor(2, TimeUnit.MINUTES)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw new AssertionError("wsgrpc-cli " + String.join(" ", args) + " did not finish within 2 minutes:\n"
          + read(out) + read(err));
    }
    return new Result(process.exitValue(), read(out), read(err));
  }

  static Result run(String... args) throws IOException, InterruptedException {
    return run(Map.of(), args);
  }

  /** Starts a long-running command ({@code forward}) and waits until {@code port} accepts connections. */
  static ExternalProgram start(int port, String... args) throws IOException, InterruptedException {
    return ExternalProgram.start("wsgrpc-cli", command(args)).awaitListening(port, Duration.ofSeconds(60));
  }

  private static String read(Path file) throws IOException {
    return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
  }

  private CliJar() {}
}
