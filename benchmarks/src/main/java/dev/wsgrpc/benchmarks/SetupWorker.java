package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.NettyLeakCheck;
import dev.wsgrpc.testing.TestCertificates;
import io.netty.util.ResourceLeakDetector;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One setup in a JVM of its own ({@link SetupHost#forked}): {@code SetupWorker SETUP GATEWAY_JAR GATEWAY_COMMAND
 * PROFILE_DIR WARM_UP_MILLIS}. Starts the setup with its own event loops, service and certificates, warms the JVM up
 * ({@link #JVM_WARM_UP}), answers {@code started} (or {@code not-measured REASON}), then runs the commands that
 * arrive on stdin one at a time:
 * {@code open ID}, {@code warm-up ID MILLIS} (answers the warm-up's figure), {@code calibrate ID MILLIS FIGURE},
 * {@code run ID MILLIS} (answers {@code name=value} pairs), {@code profile ID MILLIS} (answers the recording's file)
 * and {@code close ID}, each answered with {@code ok ...} or {@code error WHAT}. Answers start with {@value #ANSWER}
 * on stdout; anything else the setup prints goes to stderr. Stops the setup on {@code EXIT} or end of input, and
 * answers {@code exited N leaks} (Netty's leak reports under paranoid detection, printed to stderr) before it ends.
 */
public final class SetupWorker {

  static final String ANSWER = "@@ ";
  static final String STARTED = "started";
  static final String NOT_MEASURED = "not-measured";
  static final String OK = "ok";
  static final String ERROR = "error";
  static final String OPEN = "open";
  static final String WARM_UP = "warm-up";
  static final String CALIBRATE = "calibrate";
  static final String RUN = "run";
  static final String PROFILE = "profile";
  static final String CLOSE = "close";
  static final String EXIT = "EXIT";
  static final String EXITED = "exited";

  /**
   * What a fresh JVM runs, each for the warm-up time, before it says it has started: unary calls and streams, so
   * that a workload's own warm-up finds gRPC's and Netty's common paths compiled, as it would in a JVM that has
   * served for a while (and as it did when every setup shared one JVM). Without it, the first workload of a subset
   * run measured code still being compiled, and sized its iterations after a cold warm-up.
   */
  static final List<String> JVM_WARM_UP = List.of("unary_qps", "stream_upload_64kib", "stream_download_64kib");

  /** Held so that the level set on it sticks. */
  private static final java.util.logging.Logger GRPC_LOGGER = java.util.logging.Logger.getLogger("io.grpc");

  public static void main(String[] args) throws Exception {
    GRPC_LOGGER.setLevel(java.util.logging.Level.SEVERE);
    if (System.getProperty("io.netty.leakDetection.level") == null) {
      ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
    }
    // Under the build's tests (paranoid detection), a leak in this JVM fails the test that started it (EXITED).
    boolean leakCheck = ResourceLeakDetector.getLevel() == ResourceLeakDetector.Level.PARANOID;
    if (leakCheck) {
      NettyLeakCheck.watch();
    }
    PrintStream answers = System.out;
    System.setOut(System.err);
    Runtime.getRuntime().addShutdownHook(new Thread(
        () -> ProcessHandle.current().descendants().forEach(ProcessHandle::destroy), "bench-cleanup"));
    Setup setup = BenchmarkRun.newSetup(args[0], new File(args[1]), args[2]);
    Profiler profiler = new Profiler(Paths.get(args[3]));
    Duration warmUp = millis(args[4]);
    BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    try (Transports transports = new Transports(Runtime.getRuntime().availableProcessors())) {
      try {
        setup.start(transports, new BenchService(), TestCertificates.create());
        for (String id : JVM_WARM_UP) {
          Workload workload = BenchmarkRun.workload(id);
          workload.open(setup);
          try {
            workload.warmUp(setup, warmUp);
          } finally {
            workload.close(setup);
          }
        }
      } catch (Setup.NotMeasured e) {
        answer(answers, NOT_MEASURED + " " + e.getMessage());
        setup.close();
        return;
      } catch (Exception e) {
        answer(answers, NOT_MEASURED + " could not start: " + BenchmarkRun.describe(e));
        setup.close();
        return;
      }
      try {
        answer(answers, STARTED);
        Map<String, Workload> workloads = new HashMap<>();
        String line;
        while ((line = commands.readLine()) != null && !line.equals(EXIT)) {
          String[] words = line.split(" ");
          try {
            Workload workload = workloads.computeIfAbsent(words[1], BenchmarkRun::workload);
            answer(answers, OK + run(setup, profiler, workload, words));
          } catch (Exception e) {
            answer(answers, ERROR + " " + BenchmarkRun.describe(e));
          }
        }
      } finally {
        setup.close();
      }
    }
    List<String> leaks = leakCheck ? NettyLeakCheck.drainReports() : List.of();
    leaks.forEach(System.err::println);
    answer(answers, EXITED + " " + leaks.size() + " leaks");
  }

  /** Runs one command; returns the answer's text after {@code ok}, with its leading space. */
  private static String run(Setup setup, Profiler profiler, Workload workload, String[] words) throws Exception {
    switch (words[0]) {
      case OPEN:
        workload.open(setup);
        return "";
      case WARM_UP:
        return " " + workload.warmUp(setup, millis(words[2]));
      case CALIBRATE:
        workload.calibrate(millis(words[2]), Double.parseDouble(words[3]));
        return "";
      case RUN:
        return " " + SetupHost.encode(workload.run(setup, millis(words[2])));
      case PROFILE:
        Duration duration = millis(words[2]);
        return " " + profiler.recording(workload.id(), setup.name(), () -> workload.run(setup, duration));
      case CLOSE:
        workload.close(setup);
        return "";
      default:
        throw new IllegalArgumentException("command: " + words[0] + " (expected: one of " + OPEN + ", " + WARM_UP
            + ", " + CALIBRATE + ", " + RUN + ", " + PROFILE + ", " + CLOSE + ", EXIT)");
    }
  }

  private static Duration millis(String value) {
    return Duration.ofMillis(Long.parseLong(value));
  }

  private static void answer(PrintStream out, String line) {
    out.println(ANSWER + line);
    out.flush();
  }

  private SetupWorker() {}
}
