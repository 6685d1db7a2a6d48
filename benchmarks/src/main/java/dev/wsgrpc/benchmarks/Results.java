package dev.wsgrpc.benchmarks;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Everything one run measured, for {@link Report}. */
final class Results {

  /** A setup and, when it could not be measured, why. */
  record SetupInfo(String name, String description, String baseline, String notMeasured) {}

  /** The samples of one workload: setup name to metric name to one value per iteration. */
  static final class WorkloadResult {
    final Workload workload;
    final Map<String, Map<String, List<Double>>> samples = new LinkedHashMap<>();
    final Map<String, String> failures = new LinkedHashMap<>();
    String note;
    /** Samples measured again because the host took more CPU than allowed while they ran ({@link HostSteal}). */
    int remeasured;
    /** The largest share of CPU time stolen while a kept sample ran, NaN where steal is unknown. */
    double maxStealKept = Double.NaN;
    /** Kept samples that saw more steal than allowed, because every attempt did. */
    int keptNoisy;

    WorkloadResult(Workload workload) {
      this.workload = workload;
    }

    void add(String setup, Map<String, Double> values) {
      Map<String, List<Double>> bySetup = samples.computeIfAbsent(setup, s -> new LinkedHashMap<>());
      for (Workload.Metric m : workload.metrics()) {
        bySetup.computeIfAbsent(m.name(), k -> new ArrayList<>()).add(values.get(m.name()));
      }
      // Figures beside the metrics (e.g. the CPU breakdown of streams), kept for the report's own sections.
      values.forEach((name, value) -> {
        if (workload.metrics().stream().noneMatch(m -> m.name().equals(name))) {
          bySetup.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
        }
      });
    }

    List<Double> values(String setup, String metric) {
      Map<String, List<Double>> bySetup = samples.get(setup);
      return bySetup == null || failures.containsKey(setup) ? List.of() : bySetup.getOrDefault(metric, List.of());
    }
  }

  final Map<String, String> environment = new LinkedHashMap<>();
  final List<SetupInfo> setups = new ArrayList<>();
  final List<WorkloadResult> workloads = new ArrayList<>();
  final List<IdleTunnels.Result> idle = new ArrayList<>();
  final Map<String, String> idleFailures = new LinkedHashMap<>();
  /** The many idle tunnels (issue 17: 100,000) held by one server JVM, or null when not measured. */
  IdleTunnels.Result manyIdle;
  /** The same held by the gateway (tunnel-server.jar), kinds {@code gateway_proxy} and {@code gateway_relay}. */
  final List<IdleTunnels.Result> manyIdleGateway = new ArrayList<>();
  final List<Profiler.Profile> profiles = new ArrayList<>();
  /** {@link CodecCost}: the frame handlers alone. */
  final Map<String, Stats> codec = new LinkedHashMap<>();

  SetupInfo setup(String name) {
    return setups.stream().filter(s -> s.name().equals(name)).findFirst().orElse(null);
  }

  WorkloadResult workload(String id) {
    return workloads.stream().filter(w -> w.workload.id().equals(id)).findFirst().orElse(null);
  }

  Stats stats(String workload, String setup, String metric) {
    WorkloadResult w = workload(workload);
    return w == null ? Stats.of(List.of()) : Stats.of(w.values(setup, metric));
  }

  /** {@code setup} against its baseline, iteration by iteration. */
  Stats ratio(String workload, String setup, String metric) {
    WorkloadResult w = workload(workload);
    SetupInfo info = setup(setup);
    if (w == null || info == null || info.baseline() == null) {
      return Stats.of(List.of());
    }
    return Stats.of(Stats.ratios(w.values(setup, metric), w.values(info.baseline(), metric)));
  }

  IdleTunnels.Result idle(String kind) {
    return idle.stream().filter(r -> r.kind().equals(kind)).findFirst().orElse(null);
  }
}
