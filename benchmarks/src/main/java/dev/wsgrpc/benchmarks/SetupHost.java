package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.TestCertificates;
import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where one setup's workloads run: {@linkplain #inProcess in this JVM} beside every other setup, or {@linkplain
 * #forked in a JVM of its own} ({@link SetupWorker}), so that no setup runs on code the JIT compiled for the types
 * of another or collects another's garbage. {@link BenchmarkRun} drives both alike: open, warm up, calibrate, run
 * iterations, profile, close.
 */
abstract class SetupHost implements AutoCloseable {

  /** The setup; in a forked host an unstarted copy that gives its name, description, baseline and kind. */
  final Setup setup;

  private SetupHost(Setup setup) {
    this.setup = setup;
  }

  /** Starts {@code setup} in this JVM on the shared {@code transports}. */
  static SetupHost inProcess(Setup setup, Transports transports, BenchService service, TestCertificates certs,
      Path profileDir) throws Exception {
    setup.start(transports, service, certs);
    return new InProcess(setup, profileDir);
  }

  /**
   * Starts {@code setup} in a child JVM with this JVM's options, which warms itself up for {@code warmUp} per
   * {@linkplain SetupWorker#JVM_WARM_UP workload} before it answers; throws {@link Setup.NotMeasured} with the child's
   * reason when the setup cannot run there either.
   */
  static SetupHost forked(Setup setup, File gatewayJar, String gatewayCommand, Path profileDir, Duration warmUp)
      throws Exception {
    List<String> args = List.of(setup.name(), gatewayJar.getPath(), gatewayCommand, profileDir.toString(),
        Long.toString(warmUp.toMillis()));
    ChildJvm child = ChildJvm.start(SetupWorker.class, ChildJvm.inheritedOptions(), FILES, args);
    try {
      String answer = child.expect(SetupWorker.ANSWER);
      if (answer.equals(SetupWorker.ANSWER + SetupWorker.STARTED)) {
        return new Forked(setup, child);
      }
      String notMeasured = SetupWorker.ANSWER + SetupWorker.NOT_MEASURED + " ";
      throw new Setup.NotMeasured(answer.startsWith(notMeasured) ? answer.substring(notMeasured.length())
          : "its JVM answered '" + answer + "' (expected: " + SetupWorker.STARTED + ")");
    } catch (Exception e) {
      child.close();
      throw e;
    }
  }

  /** Files a setup's JVM may open: connections come and go by the thousand in the new-tunnel workloads. */
  private static final int FILES = 65_536;

  abstract void open(Workload workload) throws Exception;

  /** Warms {@code workload} up; returns what it learned for {@link Workload#calibrate}. */
  abstract double warmUp(Workload workload, Duration duration) throws Exception;

  abstract void calibrate(Workload workload, Duration iteration, double firstWarmUp) throws Exception;

  /** One iteration's figures. */
  abstract Map<String, Double> run(Workload workload, Duration duration) throws Exception;

  /** One more iteration, under a JFR recording; returns the recording's file. */
  abstract Path profile(Workload workload, Duration duration) throws Exception;

  abstract void close(Workload workload);

  /** The process the setup's client and server run in. */
  abstract long pid();

  /** Stops the setup (and its JVM, if it has one of its own). */
  @Override
  public abstract void close();

  private static final class InProcess extends SetupHost {
    private final Profiler profiler;

    InProcess(Setup setup, Path profileDir) {
      super(setup);
      this.profiler = new Profiler(profileDir);
    }

    @Override
    void open(Workload workload) throws Exception {
      workload.open(setup);
    }

    @Override
    double warmUp(Workload workload, Duration duration) throws Exception {
      return workload.warmUp(setup, duration);
    }

    @Override
    void calibrate(Workload workload, Duration iteration, double firstWarmUp) {
      workload.calibrate(iteration, firstWarmUp);
    }

    @Override
    Map<String, Double> run(Workload workload, Duration duration) throws Exception {
      return workload.run(setup, duration);
    }

