package dev.wsgrpc.testing;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A real third-party program (websockify, nginx, haproxy, python3) started by a test on loopback, with its output
 * captured to a file that failures quote. Tests that need one call {@link #requireInstalled}: where the program
 * truly cannot be installed the test is skipped with a message saying so; {@code .ci/run} installs them all.
 */
public final class ExternalProgram implements AutoCloseable {

  /** The first port {@link #freePort} hands out: below Linux's ephemeral range (32768-60999 by default). */
  private static final int FIRST_PORT = 20_000;
  /** Ports in each JVM's block; six blocks end at 32,000. */
  private static final int BLOCK = 2_000;
  private static final int BLOCK_START = FIRST_PORT
      + Math.floorMod(Integer.getInteger("wsgrpc.portBlock", 0), 6) * BLOCK;
  /** The next port of this JVM's block, from a random place in it (a build before may have left some in use). */
  private static int nextPort = new java.util.Random().nextInt(BLOCK);

  private final String name;
  private final Process process;
  private final Path log;

  private ExternalProgram(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
  }

  /** Skips the calling test, saying how to install {@code program}, when it is not on the PATH. */
  public static String requireInstalled(String program, String debianPackage) {
    String path = which(program);
    Assumptions.assumeTrue(path != null, program + " is not installed (apt-get install " + debianPackage
        + "); .ci/run installs it. Skipping.");
    return path;
  }

  /**
   * A Python 3 that can {@code import grpc} (Debian's {@code python3-grpcio} installs into {@code /usr/bin/python3},
   * which a pyenv or venv {@code python3} earlier on the PATH cannot see); skips the calling test when there is none.
   */
  public static String requirePythonWithGrpc() throws InterruptedException {
    for (String candidate : new String[] {"/usr/bin/python3", which("python3")}) {
      if (candidate == null || !new File(candidate).canExecute()) {
        continue;
      }
      try {
        Process p = new ProcessBuilder(candidate, "-c", "import grpc").redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        if (p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) {
          return candidate;
        }
      } catch (IOException e) {
        // try the next one
      }
    }
    Assumptions.assumeTrue(false, "no python3 with grpcio (apt-get install python3-grpcio); .ci/run installs it. "
        + "Skipping.");
    return null;
  }

  /** The absolute path of {@code program} on the PATH, or null. */
  public static String which(String program) {
    String pathEnv = System.getenv("PATH");
    if (pathEnv == null) {
      return null;
    }
    for (String dir : pathEnv.split(File.pathSeparator)) {
      File f = new File(dir, program);
      if (f.isFile() && f.canExecute()) {
        return f.getAbsolutePath();
      }
    }
    return null;
  }

  /** Starts {@code command}, sending its stdout and stderr to a log file. */
  public static ExternalProgram start(String name, List<String> command) throws IOException {
    Path log = Files.createTempFile("wsgrpc-" + name, ".log");
    log.toFile().deleteOnExit();
    Process process = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .start();
    return new ExternalProgram(name, process, log);
  }

  /** Starts {@code command}, sending its stdout and stderr to a log file. */
  public static ExternalProgram start(String name, String... command) throws IOException {
    return start(name, Arrays.asList(command));
  }

  /**
   * Waits until {@code port} on loopback accepts connections (the program is ready), failing with the program's
   * output if it exits first or {@code timeout} passes. A program that fails to get ready (or whose wait is
   * interrupted, as by a test's timeout) is killed: the caller never gets it to close, and it would outlive the JVM.
   */
  public ExternalProgram awaitListening(int port, Duration timeout) throws InterruptedException {
    boolean listening = false;
    try {
      long deadline = System.nanoTime() + timeout.toNanos();
      long pauseMillis = 10;
      while (System.nanoTime() < deadline) {
        if (!process.isAlive()) {
          throw new AssertionError(name + " exited with " + process.exitValue() + " before listening on " + port
              + ":\n" + output());
        }
        try (Socket s = new Socket()) {
          s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
          listening = true;
          return this;
        } catch (IOException notYet) {
          // The program is still starting: poll again with a growing pause.
          Thread.sleep(pauseMillis);
          pauseMillis = Math.min(pauseMillis * 2, 200);
        }
      }
      throw new AssertionError(name + " did not listen on " + port + " within " + timeout + ":\n" + output());
    } finally {
      if (!listening) {
        process.destroyForcibly();
      }
    }
  }

  /** What the program has printed so far. */
  public String output() {
    try {
      return new String(Files.readAllBytes(log), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e + ")";
    }
  }

  /** The running process. */
  public Process process() {
    return process;
  }

  /** Stops the program (SIGTERM, then SIGKILL after 10 s). */
  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  /**
   * A loopback port for a program that cannot be told to pick its own, or for nothing to listen on (a refused
   * connection). It is taken below the kernel's ephemeral range, where every port-0 bind and every outgoing
   * connection takes theirs, so nothing else in the build takes it before the program binds it or while the test
   * counts on its being closed; and each test JVM that runs beside another (integration-tests' forks) has a block
   * of 2,000 ports of its own ({@code wsgrpc.portBlock}, set by the POM to surefire's fork number). A port is
   * handed out only when a bind to it succeeds, and again only after the block's other 1,999. Callers still start
   * programs with {@link #awaitListening} and clear failures.
   */
  public static synchronized int freePort() throws IOException {
    for (int tries = 0; tries < BLOCK; tries++) {
      int port = BLOCK_START + nextPort;
      nextPort = (nextPort + 1) % BLOCK;
      try (ServerSocket s = new ServerSocket()) {
        s.setReuseAddress(false); // refused too while a connection of a run before waits in TIME_WAIT on it
        s.bind(new InetSocketAddress("127.0.0.1", port));
        return port;
      } catch (java.net.BindException inUse) {
        // taken by something else on this machine: the next one
      }
    }
    throw new IOException("expected a free loopback port in " + BLOCK_START + "-" + (BLOCK_START + BLOCK - 1)
        + " but every one was in use");
  }

  /** Convenience for building argument lists. */
  public static List<String> args(String... parts) {
    return new ArrayList<>(Arrays.asList(parts));
  }
}
