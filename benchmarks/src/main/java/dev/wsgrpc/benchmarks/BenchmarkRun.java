package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.TestCertificates;
import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;

/** Runs the workloads over the setups side by side and collects {@link Results}. */
final class BenchmarkRun {

  /** How long and how often: quick (a sanity check under two minutes), full, or smoke (the build's test). */
  record Mode(String name, Duration warmUp, int iterations, Duration iteration, List<Integer> streamSizes,
      boolean eightChannels, int idleTunnels, List<String> idleKinds, List<String> setups, int codecMib,
      Set<String> profile) {

    static final List<String> ALL_SETUPS = List.of("h2c", "ws", "h2", "wss", "nginx", "gateway", "websockify",
        "gateway_h2c", "tcp_relay", "gateway_proxy", "gateway_proxy_h2c", "nginx_grpc", "haproxy_h2", "okhttp_h2c",
        "okhttp_ws", "okhttp_wss");

    static Mode quick() {
      return new Mode("quick", Duration.ofMillis(400), 3, Duration.ofMillis(200), List.of(64 * 1024, 1 << 20),
          true, 1000, List.of("h2c", "ws"), ALL_SETUPS, 128, Set.of());
    }

    static Mode full() {
      return new Mode("full", Duration.ofSeconds(3), 7, Duration.ofSeconds(1), List.of(1024, 64 * 1024, 1 << 20),
          true, 10_000, List.of("h2c", "ws", "h2", "wss"), ALL_SETUPS, 512,
          Set.of("stream_upload_1mib", "stream_download_1mib", "unary_qps"));
    }

    static Mode smoke() {
      return new Mode("smoke", Duration.ofMillis(100), 1, Duration.ofMillis(50), List.of(64 * 1024), false, 0,
          List.of(), List.of("h2c", "ws"), 4, Set.of());
    }

    Mode with(List<String> setups, int idleTunnels, List<String> idleKinds, Set<String> profile) {
      return new Mode(name, warmUp, iterations, iteration, streamSizes, eightChannels, idleTunnels, idleKinds, setups,
          codecMib, profile);
    }

    Mode withWarmUp(Duration warmUp) {
      return new Mode(name, warmUp, iterations, iteration, streamSizes, eightChannels, idleTunnels, idleKinds, setups,
          codecMib, profile);
    }

    String describe() {
      return name + ": per workload and setup " + warmUp.toMillis() + " ms warm-up (new tunnels and QPS on eight"
          + " channels: longer, then until the JIT compiler has settled), then " + iterations
          + " iterations of about " + iteration.toMillis() + " ms each, round robin over the setups";
    }
  }

  private final Mode mode;
  private final File gatewayJar;
  private final String gatewayCommand;
  private final Set<String> onlyWorkloads;
  private final Set<String> profileWorkloads;
  /** Profiles cover the tunnel and what it is compared with, not the bridges. */
  private static final Set<String> PROFILED_SETUPS = Set.of("h2c", "ws", "h2", "wss");
  private final Path profileDir;
  private final Consumer<String> log;
  /** A sample during which the host took a larger share of the CPU is measured again ({@link HostSteal}). */
  private double maxSteal;
  /** The default of {@link #maxSteal}: 3 %, well above a quiet host's background (below 1 %). */
  static final double DEFAULT_MAX_STEAL = 0.03;
  /** How often one sample is measured at most, the first time included. */
  private static final int ATTEMPTS = 5;
  /** How long to wait for the host to calm down before measuring a sample again. */
  private static final Duration QUIET_WAIT = Duration.ofSeconds(60);
  /** Where steal is read, and how long a window judges whether the host calmed down (a test's fake clock). */
  private Supplier<HostSteal.Reading> stealClock = HostSteal::now;
  private Duration quietWindow = HostSteal.WINDOW;
  private Duration quietWait = QUIET_WAIT;
  /** Idle ws tunnels for one server JVM to hold at the end of the run (issue 17: 100,000 in full runs), 0 for none. */
  private int manyIdleTunnels;
  /** Whether each setup runs in a JVM of its own ({@link SetupHost#forked}) rather than all in this one. */
  private boolean jvmPerSetup;

