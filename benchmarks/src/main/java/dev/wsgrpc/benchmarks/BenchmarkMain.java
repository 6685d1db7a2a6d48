package dev.wsgrpc.benchmarks;

import io.netty.util.ResourceLeakDetector;
import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The side-by-side benchmark: every setup and workload in one run, written to {@code docs/BENCHMARKS.md} and
 * {@code benchmarks/target/results.json}. Run from the repository root:
 *
 * <pre>
 * mvn -B -q -pl benchmarks -am package -DskipTests
 * java -XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints -jar benchmarks/target/benchmarks.jar --full
 *   # or --quick, under two minutes; the two -XX flags make the JFR profiles exact (optional)
 * </pre>
 */
@Command(name = "benchmarks", mixinStandardHelpOptions = true,
    description = "Runs the tunnel against direct gRPC and generic bridges, side by side, and writes the report.")
public final class BenchmarkMain implements Callable<Integer> {

  @Option(names = "--full", description = "The full run (about 45 minutes on two cores, 5-10 of them holding the "
      + "idle tunnels of issue 17: --many-idle-tunnels 0 skips those): what docs/BENCHMARKS.md should show.")
  boolean full;

  @Option(names = "--quick", description = "A sanity check in under two minutes (the default).")
  boolean quick;

  @Option(names = "--smoke", hidden = true, description = "Seconds-long run of h2c and ws only, for the build.")
  boolean smoke;

  @Option(names = "--repo", description = "The repository root (default: the current directory).")
  Path repo = Paths.get(".");

  @Option(names = "--markdown", description = "Where the Markdown report goes (default: REPO/docs/BENCHMARKS.md; "
      + "'-' for none).")
  String markdown;

  @Option(names = "--json", description = "Where the JSON results go (default: REPO/benchmarks/target/results.json).")
  String json;

  @Option(names = "--setups", split = ",", description = "Only these setups (default: all): ${COMPLETION-CANDIDATES}")
  List<String> setups = new ArrayList<>();

  @Option(names = "--workloads", split = ",", description = "Only these workload ids (default: all).")
  Set<String> workloads = new HashSet<>();

  @Option(names = "--idle-tunnels", description = "How many idle tunnels to hold (default: 10000 full, 1000 quick; "
      + "0 to skip).")
  Integer idleTunnels;

  @Option(names = "--many-idle-tunnels", description = "How many idle ws tunnels one server JVM holds at the end "
      + "(default: 100000 full, 0 otherwise; cut to what the file limit allows).")
  Integer manyIdleTunnels;

  @Option(names = "--max-steal", description = "The share of CPU time the host (hypervisor) may take from this "
      + "machine during a sample; a sample that saw more is measured again, up to 5 times (default: 0.03; 1 to "
      + "never measure again).")
  double maxSteal = BenchmarkRun.DEFAULT_MAX_STEAL;

  @Option(names = "--idle-kinds", split = ",", description = "Which connections to hold idle (default: h2c,ws,h2,wss "
      + "full; h2c,ws quick).")
  List<String> idleKinds = new ArrayList<>();

  @Option(names = "--profile", split = ",", description = "Workload ids to profile with JFR over h2c, ws, h2 and "
      + "wss ('all' for every workload, 'none' for none; default: the 1 MiB streams and QPS in --full, none otherwise).")
  Set<String> profile = new HashSet<>();

  @Option(names = "--warm-up-ms", description = "The warm-up per workload and setup, in milliseconds (default: 3000 "
      + "full, 400 quick).")
  Long warmUpMillis;

  @Option(names = "--one-jvm", description = "Run every setup in this JVM, one after the other on the same event "
      + "loops (runs 1-12), instead of each setup in a JVM of its own (the default).")
  boolean oneJvm;

  @Option(names = "--gateway-jar", description = "The gateway (default: REPO/tunnel-gateway/target/tunnel-server.jar).")
  File gatewayJar;

  @Option(names = "--gateway-command", description = "The gateway's command line; {java}, {jar}, {port}, "
      + "{upstream} and {mode} (relay or proxy, by setup) are replaced (default: " + GatewaySetup.DEFAULT_COMMAND
      + ").")
  String gatewayCommand = GatewaySetup.DEFAULT_COMMAND;

