package dev.wsgrpc.benchmarks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Turns {@link Results} into {@code docs/BENCHMARKS.md} and {@code results.json}. */
final class Report {

  /** A target of the issues (7, 13), checked against one ratio of the run. */
  record Target(String what, String key, boolean atLeast, double threshold) {

    boolean met(double value) {
      return !Double.isNaN(value) && (atLeast ? value >= threshold : value <= threshold);
    }
  }

  static final List<Target> TARGETS = List.of(
      new Target("Download (1 MiB) ws / h2c", "throughput_ratio_ws_vs_h2c_download", true, 0.95),
      new Target("Download (1 MiB) wss / h2", "throughput_ratio_wss_vs_h2_download", true, 0.95),
      new Target("Upload (1 MiB, masked) ws / h2c", "throughput_ratio_ws_vs_h2c_upload", true, 0.85),
      new Target("Upload (1 MiB, masked) wss / h2", "throughput_ratio_wss_vs_h2_upload", true, 0.85),
      new Target("Unary p50 latency ws / h2c", "unary_p50_ratio_ws_vs_h2c", false, 1.05),
      new Target("Unary p99 latency ws / h2c", "unary_p99_ratio_ws_vs_h2c", false, 1.10),
      new Target("QPS, 64 calls on 1 channel, ws / h2c", "qps_ratio_ws_vs_h2c", true, 0.95),
      new Target("QPS, 64 calls on 8 channels, ws / h2c", "qps_8_channels_ratio_ws_vs_h2c", true, 0.95),
      new Target("Idle tunnels held by one server", "idle_tunnels_held", true, 10_000),
      new Target("Heap per idle tunnel (bytes)", "heap_bytes_per_idle_tunnel", false, 64 * 1024),
      new Target("Idle ws tunnels held by one server JVM (issue 17)", "idle_tunnels_held_100k", true, 100_000),
      new Target("Heap per idle ws tunnel, 100,000 held (bytes)", "heap_bytes_per_idle_tunnel_100k", false,
          16 * 1024),
      new Target("Gateway download (1 MiB) / h2c", "throughput_ratio_gateway_vs_h2c_download", true, 0.90),
      new Target("Gateway upload (1 MiB) / h2c", "throughput_ratio_gateway_vs_h2c_upload", true, 0.90),
      new Target("Gateway QPS (1 channel) / h2c", "qps_ratio_gateway_vs_h2c", true, 0.90),
      new Target("Proxy mode QPS (1 channel) / best of nginx grpc_pass and HAProxy h2", "qps_ratio_proxy_vs_best_l7",
          true, 1.0),
      new Target("Proxy mode upload (1 MiB) / best layer-7 proxy", "throughput_ratio_proxy_vs_best_l7_upload", true,
          1.0),
      new Target("Proxy mode download (1 MiB) / best layer-7 proxy", "throughput_ratio_proxy_vs_best_l7_download",
          true, 1.0),
      new Target("Proxy mode unary p50 / best layer-7 proxy", "unary_p50_ratio_proxy_vs_best_l7", false, 1.0),
      new Target("New tunnels per second ws / h2c", "new_tunnels_ratio_ws_vs_h2c", true, 0.95),
      new Target("Upload (1 MiB, masked) ws / h2c (issue 17)", "throughput_ratio_ws_vs_h2c_upload", true, 0.90),
      new Target("First call, round trips counted at the relay: ws − h2c", "first_call_extra_turns_ws_vs_h2c", false,
          1),
      new Target("First call, round trips counted at the relay: wss − h2", "first_call_extra_turns_wss_vs_h2", false,
          1),
      new Target("First call, time in round trips: ws − h2c (1 plus a fifth for processing)",
          "first_call_extra_round_trips_ws_vs_h2c", false, 1.2),
      new Target("First call, time in round trips: wss − h2 (1 plus a fifth for processing)",
          "first_call_extra_round_trips_wss_vs_h2", false, 1.2),
      new Target("Gateway relay CPU per GiB uploaded / haproxy TCP mode's",
          "gateway_cpu_per_gib_over_tcp_relay_upload", false, 1.0),
      new Target("Gateway relay CPU per GiB downloaded / haproxy TCP mode's",
          "gateway_cpu_per_gib_over_tcp_relay_download", false, 1.0),
      new Target("ws download ahead of websockify (ratio of ratios)", "ws_over_websockify_download", true, 1.5),
      new Target("ws upload ahead of websockify (ratio of ratios)", "ws_over_websockify_upload", true, 1.5));

