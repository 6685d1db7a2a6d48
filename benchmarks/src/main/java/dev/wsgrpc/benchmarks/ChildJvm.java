package dev.wsgrpc.benchmarks;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A child JVM on this JVM's class path, talked to by lines: commands on its stdin, answers on its stdout (lines that
 * do not start with the expected prefix are skipped), its stderr passed through. Used for what must not share this
 * JVM's heap, compiled code or file limit: the idle-tunnel servers and clients, and a setup measured in a JVM of its
 * own ({@link SetupWorker}).
 */
final class ChildJvm implements AutoCloseable {

  private final Process process;
  private final BufferedReader out;
  private final Writer in;

  private ChildJvm(Process process) {
    this.process = process;
    this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
  }

  /**
   * Starts {@code main} with heap option {@code heap}, Netty's leak detector off and a file limit of {@code files}
   * (or the hard limit, when that is lower).
   */
  static ChildJvm start(Class<?> main, String heap, int files, List<String> args) throws IOException {
    return start(main, List.of(heap, "-Dio.netty.leakDetection.level=disabled"), files, args);
  }

  /** Starts {@code main} with {@code jvmOptions} and a file limit of {@code files} (or the hard limit if lower). */
  static ChildJvm start(Class<?> main, List<String> jvmOptions, int files, List<String> args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add("sh");
    command.add("-c");
    command.add(raiseFileLimit(files) + "; exec \"$@\"");
    command.add("sh");
    command.add(new File(System.getProperty("java.home"), "bin/java").getPath());
    if (Runtime.version().feature() >= 22) {
      // What the benchmark jar's manifest gives this JVM (Enable-Native-Access), which a -cp child does not read.
      command.add("--enable-native-access=ALL-UNNAMED");
    }
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(main.getName());
    command.addAll(args);
    ProcessBuilder builder = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
    return new ChildJvm(builder.start());
  }

  /**
   * This JVM's own options that a child measuring the same code should run with too (heap, collector, compiler,
   * system properties and Java 23+'s {@code sun.misc.Unsafe} memory-access mode), without agents, debuggers or
   * recordings, which belong to this process only.
   */
  static List<String> inheritedOptions() {
    List<String> options = new ArrayList<>();
    for (String option : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if ((option.startsWith("-X") || option.startsWith("-D")
          || option.startsWith("--sun-misc-unsafe-memory-access=")) && !option.startsWith("-Xrunjdwp")
          && !option.startsWith("-Xdebug") && !option.startsWith("-XX:StartFlightRecording")
          && !option.startsWith("-XX:FlightRecorderOptions")) {
        options.add(option);
      }
    }
    return options;
  }

  /** Shell that raises the soft file limit to {@code wanted}, or to the hard limit when that is lower. */
  static String raiseFileLimit(int wanted) {
    return "ulimit -n " + wanted + " 2>/dev/null || ulimit -n \"$(ulimit -Hn)\"";
  }

  /** Waits for a line starting with {@code prefix}, failing if the child ends first. */
  String expect(String prefix) throws IOException {
    String line;
    while ((line = out.readLine()) != null) {
      if (line.startsWith(prefix)) {
        return line;
      }
    }
    throw new IOException("expected a line '" + prefix + " ...' from the child but it ended with "
        + (process.isAlive() ? "output closed" : "exit code " + exitCode()));
  }

  private int exitCode() {
    try {
      process.waitFor(10, TimeUnit.SECONDS);
      return process.exitValue();
    } catch (InterruptedException | IllegalThreadStateException e) {
      return -1;
    }
  }

  String ask(String command, String answerPrefix) throws IOException {
    send(command);
    return expect(answerPrefix);
  }

  void send(String line) throws IOException {
    in.write(line + "\n");
    in.flush();
  }

  /** The child's process, for its CPU time. */
  Process process() {
    return process;
  }

  @Override
  public void close() throws InterruptedException {
    try {
      send("EXIT");
    } catch (IOException gone) {
      // Already ended.
    }
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
