package dev.wsgrpc.it;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.WRITE;

import com.sun.net.httpserver.HttpServer;
import dev.wsgrpc.testing.ExternalProgram;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;

/**
 * Runs the browser suite of {@code browser-tests/} (real npm client packages in Debian's Chromium, driven by
 * playwright-core): builds it once per build ({@code npm ci}, code generation from the project's .proto files, the
 * esbuild bundle), serves the page on loopback from its own origin, and turns each case the page ran into a JUnit
 * test. Skips when node, npm or chromium is missing ({@code .ci/run} installs them).
 */
final class BrowserHarness implements AutoCloseable {

  static final Path PROJECT = Paths.get("..", "browser-tests").toAbsolutePath().normalize();
  private static boolean built;

  private final HttpServer pageServer;

  private BrowserHarness(HttpServer pageServer) {
    this.pageServer = pageServer;
  }

  /** Builds the page if needed and serves it on 127.0.0.1; the page's origin is {@link #origin()}. */
  static BrowserHarness start() throws Exception {
    ExternalProgram.requireInstalled("chromium", "chromium");
    ExternalProgram.requireInstalled("node", "nodejs");
    ExternalProgram.requireInstalled("npm", "npm");
    build();
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    Path dist = PROJECT.resolve("dist");
    server.createContext("/", exchange -> {
      String name = exchange.getRequestURI().getPath().replaceFirst("^/", "");
      Path file = dist.resolve(name.isEmpty() ? "index.html" : name).normalize();
      if (!file.startsWith(dist) || !Files.isRegularFile(file)) {
        exchange.sendResponseHeaders(404, -1);
        exchange.close();
        return;
      }
      byte[] body = Files.readAllBytes(file);
      exchange.getResponseHeaders().set("Content-Type",
          name.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/html; charset=utf-8");
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    server.start();
    return new BrowserHarness(server);
  }

  /** The page's origin, e.g. {@code http://127.0.0.1:41234}: the one a server under test must allow. */
  String origin() {
    return "http://127.0.0.1:" + pageServer.getAddress().getPort();
  }

  /** Runs the page's cases of {@code suites} against {@code target} (e.g. {@code http://127.0.0.1:8080}). */
  List<CaseResult> run(String target, String... suites) throws IOException, InterruptedException {
    List<String> command = List.of("node", "driver.mjs", "--page", origin() + "/index.html", "--target", target,
        "--suite", String.join(",", suites));
    // The driver's output goes to a file, so that the wait below is bounded even when the driver hangs.
    Path out = Files.createTempFile("browser-driver", ".txt");
    try {
      Process process = new ProcessBuilder(command).directory(PROJECT.toFile())
          .redirectOutput(out.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      if (!process.waitFor(5, TimeUnit.MINUTES)) {
        // Chromium runs detached from node: end it too, or it outlives the test with its profile directory.
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
        throw new AssertionError("the browser driver did not finish within 5 minutes:\n"
            + new String(Files.readAllBytes(out), UTF_8));
      }
      String output = new String(Files.readAllBytes(out), UTF_8);
      List<CaseResult> results = new ArrayList<>();
      boolean done = false;
      for (String line : output.split("\n")) {
        String[] fields = line.split("\t", 5);
        if (fields.length == 5 && fields[0].equals("CASE")) {
          results.add(new CaseResult(fields[1], fields[2], fields[3].equals("pass"), fields[4]));
        } else if (line.equals("DONE\t" + results.size()) && !results.isEmpty()) {
          done = true;
        }
      }
      // A driver that broke off (Chromium crashed, the page threw) reports some cases or none, and no DONE line:
      // the cases it never ran must not pass unseen.
      if (!done) {
        throw new AssertionError("expected every case's result and DONE from the browser driver but got (exit "
            + process.exitValue() + "):\n" + output);
      }
      return results;
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /** Each case as a JUnit test, named after the case, failing with what the page saw. */
  static Stream<DynamicTest> tests(List<CaseResult> results) {
    return results.stream().map(r -> DynamicTest.dynamicTest(r.suite + ": " + r.name, () -> {
      if (!r.passed) {
        throw new AssertionError(r.suite + "/" + r.name + " failed in Chromium: " + r.detail);
      }
    }));
  }

  @Override
  public void close() {
    pageServer.stop(0);
  }

  /**
   * Runs npm once per build, though the suite is spread over two test JVMs: {@code npm ci} when the lockfile changed,
   * then code generation and the bundle. A file lock keeps the JVMs from running npm in the same directory at once,
   * and the build's id (the POM's {@code wsgrpc.buildId}) lets a JVM take the bundle the other one made in this build
   * instead of rewriting it while the other serves it. Without an id (a test run from an IDE) every JVM builds.
   */
  private static synchronized void build() throws IOException, InterruptedException {
    if (built) {
      return;
    }
    Path target = Files.createDirectories(Paths.get("target").toAbsolutePath());
    Path done = target.resolve("browser-tests.built");
    String buildId = System.getProperty("wsgrpc.buildId", "");
    if (buildId.contains("${")) {
      buildId = ""; // an IDE that copied the POM's property without resolving it
    }
    try (FileChannel lockFile = FileChannel.open(target.resolve("browser-tests.lock"), CREATE, WRITE);
        FileLock lock = lockFile.lock()) {
      if (buildId.isEmpty() || !Files.isRegularFile(done) || !Files.readString(done).equals(buildId)) {
        File modules = PROJECT.resolve("node_modules/.package-lock.json").toFile();
        if (!modules.isFile()
            || modules.lastModified() < PROJECT.resolve("package-lock.json").toFile().lastModified()) {
          npm("ci", "--no-audit", "--no-fund");
        }
        npm("run", "build");
        Files.writeString(done, buildId);
      }
    }
    built = true;
  }

  private static void npm(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("npm"));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).directory(PROJECT.toFile()).redirectErrorStream(true).start();
    String output;
    try (InputStream in = process.getInputStream()) {
      output = new String(in.readAllBytes(), UTF_8);
    }
    int exit = process.waitFor();
    Assumptions.assumeTrue(exit == 0 || !output.contains("ENOTFOUND"),
        "npm cannot reach its registry; skipping the browser suite:\n" + output);
    if (exit != 0) {
      throw new AssertionError("expected " + command + " to succeed but it exited " + exit + ":\n" + output);
    }
  }

  /** What one case saw in the browser. */
  static final class CaseResult {
    final String suite;
    final String name;
    final boolean passed;
    final String detail;

    CaseResult(String suite, String name, boolean passed, String detail) {
      this.suite = suite;
      this.name = name;
      this.passed = passed;
      this.detail = detail;
    }
  }
}