  private final Results results;

  Report(Results results) {
    this.results = results;
  }

  /** The headline numbers: the keys issue 7 asks for, and a few more. */
  Map<String, Double> summary() {
    Map<String, Double> s = new LinkedHashMap<>();
    for (String setup : List.of("ws", "wss", "nginx", "gateway", "websockify", "gateway_h2c", "tcp_relay",
        "gateway_proxy", "gateway_proxy_h2c", "nginx_grpc", "haproxy_h2", "okhttp_ws", "okhttp_wss")) {
      Results.SetupInfo info = results.setup(setup);
      if (info == null || info.baseline() == null) {
        continue;
      }
      String vs = setup + "_vs_" + info.baseline();
      s.put("throughput_ratio_" + vs + "_upload", ratio("stream_upload_1mib", setup, "throughput"));
      s.put("throughput_ratio_" + vs + "_download", ratio("stream_download_1mib", setup, "throughput"));
      s.put("unary_p50_ratio_" + vs, ratio("unary_latency", setup, "p50"));
      s.put("unary_p99_ratio_" + vs, ratio("unary_latency", setup, "p99"));
      s.put("qps_ratio_" + vs, ratio("unary_qps", setup, "qps"));
      s.put("qps_8_channels_ratio_" + vs, ratio("unary_qps_8_channels", setup, "qps"));
    }
    s.put("new_tunnels_ratio_ws_vs_h2c", ratio("new_tunnels", "ws", "rate"));
    s.put("new_tunnels_ratio_wss_vs_h2", ratio("new_tunnels", "wss", "rate"));
    String parallel = ConnectRate.id(ConnectRate.OPENERS);
    s.put(parallel + "_ratio_ws_vs_h2c", ratio(parallel, "ws", "rate"));
    s.put(parallel + "_ratio_wss_vs_h2", ratio(parallel, "wss", "rate"));
    // CPU per new connection on each side (client threads, server threads): below 1 means the tunnel costs less.
    for (String side : List.of("client", "server")) {
      s.put("new_tunnel_" + side + "_cpu_ratio_ws_vs_h2c", ratio("new_tunnels", "ws", side + "_cpu"));
      s.put("new_tunnel_" + side + "_cpu_ratio_wss_vs_h2", ratio("new_tunnels", "wss", side + "_cpu"));
    }
    // Round trips to the first call through the latency relay (FirstCall): by time, as counted, and to the 1,000th.
    for (String setup : List.of("ws", "h2c", "wss", "h2")) {
      s.put("first_call_round_trips_" + setup, median("first_call", setup, "first_call_rtt"));
      s.put("first_call_ms_" + setup, median("first_call", setup, "first_call"));
      // The fewest over the iterations: a step slower than the relay's delay can only make a count higher.
      s.put("first_call_counted_round_trips_" + setup, results.stats("first_call", setup, "counted").min());
      s.put("call_1000_round_trips_" + setup, median("first_call", setup, "call_1000_rtt"));
    }
    for (String[] pair : List.of(new String[] {"ws", "h2c"}, new String[] {"wss", "h2"})) {
      String vs = pair[0] + "_vs_" + pair[1];
      s.put("first_call_extra_round_trips_" + vs,
          s.get("first_call_round_trips_" + pair[0]) - s.get("first_call_round_trips_" + pair[1]));
      s.put("first_call_extra_turns_" + vs,
          s.get("first_call_counted_round_trips_" + pair[0]) - s.get("first_call_counted_round_trips_" + pair[1]));
    }
    IdleTunnels.Result ws = results.idle("ws");
    s.put("idle_tunnels_held", ws == null ? Double.NaN : (double) ws.held());
    s.put("heap_bytes_per_idle_tunnel", ws == null ? Double.NaN : ws.heapPerConnection());
    s.put("rss_bytes_per_idle_tunnel", ws == null ? Double.NaN : ws.rssPerConnection());
    IdleTunnels.Result many = results.manyIdle;
    s.put("idle_tunnels_held_100k", many == null ? Double.NaN : (double) many.held());
    s.put("heap_bytes_per_idle_tunnel_100k", many == null ? Double.NaN : many.heapPerConnection());
    s.put("rss_bytes_per_idle_tunnel_100k", many == null ? Double.NaN : many.rssPerConnection());
    for (IdleTunnels.Result r : results.manyIdleGateway) {
      s.put("idle_tunnels_held_100k_" + r.kind(), (double) r.held());
      s.put("heap_bytes_per_idle_tunnel_100k_" + r.kind(), r.heapPerConnection());
      s.put("rss_bytes_per_idle_tunnel_100k_" + r.kind(), r.rssPerConnection());
    }
    IdleTunnels.Result h2c = results.idle("h2c");
    s.put("heap_bytes_per_idle_h2c_connection", h2c == null ? Double.NaN : h2c.heapPerConnection());
    for (String direction : List.of("download", "upload")) {
      Double ws1 = s.get("throughput_ratio_ws_vs_h2c_" + direction);
      Double bridge = s.get("throughput_ratio_websockify_vs_h2c_" + direction);
      s.put("ws_over_websockify_" + direction, ws1 == null || bridge == null ? Double.NaN : ws1 / bridge);
      // The gateway against the bare cost of an extra hop (a TCP relay that does nothing else).
      Double gateway = s.get("throughput_ratio_gateway_vs_h2c_" + direction);
      Double relay = s.get("throughput_ratio_tcp_relay_vs_h2c_" + direction);
      s.put("gateway_over_tcp_relay_" + direction, gateway == null || relay == null ? Double.NaN : gateway / relay);
      // The gateway's own process against haproxy's (TCP mode), CPU per GiB relayed, same run: below 1 is better.
      s.put("gateway_cpu_per_gib_over_tcp_relay_" + direction,
          relayCpuPerGib(direction, "gateway") / relayCpuPerGib(direction, "tcp_relay"));
    }
    // Proxy mode against the better of the two layer-7 gRPC proxies, same run: native h2c to each (same client,
    // same protocol, only the proxy differs), each as its ratio to h2c iteration by iteration.
    s.put("qps_ratio_proxy_vs_best_l7", againstBestL7(s, "qps_ratio_", "", true));
    s.put("throughput_ratio_proxy_vs_best_l7_upload", againstBestL7(s, "throughput_ratio_", "_upload", true));
    s.put("throughput_ratio_proxy_vs_best_l7_download", againstBestL7(s, "throughput_ratio_", "_download", true));
    s.put("unary_p50_ratio_proxy_vs_best_l7", againstBestL7(s, "unary_p50_ratio_", "", false));
    return s;
  }

