package dev.wsgrpc.it;

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
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code java -jar tunnel-server.jar} as a real process, the way operators run it: output captured to files, the
 * URL read from its start-up line, stopped with SIGTERM.
 */
final class TunnelServerJar implements AutoCloseable {

  private static final Pattern DIAL = Pattern.compile("dial (wss?://\\S+)");
  private static final Pattern ADMIN = Pattern.compile("admin listener on http://[^:]+:(\\d+)");

  private final Process process;
  private final Path out;
  private final Path err;
  /** Its {@code --auth-tokens} file, whose first token scrapes {@code /metrics}; null without one. */
  private final Path tokens;
  private String url;

  private TunnelServerJar(Process process, Path out, Path err, Path tokens) {
    this.process = process;
    this.out = out;
    this.err = err;
    this.tokens = tokens;
  }

  /** The jar {@code mvn package} built in the tunnel-gateway module. */
  static File jar() {
    File jar = Paths.get("..", "tunnel-gateway", "target", "tunnel-server.jar").toAbsolutePath().normalize().toFile();
    if (!jar.isFile()) {
      throw new AssertionError(jar + " is missing: run the build from the repository root (mvn -B verify), which "
          + "packages tunnel-gateway before these tests");
    }
    return jar;
  }

  /** Starts the jar with {@code args} and extra environment variables; does not wait for it. */
  static TunnelServerJar start(Map<String, String> env, String... args) throws IOException {
    return start(List.of(), env, args);
  }