  @Override
  public Integer call() throws Exception {
    BenchmarkRun.Mode mode = smoke ? BenchmarkRun.Mode.smoke() : full ? BenchmarkRun.Mode.full()
        : BenchmarkRun.Mode.quick();
    mode = mode.with(setups.isEmpty() ? mode.setups() : setups,
        idleTunnels != null ? idleTunnels : mode.idleTunnels(),
        idleTunnels != null && idleTunnels == 0 ? List.of() : idleKinds.isEmpty() ? mode.idleKinds() : idleKinds,
        profile.isEmpty() ? mode.profile() : profile.contains("none") ? Set.of() : profile);
    if (warmUpMillis != null) {
      if (warmUpMillis < 0) {
        throw new CommandLine.ParameterException(new CommandLine(this),
            "--warm-up-ms: " + warmUpMillis + " (expected: >= 0)");
      }
      mode = mode.withWarmUp(java.time.Duration.ofMillis(warmUpMillis));
    }
    Path root = repo.toAbsolutePath().normalize();
    Results results = new Results();
    environment(results, mode);
    String loadBefore = loadAverage();
    HostSteal.Reading stealBefore = HostSteal.now();
    long started = System.nanoTime();
    // Interrupted (Ctrl-C, kill), the run leaves no gateway, nginx, haproxy or websockify behind.
    Runtime.getRuntime().addShutdownHook(new Thread(
        () -> ProcessHandle.current().descendants().forEach(ProcessHandle::destroy), "bench-cleanup"));
    BenchmarkRun run = new BenchmarkRun(mode,
        gatewayJar != null ? gatewayJar : root.resolve("tunnel-gateway/target/tunnel-server.jar").toFile(),
        gatewayCommand, workloads, mode.profile(), root.resolve("benchmarks/target/profiles"),
        line -> System.out.println(line));
    if (manyIdleTunnels != null) {
      run.manyIdleTunnels(manyIdleTunnels);
    }
    if (!smoke) {
      run.maxSteal(maxSteal);
    }
    run.jvmPerSetup(!oneJvm);
    run.run(results);
    results.environment.put("Load average (1/5/15 min) before / after", loadBefore + " / " + loadAverage());
    double stolen = HostSteal.since(stealBefore);
    results.environment.put("CPU time taken by the host (steal) over the run", Double.isNaN(stolen)
        ? "unknown (no /proc/stat)" : String.format(Locale.ROOT, "%.1f %% (a sample that saw more than %.0f %% "
            + "was measured again)", stolen * 100, maxSteal * 100));
    results.environment.put("Duration", String.format(Locale.ROOT, "%.0f s", (System.nanoTime() - started) / 1e9));
    Path md = "-".equals(markdown) ? null
        : markdown != null ? Paths.get(markdown) : root.resolve(smoke ? "benchmarks/target/smoke.md"
            : "docs/BENCHMARKS.md");
    Path js = json != null ? Paths.get(json)
        : root.resolve(smoke ? "benchmarks/target/smoke-results.json" : "benchmarks/target/results.json");
    new Report(results).write(md, js, root.resolve("benchmarks/analysis.md"));
    System.out.println("wrote " + (md == null ? "" : md + " and ") + js);
    return 0;
  }

  private static void environment(Results results, BenchmarkRun.Mode mode) {
    String command = String.join(" ", ProcessHandle.current().info().arguments().map(List::of).orElse(List.of()));
    results.environment.put("command", "mvn -B -q -pl benchmarks -am package -DskipTests && java "
        + "-XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints -jar benchmarks/target/benchmarks.jar "
        + ("quick".equals(mode.name()) ? "--quick" : "--" + mode.name())
        + (command.isEmpty() ? "" : "\n# this run: java " + command));
    results.environment.put("Date", ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
    results.environment.put("Mode", mode.describe());
    results.environment.put("Machine", cpu() + ", " + Runtime.getRuntime().availableProcessors() + " cores, "
        + memory() + ", " + System.getProperty("os.name") + " " + System.getProperty("os.version"));
    results.environment.put("JDK", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version")
        + " (" + System.getProperty("java.vm.vendor") + ")");
    results.environment.put("JVM options", String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments()));
    results.environment.put("Versions", "grpc-java " + io.grpc.internal.GrpcUtil.IMPLEMENTATION_VERSION
        + ", Netty " + version("io.netty", "netty-codec-http"));
  }

  /** The version of a dependency from the Maven metadata inside the jar, or "?". */
  private static String version(String group, String artifact) {
    String resource = "/META-INF/maven/" + group + "/" + artifact + "/pom.properties";
    try (java.io.InputStream in = BenchmarkMain.class.getResourceAsStream(resource)) {
      if (in == null) {
        return "?";
      }
      java.util.Properties p = new java.util.Properties();
      p.load(in);
      return p.getProperty("version", "?");
    } catch (java.io.IOException e) {
      return "?";
    }
  }

  private static String cpu() {
    try {
      for (String line : Files.readAllLines(Paths.get("/proc/cpuinfo"), StandardCharsets.UTF_8)) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (Exception e) {
      // Not Linux.
    }
    return System.getProperty("os.arch");
  }

  private static String memory() {
    try {
      for (String line : Files.readAllLines(Paths.get("/proc/meminfo"), StandardCharsets.UTF_8)) {
        if (line.startsWith("MemTotal:")) {
          long kib = Long.parseLong(line.replaceAll("[^0-9]", ""));
          return String.format(Locale.ROOT, "%.0f GiB RAM", kib / 1024.0 / 1024.0);
        }
      }
    } catch (Exception e) {
      // Not Linux.
    }
    return "? RAM";
  }

  static String loadAverage() {
    try {
      String[] parts = new String(Files.readAllBytes(Paths.get("/proc/loadavg")), StandardCharsets.US_ASCII)
          .split(" ");
      return parts[0] + " " + parts[1] + " " + parts[2];
    } catch (Exception e) {
      return "?";
    }
  }

  /** Held so that the level set on it sticks. */
  private static final java.util.logging.Logger GRPC_LOGGER = java.util.logging.Logger.getLogger("io.grpc");

  public static void main(String[] args) {
    // gRPC logs through java.util.logging; streams cancelled at the end of an iteration are not news.
    GRPC_LOGGER.setLevel(java.util.logging.Level.SEVERE);
    // Benchmark numbers, not leak hunting: the build's tests run the same code with paranoid detection.
    if (System.getProperty("io.netty.leakDetection.level") == null) {
      ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
    }
    System.exit(new CommandLine(new BenchmarkMain()).execute(args));
  }
}