  BenchmarkRun(Mode mode, File gatewayJar, String gatewayCommand, Set<String> onlyWorkloads,
      Set<String> profileWorkloads, Path profileDir, Consumer<String> log) {
    this.mode = mode;
    this.gatewayJar = gatewayJar;
    this.gatewayCommand = gatewayCommand;
    this.onlyWorkloads = onlyWorkloads;
    this.profileWorkloads = profileWorkloads;
    this.profileDir = profileDir;
    this.log = log;
    this.manyIdleTunnels = mode.name().equals("full") ? 100_000 : 0;
    // A smoke run's numbers mean nothing: never wait for the host there.
    this.maxSteal = mode.name().equals("smoke") ? 1 : DEFAULT_MAX_STEAL;
  }

  /** Sets the share of CPU time the host may take during a sample before it is measured again; 1 for never. */
  BenchmarkRun maxSteal(double share) {
    if (!(share > 0 && share <= 1)) {
      throw new IllegalArgumentException("maxSteal: " + share + " (expected: > 0 and <= 1)");
    }
    this.maxSteal = share;
    return this;
  }

  /** Reads steal from {@code clock}, judges calm over {@code window} and waits for it {@code atMost}: for tests. */
  BenchmarkRun stealClock(Supplier<HostSteal.Reading> clock, Duration window, Duration atMost) {
    this.stealClock = clock;
    this.quietWindow = window;
    this.quietWait = atMost;
    return this;
  }

  /**
   * Runs each setup in a JVM of its own (true) or every setup in this JVM (false, the default here; the command
   * line's default is a JVM per setup).
   */
  BenchmarkRun jvmPerSetup(boolean own) {
    this.jvmPerSetup = own;
    return this;
  }

  /** Sets how many idle ws tunnels one server JVM holds at the end of the run; 0 for none. */
  BenchmarkRun manyIdleTunnels(int count) {
    this.manyIdleTunnels = count;
    return this;
  }

  List<Workload> workloads() {
    List<Workload> all = workloads(mode.eightChannels(), mode.streamSizes());
    all.removeIf(w -> !onlyWorkloads.isEmpty() && !onlyWorkloads.contains(w.id()));
    return all;
  }

  private static List<Workload> workloads(boolean eightChannels, List<Integer> streamSizes) {
    List<Workload> all = new ArrayList<>();
    all.add(new UnaryLatency());
    all.add(new UnaryQps(1));
    if (eightChannels) {
      all.add(new UnaryQps(8));
    }
    for (int size : streamSizes) {
      all.add(new StreamingThroughput(true, size));
      all.add(new StreamingThroughput(false, size));
    }
    all.add(new ConnectRate(1));
    all.add(new ConnectRate(ConnectRate.OPENERS));
    all.add(new FirstCall());
    return all;
  }

  /** The workload with {@code id}, of any mode. */
  static Workload workload(String id) {
    for (Workload w : workloads(true, List.of(1024, 64 * 1024, 1 << 20))) {
      if (w.id().equals(id)) {
        return w;
      }
    }
    throw new IllegalArgumentException("workload: " + id + " (expected: an id as in results.json)");
  }

  static Setup newSetup(String name, File gatewayJar, String gatewayCommand) {
    switch (name) {
      case "h2c": return DirectSetup.h2c();
      case "h2": return DirectSetup.h2();
      case "ws": return TunnelSetup.ws();
      case "wss": return TunnelSetup.wss();
      case "nginx": return new NginxSetup();
      case "gateway": return GatewaySetup.tunnel(gatewayJar, gatewayCommand);
      case "gateway_h2c": return GatewaySetup.nativeH2c(gatewayJar, gatewayCommand);
      case "tcp_relay": return new TcpRelaySetup();
      case "gateway_proxy": return GatewaySetup.proxyTunnel(gatewayJar, gatewayCommand);
      case "gateway_proxy_h2c": return GatewaySetup.proxyNativeH2c(gatewayJar, gatewayCommand);
      case "nginx_grpc": return new NginxGrpcSetup();
      case "haproxy_h2": return new HaproxyH2Setup();
      case "websockify": return new WebsockifySetup();
      case "okhttp_h2c": return OkHttpSetup.h2c();
      case "okhttp_ws": return OkHttpSetup.ws();
      case "okhttp_wss": return OkHttpSetup.wss();
      default: throw new IllegalArgumentException("setup: " + name + " (expected: one of " + Mode.ALL_SETUPS + ")");
    }
  }