  /**
   * {@code gateway_proxy_h2c}'s figure over the better of {@code nginx_grpc}'s and {@code haproxy_h2}'s (the higher
   * when higher is better, else the lower), from their ratios to h2c; NaN when proxy mode or both are missing.
   */
  private static double againstBestL7(Map<String, Double> s, String prefix, String suffix, boolean higherIsBetter) {
    double proxy = s.getOrDefault(prefix + "gateway_proxy_h2c_vs_h2c" + suffix, Double.NaN);
    double nginx = s.getOrDefault(prefix + "nginx_grpc_vs_h2c" + suffix, Double.NaN);
    double haproxy = s.getOrDefault(prefix + "haproxy_h2_vs_h2c" + suffix, Double.NaN);
    double best = Double.isNaN(nginx) ? haproxy : Double.isNaN(haproxy) ? nginx
        : higherIsBetter ? Math.max(nginx, haproxy) : Math.min(nginx, haproxy);
    return proxy / best;
  }

  /** Median CPU ms per GiB of the relay process of {@code setup} for 1 MiB streams in {@code direction}, or NaN. */
  private double relayCpuPerGib(String direction, String setup) {
    return results.stats("stream_" + direction + "_1mib", setup, StreamingThroughput.CPU_HELPER).median();
  }

  private double median(String workload, String setup, String metric) {
    return results.stats(workload, setup, metric).median();
  }