  /** Starts the jar in a JVM with {@code jvmOptions} (such as {@code -Dname=value}); does not wait for it. */
  static TunnelServerJar start(List<String> jvmOptions, Map<String, String> env, String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of(Paths.get(System.getProperty("java.home"), "bin", "java")
        .toString()));
    command.addAll(jvmOptions);
    // As the build's own tests: every buffer tracked, and a report fails the test (close()).
    command.addAll(List.of("-Dio.netty.leakDetection.level=paranoid", "-jar", jar().getPath()));
    command.addAll(Arrays.asList(args));
    Path out = Files.createTempFile("tunnel-server", ".out");
    Path err = Files.createTempFile("tunnel-server", ".err");
    out.toFile().deleteOnExit();
    err.toFile().deleteOnExit();
    ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
    builder.environment().keySet().removeIf(k -> k.startsWith("TUNNEL_"));
    builder.environment().putAll(env);
    int tokensAt = command.indexOf("--auth-tokens");
    Path tokens = tokensAt >= 0 && tokensAt + 1 < command.size() ? Paths.get(command.get(tokensAt + 1)) : null;
    return new TunnelServerJar(builder.start(), out, err, tokens);
  }

  static TunnelServerJar start(String... args) throws IOException {
    return start(Map.of(), args);
  }

  /** Waits for the start-up line and returns the URL it names; fails with the output if the process exits first. */
  String awaitUrl() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    long pause = 10;
    while (System.nanoTime() < deadline) {
      Matcher m = DIAL.matcher(stdout());
      if (m.find()) {
        url = m.group(1);
        return url;
      }
      if (!process.isAlive()) {
        throw new AssertionError("tunnel-server exited with " + process.exitValue() + " before starting:\n"
            + stdout() + stderr());
      }
      Thread.sleep(pause);
      pause = Math.min(pause * 2, 200);
    }
    throw new AssertionError("tunnel-server printed no start-up line within 60 s:\n" + stdout() + stderr());
  }

  /** The port of the URL from the start-up line. */
  int port() {
    return Integer.parseInt(url.replaceAll("^wss?://[^:]+:(\\d+)/.*$", "$1"));
  }

  /** The port of the admin listener ({@code --admin-port}) that the start-up output names. */
  int adminPort() {
    Matcher m = ADMIN.matcher(stdout());
    if (!m.find()) {
      throw new AssertionError("no admin listener in the start-up output:\n" + stdout());
    }
    return Integer.parseInt(m.group(1));
  }

  /** Waits until stderr contains {@code text} (a log line), failing after a minute. */
  void awaitLog(String text) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!stderr().contains(text)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no log line containing '" + text + "' within 60 s:\n" + stderr());
      }
      Thread.sleep(20);
    }
  }

  /** The process id, for {@code jcmd}. */
  long pid() {
    return process.pid();
  }

  /**
   * The text of {@code /metrics} on {@code metricsPort}, scraped as Prometheus would: with the first token of the
   * jar's {@code --auth-tokens} file, if it has one (the public port shows metrics only with a token then).
   */
  String metrics(int metricsPort) throws IOException {
    java.net.URLConnection c = java.net.URI.create("http://127.0.0.1:" + metricsPort + "/metrics").toURL()
        .openConnection();
    if (tokens != null) {
      String token = Files.readAllLines(tokens).stream().map(String::trim)
          .filter(line -> !line.isEmpty() && !line.startsWith("#")).findFirst()
          .orElseThrow(() -> new AssertionError(tokens + " lists no token to scrape /metrics with"))
          .split("\\s+")[0];
      c.setRequestProperty("Authorization", "Bearer " + token);
    }
    try (java.io.InputStream in = c.getInputStream()) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /**
   * The text of {@code /metrics} on {@code metricsPort} once it shows {@code shown}, failing after a minute: the
   * gateway counts a call once its status has left, so a client that has just read the status may scrape before.
   */
  String awaitMetrics(int metricsPort, Predicate<String> shown) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    String metrics = metrics(metricsPort);
    while (!shown.test(metrics)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("/metrics did not show what was expected within 60 s:\n" + metrics);
      }
      Thread.sleep(20);
      metrics = metrics(metricsPort);
    }
    return metrics;
  }

  /**
   * The process's memory after a full GC ({@code jcmd PID GC.run}), read from its {@code /metrics} on {@code port}:
   * {@code wsgrpc_jvm_heap_used_bytes}, {@code wsgrpc_netty_direct_memory_used_bytes} and the pooled allocator's
   * direct memory.
   */
  Memory memory(int metricsPort) throws IOException, InterruptedException {
    Process gc = new ProcessBuilder(Paths.get(System.getProperty("java.home"), "bin", "jcmd").toString(),
        String.valueOf(pid()), "GC.run").redirectErrorStream(true).start();
    String gcOut = new String(gc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!gc.waitFor(60, TimeUnit.SECONDS) || gc.exitValue() != 0) {
      throw new AssertionError("jcmd GC.run failed: " + gcOut);
    }
    String metrics = metrics(metricsPort);
    return new Memory(gauge(metrics, "wsgrpc_jvm_heap_used_bytes"),
        gauge(metrics, "wsgrpc_netty_direct_memory_used_bytes"),
        gauge(metrics, "wsgrpc_netty_allocator_used_bytes{allocator=\"pooled\",kind=\"direct\"}"));
  }

  private static long gauge(String metrics, String name) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + " (\\S+)$").matcher(metrics);
    if (!m.find()) {
      throw new AssertionError("no " + name + " in /metrics:\n" + metrics);
    }
    return (long) Double.parseDouble(m.group(1));
  }

  /** Heap in use after a full GC, Netty's direct memory, and what Netty's pooled allocator holds, in bytes. */
  record Memory(long heap, long direct, long pooledDirect) {
    @Override
    public String toString() {
      return "heap " + heap / 1024 + " KiB, Netty direct " + direct / 1024 + " KiB, pooled direct "
          + pooledDirect / 1024 + " KiB";
    }
  }

  /** Sends SIGTERM, as an orchestrator does. */
  void terminate() {
    process.destroy();
  }

  /** Waits for the process to exit and returns its exit code. */
  int awaitExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("tunnel-server still running after " + timeout + ":\n" + stderr());
    }
    return process.exitValue();
  }

  String stdout() {
    return read(out);
  }

  String stderr() {
    return read(err);
  }

  private static String read(Path p) {
    try {
      return new String(Files.readAllBytes(p), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(cannot read " + p + ")";
    }
  }

  /** Stops the process if it still runs, then fails if Netty reported a leaked buffer in its output. */
  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    String output = stdout() + stderr();
    int leak = output.indexOf("LEAK:");
    if (leak >= 0) {
      throw new AssertionError("tunnel-server reported a leaked buffer:\n"
          + output.substring(leak, Math.min(output.length(), leak + 4000)));
    }
  }
}