  Results run(Results results) throws Exception {
    TestCertificates certs = TestCertificates.create();
    List<SetupHost> started = new ArrayList<>();
    results.environment.put("Transport", Transports.describeAvailable());
    results.environment.put("JVMs", jvmPerSetup
        ? "each setup in a JVM of its own (client and server), with this JVM's options"
        : "every setup in this one JVM");
    try (Transports transports = jvmPerSetup ? null : new Transports(Runtime.getRuntime().availableProcessors())) {
      BenchService service = new BenchService();
      for (String name : mode.setups()) {
        Setup setup = newSetup(name, gatewayJar, gatewayCommand);
        String problem = null;
        try {
          started.add(jvmPerSetup ? SetupHost.forked(setup, gatewayJar, gatewayCommand, profileDir, mode.warmUp())
              : SetupHost.inProcess(setup, transports, service, certs, profileDir));
        } catch (Setup.NotMeasured e) {
          problem = e.getMessage();
          setup.close();
        } catch (Exception e) {
          problem = "could not start: " + e;
          setup.close();
        }
        results.setups.add(new Results.SetupInfo(setup.name(), setup.description(), setup.baseline(), problem));
        log.accept("setup " + name + (problem == null ? " started" : " not measured: " + problem));
      }
      try {
        for (Workload workload : workloads()) {
          runWorkload(workload, started, results);
        }
      } finally {
        for (SetupHost host : started) {
          host.close();
        }
      }
    }
    if (mode.codecMib() > 0) {
      // After the workloads: its EmbeddedChannels would otherwise teach the compiler types the real runs never see.
      log.accept("frame handlers alone: " + mode.codecMib() + " MiB per round");
      results.codec.putAll(CodecCost.measure(3, mode.codecMib()));
      results.codec.forEach((k, v) -> log.accept("  " + k + ": " + Report.range(v)));
    }
    IdleTunnels idle = new IdleTunnels(certs);
    for (String kind : mode.idleKinds()) {
      try {
        log.accept("idle: " + mode.idleTunnels() + " " + kind + " connections");
        IdleTunnels.Result r = idle.measure(kind, mode.idleTunnels());
        results.idle.add(r);
        log.accept(String.format("idle %s: %d held, %.0f heap bytes and %.0f RSS bytes each", kind, r.held(),
            r.heapPerConnection(), r.rssPerConnection()));
      } catch (Exception e) {
        results.idleFailures.put(kind, e.toString());
        log.accept("idle " + kind + " failed: " + e);
      }
    }
    if (manyIdleTunnels > 0) {
      try {
        log.accept("idle: " + manyIdleTunnels + " ws tunnels held by one server JVM");
        IdleTunnels.Result r = idle.measure("ws", manyIdleTunnels);
        results.manyIdle = r;
        log.accept(String.format("idle ws (many): %d held, %.0f heap bytes and %.0f RSS bytes each%s", r.held(),
            r.heapPerConnection(), r.rssPerConnection(), r.note() == null ? "" : "; " + r.note()));
      } catch (Exception e) {
        results.idleFailures.put("ws, " + manyIdleTunnels, e.toString());
        log.accept("idle ws (many) failed: " + e);
      }
      for (String gatewayMode : List.of("proxy", "relay")) {
        if (!gatewayJar.isFile()) {
          results.idleFailures.put("gateway_" + gatewayMode + ", " + manyIdleTunnels, "not measured: " + gatewayJar
              + " does not exist (build tunnel-gateway first)");
          continue;
        }
        try {
          log.accept("idle: " + manyIdleTunnels + " ws tunnels held by the gateway in " + gatewayMode + " mode");
          IdleTunnels.Result r = idle.measureGateway(gatewayJar, gatewayCommand, gatewayMode, manyIdleTunnels);
          results.manyIdleGateway.add(r);
          log.accept(String.format("idle %s (many): %d held, %.0f heap bytes and %.0f RSS bytes each%s", r.kind(),
              r.held(), r.heapPerConnection(), r.rssPerConnection(), r.note() == null ? "" : "; " + r.note()));
        } catch (Exception e) {
          results.idleFailures.put("gateway_" + gatewayMode + ", " + manyIdleTunnels, describe(e));
          log.accept("idle gateway_" + gatewayMode + " (many) failed: " + describe(e));
        }
      }
    }
    return results;
  }