  private double ratio(String workload, String setup, String metric) {
    return results.ratio(workload, setup, metric).median();
  }

  String json() {
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("environment", results.environment);
    Map<String, Object> summary = new LinkedHashMap<>(summary());
    root.put("summary", summary);
    List<Object> targets = new ArrayList<>();
    for (Target t : TARGETS) {
      double value = summary().getOrDefault(t.key(), Double.NaN);
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("target", t.what());
      m.put("key", t.key());
      m.put("expected", (t.atLeast() ? ">= " : "<= ") + fmt(t.threshold()));
      m.put("value", value);
      m.put("met", Double.isNaN(value) ? null : t.met(value));
      targets.add(m);
    }
    root.put("targets", targets);
    List<Object> setups = new ArrayList<>();
    for (Results.SetupInfo info : results.setups) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", info.name());
      m.put("description", info.description());
      m.put("baseline", info.baseline());
      m.put("measured", info.notMeasured() == null);
      m.put("not_measured_because", info.notMeasured());
      setups.add(m);
    }
    root.put("setups", setups);
    List<Object> workloads = new ArrayList<>();
    for (Results.WorkloadResult w : results.workloads) {
      Map<String, Object> wm = new LinkedHashMap<>();
      wm.put("id", w.workload.id());
      wm.put("title", w.workload.title());
      if (w.note != null) {
        wm.put("note", w.note);
      }
      Map<String, Object> steal = new LinkedHashMap<>();
      steal.put("remeasured", w.remeasured);
      steal.put("max_share_kept", Double.isNaN(w.maxStealKept) ? null : w.maxStealKept);
      steal.put("kept_above_limit", w.keptNoisy);
      wm.put("host_steal", steal);
      Map<String, Object> bySetup = new LinkedHashMap<>();
      for (String setup : w.samples.keySet()) {
        Map<String, Object> sm = new LinkedHashMap<>();
        for (Workload.Metric metric : w.workload.metrics()) {
          Map<String, Object> mm = new LinkedHashMap<>();
          Stats v = Stats.of(w.values(setup, metric.name()));
          mm.put("unit", metric.unit());
          mm.put("median", v.median());
          mm.put("min", v.min());
          mm.put("max", v.max());
          mm.put("samples", w.values(setup, metric.name()));
          Stats r = results.ratio(w.workload.id(), setup, metric.name());
          if (!r.isEmpty()) {
            mm.put("ratio_vs_" + results.setup(setup).baseline(),
                Map.of("median", r.median(), "min", r.min(), "max", r.max()));
          }
          sm.put(metric.name(), mm);
        }
        bySetup.put(setup, sm);
      }
      wm.put("results", bySetup);
      if (!w.failures.isEmpty()) {
        wm.put("failures", w.failures);
      }
      workloads.add(wm);
    }
    root.put("workloads", workloads);
    List<Object> idle = new ArrayList<>();
    for (IdleTunnels.Result r : results.idle) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("kind", r.kind());
      m.put("requested", r.requested());
      m.put("connected", r.connected());
      m.put("held_by_server", r.held());
      m.put("server_heap_before", r.heapBefore());
      m.put("server_heap_after", r.heapAfter());
      m.put("server_rss_before", r.rssBefore());
      m.put("server_rss_after", r.rssAfter());
      m.put("heap_bytes_per_connection", r.heapPerConnection());
      m.put("rss_bytes_per_connection", r.rssPerConnection());
      idle.add(m);
    }
    root.put("idle", idle);
    List<Object> many = new ArrayList<>();
    for (IdleTunnels.Result r : manyIdle()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("kind", r.kind());
      m.put("requested", r.requested());
      m.put("connected", r.connected());
      m.put("held_by_server", r.held());
      m.put("server_heap_before", r.heapBefore());
      m.put("server_heap_after", r.heapAfter());
      m.put("server_rss_before", r.rssBefore());
      m.put("server_rss_after", r.rssAfter());
      m.put("heap_bytes_per_connection", r.heapPerConnection());
      m.put("rss_bytes_per_connection", r.rssPerConnection());
      m.put("seconds", r.seconds());
      m.put("note", r.note());
      many.add(m);
    }
    root.put("idle_many", many);
    Map<String, Object> codec = new LinkedHashMap<>();
    results.codec.forEach((k, v) -> codec.put(k, Map.of("median", v.median(), "min", v.min(), "max", v.max())));
    root.put("frame_handlers_alone", codec);
    root.put("cpu_breakdown_1mib_streams", cpuBreakdown());
    if (!results.idleFailures.isEmpty()) {
      root.put("idle_failures", results.idleFailures);
    }
    List<Object> profiles = new ArrayList<>();
    for (Profiler.Profile p : results.profiles) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("workload", p.workload());
      m.put("setup", p.setup());
      m.put("samples", p.samples());
      m.put("areas_percent", p.areas());
      m.put("hottest_methods_percent", p.hottest());
      m.put("recording", p.file().toString());
      profiles.add(m);
    }
    root.put("profiles", profiles);
    return Json.write(root);
  }

  /** What the host's steal did to a workload's samples, or null where it did nothing or is unknown. */
  static String stealNote(Results.WorkloadResult w) {
    if (w.remeasured == 0 && !(w.maxStealKept >= 0.01)) {
      return null;
    }
    return String.format(Locale.ROOT, "Host steal: %d sample%s measured again; the kept samples lost at most %.1f %% "
        + "of the CPU to the host%s.", w.remeasured, w.remeasured == 1 ? "" : "s", w.maxStealKept * 100,
        w.keptNoisy == 0 ? "" : " (" + w.keptNoisy + " kept above the limit: every attempt saw more)");
  }

  String markdown(String analysis) {
    StringBuilder md = new StringBuilder();
    Map<String, String> env = results.environment;
    md.append("# Benchmarks\n\n");
    md.append("The tunnel against direct gRPC on the same machine, in the same run. **Generated** by the command "
        + "below; do not edit by hand (the analysis at the end comes from `benchmarks/analysis.md`).\n\n");
    md.append("```sh\n").append(env.get("command")).append("\n```\n\n");
    md.append("| | |\n|---|---|\n");
    for (Map.Entry<String, String> e : env.entrySet()) {
      if (!e.getKey().equals("command")) {
        md.append("| ").append(e.getKey()).append(" | ").append(e.getValue()).append(" |\n");
      }
    }
    md.append("\nEvery figure is the median over the iterations, with the range (min–max) in brackets; a ratio "
        + "compares a setup with its baseline iteration by iteration (iterations run round robin over the setups, "
        + "so a disturbance hits them alike). A sample during which the host's hypervisor took more of this "
        + "machine's CPU than `--max-steal` allows (steal in `/proc/stat`) is measured again once the host is quiet, "
        + "up to five times. Ratios above 1 are better for throughput, QPS and rates; below 1 for latency.\n\n");

    md.append("## Targets\n\n| Target | Expected | Measured | Met |\n|---|---|---|---|\n");
    Map<String, Double> summary = summary();
    for (Target t : TARGETS) {
      double v = summary.getOrDefault(t.key(), Double.NaN);
      String met = Double.isNaN(v) ? "not measured" : t.met(v) ? "yes"
          : "**no** (" + missedBy(t, v) + ")";
      md.append("| ").append(t.what()).append(" | ").append(t.atLeast() ? "≥ " : "≤ ").append(fmt(t.threshold()))
          .append(" | ").append(Double.isNaN(v) ? "–" : fmt(v)).append(" | ").append(met).append(" |\n");
    }

    md.append("\n## Setups\n\n| Setup | What | Baseline | Status |\n|---|---|---|---|\n");
    for (Results.SetupInfo s : results.setups) {
      md.append("| ").append(s.name()).append(" | ").append(s.description()).append(" | ")
          .append(s.baseline() == null ? "(baseline)" : s.baseline()).append(" | ")
          .append(s.notMeasured() == null ? "measured" : "**not measured**: " + s.notMeasured()).append(" |\n");
    }

    md.append("\n## Results\n");
    for (Results.WorkloadResult w : results.workloads) {
      md.append("\n### ").append(w.workload.title()).append("\n\n");
      if (w.note != null) {
        md.append(w.note).append("\n\n");
      }
      String steal = stealNote(w);
      if (steal != null) {
        md.append(steal).append("\n\n");
      }
      md.append("| Setup |");
      for (Workload.Metric m : w.workload.metrics()) {
        md.append(' ').append(m.name()).append(" (").append(m.unit()).append(") | ratio |");
      }
      md.append("\n|---|");
      for (int i = 0; i < w.workload.metrics().size(); i++) {
        md.append("---:|---:|");
      }
      md.append('\n');
      for (String setup : w.samples.keySet()) {
        md.append("| ").append(setup).append(" |");
        if (w.failures.containsKey(setup)) {
          md.append(" failed: ").append(w.failures.get(setup).replace('|', '/')).append(" |\n");
          continue;
        }
        for (Workload.Metric m : w.workload.metrics()) {
          Stats v = Stats.of(w.values(setup, m.name()));
          Stats r = results.ratio(w.workload.id(), setup, m.name());
          md.append(' ').append(range(v)).append(" | ").append(r.isEmpty() ? "" : range(r)).append(" |");
        }
        md.append('\n');
      }
    }

    List<Map<String, Object>> breakdown = cpuBreakdown();
    if (!breakdown.isEmpty()) {
      md.append("\n## Where the CPU goes (1 MiB streams)\n\n");
      md.append("CPU time per GiB moved (medians over the iterations) of every process the bytes pass through: this "
          + "JVM (client and server) and, for the relay setups, the relay's own process; each with the part spent "
          + "in the kernel (Linux `/proc/PID/stat`, 10 ms ticks). On two cores the client, the server and a relay "
          + "share the CPU, so a relay's CPU per GiB comes straight off the throughput.\n\n");
      md.append("| Setup | Direction | All processes | in the kernel | Relay process | in the kernel |\n"
          + "|---|---|---:|---:|---:|---:|\n");
      for (Map<String, Object> row : breakdown) {
        md.append("| ").append(row.get("setup")).append(" | ").append(row.get("direction")).append(" | ")
            .append(fmt((Double) row.get("cpu_ms_per_gib"))).append(" | ")
            .append(fmt((Double) row.get("kernel_ms_per_gib"))).append(" | ")
            .append(row.get("relay_ms_per_gib") == null ? "–" : fmt((Double) row.get("relay_ms_per_gib")))
            .append(" | ")
            .append(row.get("relay_kernel_ms_per_gib") == null ? "–" : fmt((Double) row.get("relay_kernel_ms_per_gib")))
            .append(" |\n");
      }
      double up = summary.getOrDefault("gateway_over_tcp_relay_upload", Double.NaN);
      double down = summary.getOrDefault("gateway_over_tcp_relay_download", Double.NaN);
      if (!Double.isNaN(up) || !Double.isNaN(down)) {
        md.append("\nThe gateway's throughput against the bare TCP relay's (both as ratios to h2c, same run): upload ")
            .append(fmt(up)).append(", download ").append(fmt(down))
            .append(" (1 means the gateway costs what any extra hop costs).\n");
      }
      double cpuUp = summary.getOrDefault("gateway_cpu_per_gib_over_tcp_relay_upload", Double.NaN);
      double cpuDown = summary.getOrDefault("gateway_cpu_per_gib_over_tcp_relay_download", Double.NaN);
      if (!Double.isNaN(cpuUp) || !Double.isNaN(cpuDown)) {
        md.append("\nThe gateway's process against haproxy's in TCP mode, CPU per GiB relayed (*Relay process* "
            + "column, same run): upload ").append(fmt(cpuUp)).append(", download ").append(fmt(cpuDown))
            .append(" (at most 1 is the target of issue 17).\n");
      }
    }

    if (!results.codec.isEmpty()) {
      md.append("\n## The frame handlers alone\n\n");
      md.append("One thread, no sockets (EmbeddedChannel), so that other load barely moves the figures: what gRPC "
          + "writes for 1 MiB messages (9-byte HTTP/2 headers and 16 KiB slices, four per flush) goes through the "
          + "client's frame handlers, is cut into 64 KiB reads and decoded by the server's; *plain* moves and cuts "
          + "the same bytes without framing. Small flush: four buffers of 9, 40, 9 and 107 bytes, as in a unary "
          + "call. Median of 3 rounds (range).\n\n| | CPU |\n|---|---:|\n");
      results.codec.forEach((k, v) -> md.append("| ").append(k).append(" | ").append(range(v)).append(" |\n"));
    }

    md.append("\n## Idle tunnels\n\n");
    md.append("One server JVM holds the connections; the clients run in another JVM (10,000 connections on each "
        + "side would exceed one process's file limit here). Each connection first completes one unary call. Heap is "
        + "the server's used heap after full collections, before the clients connect and once all have; RSS the "
        + "same for the whole process.\n\n");
    if (!manyIdle().isEmpty()) {
      md.append("The rows marked *asked* (issue 17): ws tunnels held by one server JVM, and by the gateway "
          + "(`tunnel-server.jar`, its own JVM, in front of an h2c server) in proxy mode (one socket per tunnel) and "
          + "relay mode (two: each tunnel has an upstream connection of its own); the gateway's heap is read from its "
          + "`/metrics` after `jcmd GC.run`, the tunnels it holds from `wsgrpc_tunnels_open`. Each child process "
          + "starts with its file limit raised (`ulimit -n`); the clients are spread over processes of at most "
          + String.format(Locale.ROOT, "%,d", IdleTunnels.PER_SOURCE) + " connections, each from a loopback source "
          + "address of its own.");
      for (IdleTunnels.Result r : manyIdle()) {
        if (r.note() != null) {
          md.append(" **").append(r.kind()).append(": ").append(r.note()).append(".**");
        }
      }
      md.append("\n\n");
    }
    md.append("| Kind | Held by the server | Heap per connection | RSS per connection | Time |\n"
        + "|---|---:|---:|---:|---:|\n");
    for (IdleTunnels.Result r : results.idle) {
      md.append("| ").append(r.kind()).append(" | ").append(r.held()).append(" of ").append(r.requested())
          .append(" | ").append(bytes(r.heapPerConnection())).append(" | ").append(bytes(r.rssPerConnection()))
          .append(" | ").append(String.format(Locale.ROOT, "%.0f s", r.seconds())).append(" |\n");
    }
    for (IdleTunnels.Result r : manyIdle()) {
      md.append("| ").append(r.kind()).append(", ").append(String.format(Locale.ROOT, "%,d", r.requested()))
          .append(" asked | ").append(r.held()).append(" of ").append(r.requested()).append(" | ")
          .append(bytes(r.heapPerConnection())).append(" | ").append(bytes(r.rssPerConnection())).append(" | ")
          .append(String.format(Locale.ROOT, "%.0f s", r.seconds())).append(" |\n");
    }
    for (Map.Entry<String, String> e : results.idleFailures.entrySet()) {
      md.append("| ").append(e.getKey()).append(" | failed: ").append(e.getValue().replace('|', '/'))
          .append(" | | | |\n");
    }

    if (!results.profiles.isEmpty()) {
      md.append("\n## Profiles\n\n");
      md.append("JFR CPU samples (1 ms, Java code only: time in the kernel does not show) of one extra iteration "
          + "per setup, not of the measured ones. A sample counts for the innermost wsgrpc handler on its stack up "
          + "to the first pipeline hop (with the allocations and copies it makes), otherwise for the package of its "
          + "innermost frame. Recordings: `benchmarks/target/profiles/`."
          + (java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
              .contains("-XX:+DebugNonSafepoints") ? "" : " **Approximate**: this JVM ran without "
              + "`-XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints`, so samples in compiled code are charged "
              + "to the nearest safepoint, sometimes in the wrong method.") + "\n");
      for (Profiler.Profile p : results.profiles) {
        md.append("\n**").append(p.workload()).append(" over ").append(p.setup()).append("** (").append(p.samples())
            .append(" samples): ");
        List<String> parts = new ArrayList<>();
        p.areas().forEach((k, v) -> parts.add(k + " " + String.format(Locale.ROOT, "%.1f%%", v)));
        md.append(String.join(", ", parts)).append(".  \nHottest methods: ");
        List<String> hot = new ArrayList<>();
        p.hottest().entrySet().stream().limit(8)
            .forEach(e -> hot.add("`" + e.getKey() + "` " + String.format(Locale.ROOT, "%.1f%%", e.getValue())));
        md.append(String.join(", ", hot)).append(".\n");
      }
    }

    if (analysis != null && !analysis.isBlank()) {
      md.append('\n').append(analysis.strip()).append('\n');
    }
    return md.toString();
  }

  /** The issue-17 idle rows: the server JVM's, then the gateway's. */
  private List<IdleTunnels.Result> manyIdle() {
    List<IdleTunnels.Result> all = new ArrayList<>();
    if (results.manyIdle != null) {
      all.add(results.manyIdle);
    }
    all.addAll(results.manyIdleGateway);
    return all;
  }

  /** Per setup and direction of the 1 MiB streams: CPU ms per GiB in all, in the kernel, and in the relay. */
  private List<Map<String, Object>> cpuBreakdown() {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (String direction : List.of("upload", "download")) {
      Results.WorkloadResult w = results.workload("stream_" + direction + "_1mib");
      if (w == null) {
        continue;
      }
      for (String setup : w.samples.keySet()) {
        double all = Stats.of(w.values(setup, "cpu")).median();
        if (Double.isNaN(all)) {
          continue;
        }
        boolean relay = results.setup(setup) != null && isRelay(setup);
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("setup", setup);
        row.put("direction", direction);
        row.put("cpu_ms_per_gib", all);
        row.put("kernel_ms_per_gib", Stats.of(w.values(setup, StreamingThroughput.CPU_KERNEL)).median());
        row.put("relay_ms_per_gib", relay ? Stats.of(w.values(setup, StreamingThroughput.CPU_HELPER)).median() : null);
        row.put("relay_kernel_ms_per_gib",
            relay ? Stats.of(w.values(setup, StreamingThroughput.CPU_HELPER_KERNEL)).median() : null);
        rows.add(row);
      }
    }
    return rows;
  }

  private static boolean isRelay(String setup) {
    return List.of("nginx", "gateway", "websockify", "gateway_h2c", "tcp_relay", "gateway_proxy",
        "gateway_proxy_h2c", "nginx_grpc", "haproxy_h2").contains(setup);
  }

  private static String missedBy(Target t, double v) {
    if (t.key().startsWith("heap_") || t.key().startsWith("idle_tunnels_held") || t.key().startsWith("first_call")) {
      return "off by " + fmt(Math.abs(v - t.threshold()));
    }
    double pct = 100 * (t.atLeast() ? (t.threshold() - v) / t.threshold() : (v - t.threshold()) / t.threshold());
    return String.format(Locale.ROOT, "%.1f%% short", pct);
  }

  static String range(Stats s) {
    if (s.isEmpty()) {
      return "–";
    }
    if (s.n() == 1) {
      return fmt(s.median());
    }
    return fmt(s.median()) + " (" + fmt(s.min()) + "–" + fmt(s.max()) + ")";
  }

  static String fmt(double v) {
    if (Double.isNaN(v)) {
      return "–";
    }
    double a = Math.abs(v);
    if (a >= 1000) {
      return String.format(Locale.ROOT, "%,.0f", v);
    }
    if (a >= 100) {
      return String.format(Locale.ROOT, "%.0f", v);
    }
    if (a >= 10) {
      return String.format(Locale.ROOT, "%.1f", v);
    }
    return String.format(Locale.ROOT, "%.2f", v);
  }

  private static String bytes(double v) {
    if (Double.isNaN(v)) {
      return "–";
    }
    return v >= 10 * 1024 ? String.format(Locale.ROOT, "%.1f KiB", v / 1024) : String.format(Locale.ROOT, "%.0f B", v);
  }

  void write(Path markdown, Path json, Path analysis) throws IOException {
    String notes = analysis != null && Files.isRegularFile(analysis)
        ? new String(Files.readAllBytes(analysis), StandardCharsets.UTF_8) : null;
    if (json != null) {
      Files.createDirectories(json.toAbsolutePath().getParent());
      Files.write(json, json().getBytes(StandardCharsets.UTF_8));
    }
    if (markdown != null) {
      Files.createDirectories(markdown.toAbsolutePath().getParent());
      Files.write(markdown, markdown(notes).getBytes(StandardCharsets.UTF_8));
    }
  }
}