    @Override
    Path profile(Workload workload, Duration duration) throws Exception {
      return profiler.recording(workload.id(), setup.name(), () -> workload.run(setup, duration));
    }

    @Override
    void close(Workload workload) {
      workload.close(setup);
    }

    @Override
    long pid() {
      return ProcessHandle.current().pid();
    }

    @Override
    public void close() {
      setup.close();
    }
  }

  private static final class Forked extends SetupHost {
    private final ChildJvm child;

    Forked(Setup setup, ChildJvm child) {
      super(setup);
      this.child = child;
    }

    /** Sends one command and returns the answer's text after {@code ok}, or throws the child's error. */
    private String ask(String... command) throws IOException {
      String answer = child.ask(String.join(" ", command), SetupWorker.ANSWER);
      String ok = SetupWorker.ANSWER + SetupWorker.OK;
      if (answer.equals(ok)) {
        return "";
      }
      if (answer.startsWith(ok + " ")) {
        return answer.substring(ok.length() + 1);
      }
      throw new IOException(setup.name() + "'s JVM: " + answer.substring(SetupWorker.ANSWER.length()));
    }

    @Override
    void open(Workload workload) throws IOException {
      ask(SetupWorker.OPEN, workload.id());
    }

    @Override
    double warmUp(Workload workload, Duration duration) throws IOException {
      return Double.parseDouble(ask(SetupWorker.WARM_UP, workload.id(), Long.toString(duration.toMillis())));
    }

    @Override
    void calibrate(Workload workload, Duration iteration, double firstWarmUp) throws IOException {
      ask(SetupWorker.CALIBRATE, workload.id(), Long.toString(iteration.toMillis()), Double.toString(firstWarmUp));
      workload.calibrate(iteration, firstWarmUp); // this JVM's copy, for the report's note
    }

    @Override
    Map<String, Double> run(Workload workload, Duration duration) throws IOException {
      return decode(ask(SetupWorker.RUN, workload.id(), Long.toString(duration.toMillis())));
    }

    @Override
    Path profile(Workload workload, Duration duration) throws IOException {
      return Paths.get(ask(SetupWorker.PROFILE, workload.id(), Long.toString(duration.toMillis())));
    }

    @Override
    void close(Workload workload) {
      try {
        ask(SetupWorker.CLOSE, workload.id());
      } catch (IOException e) {
        // The child has gone; it took the workload's channels with it.
      }
    }

    @Override
    long pid() {
      return child.process().pid();
    }

    /** Stops the child; throws if it reported leaked buffers (only ever under the build's paranoid detection). */
    @Override
    public void close() {
      String exited = null;
      try {
        exited = child.ask(SetupWorker.EXIT, SetupWorker.ANSWER + SetupWorker.EXITED);
      } catch (IOException gone) {
        // It ended already; nothing more to learn from it.
      }
      try {
        child.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      String none = SetupWorker.ANSWER + SetupWorker.EXITED + " 0 leaks";
      if (exited != null && !exited.equals(none)) {
        throw new IllegalStateException(setup.name() + "'s JVM " + exited.substring(SetupWorker.ANSWER.length())
            + " (Netty's LEAK reports are in its stderr, above)");
      }
    }
  }

  /** Figures as {@code name=value} pairs separated by spaces, as {@link SetupWorker} sends them. */
  static String encode(Map<String, Double> figures) {
    List<String> pairs = new ArrayList<>();
    figures.forEach((k, v) -> pairs.add(k + "=" + v));
    return String.join(" ", pairs);
  }

  static Map<String, Double> decode(String line) {
    Map<String, Double> figures = new LinkedHashMap<>();
    for (String pair : line.split(" ")) {
      int eq = pair.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("expected name=value pairs but got '" + line + "'");
      }
      figures.put(pair.substring(0, eq), Double.parseDouble(pair.substring(eq + 1)));
    }
    return figures;
  }
}