  /**
   * One sample of {@code workload} over {@code setup}, measured again (after waiting for the host to calm down) while
   * the host's hypervisor took more than {@link #maxSteal} of the CPU time during it, at most {@value #ATTEMPTS}
   * times in all; the last attempt is kept whatever it saw, and counted.
   */
  private Map<String, Double> sample(Workload workload, SetupHost host, Results.WorkloadResult result)
      throws Exception {
    for (int attempt = 1; ; attempt++) {
      HostSteal.Reading before = stealClock.get();
      Map<String, Double> values = host.run(workload, mode.iteration());
      double stolen = HostSteal.share(before, stealClock.get());
      if (!(stolen > maxSteal) || attempt == ATTEMPTS) {
        if (!Double.isNaN(stolen)) {
          result.maxStealKept = Double.isNaN(result.maxStealKept) ? stolen : Math.max(result.maxStealKept, stolen);
        }
        if (stolen > maxSteal) {
          result.keptNoisy++;
        }
        return values;
      }
      result.remeasured++;
      log.accept(String.format(Locale.ROOT, "  %s: the host took %.0f%% of the CPU during the sample; "
          + "measuring it again", host.setup.name(), stolen * 100));
      HostSteal.awaitQuiet(stealClock, maxSteal, quietWindow, quietWait);
    }
  }

  /** An exception and its causes on one line. */
  static String describe(Throwable e) {
    StringBuilder out = new StringBuilder(String.valueOf(e));
    for (Throwable c = e.getCause(); c != null && out.length() < 600; c = c.getCause()) {
      out.append(" <- ").append(c);
    }
    return out.toString().replace('\n', ' ');
  }

  /**
   * Warms every setup {@code workload} applies to up, runs its unmeasured rounds, then the measured iterations, round
   * robin over the setups, into {@code results}.
   */
  void runWorkload(Workload workload, List<SetupHost> all, Results results) throws Exception {
    List<SetupHost> hosts = new ArrayList<>();
    for (SetupHost host : all) {
      if (workload.appliesTo(host.setup)) {
        hosts.add(host);
      }
    }
    Results.WorkloadResult result = new Results.WorkloadResult(workload);
    results.workloads.add(result);
    log.accept("workload " + workload.id());
    List<SetupHost> usable = new ArrayList<>();
    double firstWarmUp = Double.NaN;
    for (SetupHost host : hosts) {
      String name = host.setup.name();
      result.samples.put(name, new java.util.LinkedHashMap<>());
      try {
        host.open(workload);
        double figure = host.warmUp(workload, mode.warmUp());
        if (usable.isEmpty()) {
          firstWarmUp = figure;
        }
        usable.add(host);
      } catch (Exception e) {
        result.failures.put(name, "warm-up failed: " + describe(e));
        log.accept("  " + name + " failed during warm-up: " + describe(e));
        host.close(workload);
      }
    }
    for (SetupHost host : usable) {
      try {
        host.calibrate(workload, mode.iteration(), firstWarmUp);
      } catch (Exception e) {
        result.failures.put(host.setup.name(), "calibration failed: " + describe(e));
      }
    }
    if (workload instanceof StreamingThroughput st) {
      st.calibrate(mode.iteration(), firstWarmUp);
      result.note = st.count() + " messages per iteration.";
    }
    for (int i = -workload.unmeasuredRounds(); i < mode.iterations(); i++) {
      for (int k = 0; k < usable.size(); k++) {
        SetupHost host = usable.get(Math.floorMod(i + k, usable.size()));
        String name = host.setup.name();
        if (result.failures.containsKey(name)) {
          continue;
        }
        try {
          if (i < 0) {
            host.run(workload, mode.iteration());
            continue;
          }
          result.add(name, sample(workload, host, result));
        } catch (Exception e) {
          result.failures.put(name, describe(e));
          log.accept("  " + name + " failed: " + describe(e));
        }
      }
    }
    for (SetupHost host : usable) {
      String name = host.setup.name();
      if ((profileWorkloads.contains(workload.id()) || profileWorkloads.contains("all"))
          && PROFILED_SETUPS.contains(name)) {
        try {
          results.profiles.add(Profiler.summarise(workload.id(), name, host.profile(workload, mode.iteration())));
        } catch (Exception e) {
          log.accept("  profile of " + name + " failed: " + e);
        }
      }
      host.close(workload);
    }
    for (SetupHost host : usable) {
      String name = host.setup.name();
      if (!result.failures.containsKey(name)) {
        Workload.Metric head = workload.metrics().get(0);
        Stats v = results.stats(workload.id(), name, head.name());
        Stats r = results.ratio(workload.id(), name, head.name());
        log.accept(String.format("  %-10s %s %s%s", name, Report.range(v), head.unit(),
            r.isEmpty() ? "" : "  ratio " + Report.range(r)));
      }
    }
  }
}
