package dev.wsgrpc.benchmarks;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One thing the benchmark measures, run the same way over every setup. The runner opens each setup's channels,
 * warms up, then runs iterations round robin over the setups (so that a disturbance hits them alike), and closes.
 */
abstract class Workload {

  /** One figure a workload reports per iteration. */
  record Metric(String name, String unit, boolean higherIsBetter) {}

  /** A stable id for JSON, e.g. {@code "stream_upload_1mib"}. */
  abstract String id();

  /** A title for the report. */
  abstract String title();

  /** The figures of one iteration, the first being the headline. */
  abstract List<Metric> metrics();

  /**
   * Whether this workload runs over {@code setup}: every in-process setup, and the relay setups (another process in
   * the path) for the {@link #headline} workloads only, which keeps a full run short and its rounds tight.
   */
  boolean appliesTo(Setup setup) {
    return !(setup instanceof RelaySetup) || headline();
  }

  /** Whether this is one of the workloads the targets name (1 MiB streams, unary latency, QPS on one channel). */
  boolean headline() {
    return false;
  }

  /** Opens what iterations over {@code setup} use (channels, stubs). */
  void open(Setup setup) throws Exception {}

  /**
   * Runs about {@code duration} of work over {@code setup}, discarding the result; called before iterations. Returns
   * what {@link #calibrate} needs to know of this setup (a rate), or NaN when it needs nothing.
   */
  double warmUp(Setup setup, Duration duration) throws Exception {
    run(setup, duration);
    return Double.NaN;
  }

  /**
   * The warm-up goes on in slices until two slices in a row saw the JIT compiler work for less than this share of
   * their time ({@link #runUntilJitSettles}). Measured before then, each setup is measured at a different stage of its
   * compilation, and a JVM still compiling in the background slows whichever setup is measured beside it.
   */
  static final double SETTLED_JIT_SHARE = 0.02;

  /** At most this many slices ({@link #runUntilJitSettles}; 45 s in a full run), settled or not. */
  static final int MAX_SETTLING_SLICES = 15;

  /**
   * Runs {@code slice} of work over {@code setup} again and again until two slices in a row saw this JVM's JIT
   * compiler work for less than {@link #SETTLED_JIT_SHARE} of their time, or {@link #MAX_SETTLING_SLICES} have run.
   * For workloads whose code the shared warm-up leaves still compiling; does nothing where the JVM cannot tell.
   */
  final void runUntilJitSettles(Setup setup, Duration slice) throws Exception {
    CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
    if (jit == null || !jit.isCompilationTimeMonitoringSupported() || slice.isZero()) {
      return;
    }
    int quiet = 0;
    for (int i = 0; i < MAX_SETTLING_SLICES && quiet < 2; i++) {
      long compiledMillis = jit.getTotalCompilationTime();
      long start = System.nanoTime();
      run(setup, slice);
      double share = (jit.getTotalCompilationTime() - compiledMillis) * 1e6 / (System.nanoTime() - start);
      quiet = share < SETTLED_JIT_SHARE ? quiet + 1 : 0;
    }
  }

  /**
   * Called once every setup is warmed up, before the first iteration, with what the warm-up of the first setup
   * (a baseline) returned: every setup then runs iterations of the same size.
   */
  void calibrate(Duration iteration, double firstWarmUp) {}

  /**
   * Rounds of iterations, over every setup in turn as the measured ones, run once all setups are warmed up and
   * before the measured iterations, their results dropped (0 here): each setup's JVM waited idle while the others
   * warmed up, and code idle that long is compiled anew when it runs again.
   */
  int unmeasuredRounds() {
    return 0;
  }

  /** One iteration: about {@code duration} of work over {@code setup} (longer for slow setups). */
  abstract Map<String, Double> run(Setup setup, Duration duration) throws Exception;

  /** Releases what {@link #open} opened. */
  void close(Setup setup) {}
}
