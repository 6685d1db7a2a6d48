package dev.wsgrpc.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The benchmark code itself, in seconds: every in-process workload over h2c and ws with tiny iterations, and the
 * report. The numbers mean nothing here (the build runs with paranoid leak detection); that it all works does.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BenchmarkSmokeTest {

  @ParameterizedTest(name = "a JVM per setup: {0}")
  @ValueSource(booleans = {false, true})
  void everyWorkloadRunsOverH2cAndWsAndTheReportIsWritten(boolean jvmPerSetup, @TempDir Path dir) throws Exception {
    Results results = new Results();
    results.environment.put("command", "smoke test");
    new BenchmarkRun(BenchmarkRun.Mode.smoke(), dir.resolve("no-gateway.jar").toFile(), GatewaySetup.DEFAULT_COMMAND,
        Set.of(), Set.of(), dir, line -> { }).jvmPerSetup(jvmPerSetup).run(results);

    assertEquals(List.of("h2c", "ws"), results.setups.stream().map(Results.SetupInfo::name).toList());
    for (Results.SetupInfo setup : results.setups) {
      assertNull(setup.notMeasured(), setup.name());
    }
    assertFalse(results.workloads.isEmpty());
    for (Results.WorkloadResult w : results.workloads) {
      assertTrue(w.failures.isEmpty(), w.workload.id() + ": " + w.failures);
      for (String setup : List.of("h2c", "ws")) {
        for (Workload.Metric metric : w.workload.metrics()) {
          List<Double> values = w.values(setup, metric.name());
          assertEquals(BenchmarkRun.Mode.smoke().iterations(), values.size(), w.workload.id() + " " + setup);
          // Numbers exist and are finite; their size is not this test's business (a busy machine may complete
          // nothing in a smoke-sized window).
          assertTrue(values.stream().allMatch(v -> v >= 0 && Double.isFinite(v)),
              w.workload.id() + " " + setup + " " + values);
        }
      }
      assertFalse(results.ratio(w.workload.id(), "ws", w.workload.metrics().get(0).name()).isEmpty());
    }

    Path md = dir.resolve("BENCHMARKS.md");
    Path json = dir.resolve("results.json");
    new Report(results).write(md, json, null);
    String report = new String(Files.readAllBytes(md), StandardCharsets.UTF_8);
    assertTrue(report.contains("| Unary p50 latency ws / h2c | ≤ 1.05 |"), report);
    assertTrue(report.contains("### Streaming upload (client to server, masked), 64 KiB messages"), report);
    assertTrue(report.contains(
        "### New connections (tunnels) per second, each with one unary call, 8 opened at a time"), report);
    String js = new String(Files.readAllBytes(json), StandardCharsets.UTF_8);
    for (String key : List.of("\"unary_p50_ratio_ws_vs_h2c\": ", "\"unary_p99_ratio_ws_vs_h2c\": ",
        "\"qps_ratio_ws_vs_h2c\": ", "\"throughput_ratio_ws_vs_h2c_upload\": ", "\"idle_tunnels_held\": ",
        "\"heap_bytes_per_idle_tunnel\": ", "\"first_call_round_trips_ws\": ", "\"first_call_round_trips_h2c\": ",
        "\"new_tunnel_client_cpu_ratio_ws_vs_h2c\": ", "\"new_tunnel_server_cpu_ratio_ws_vs_h2c\": ",
        "\"new_tunnels_8_openers_ratio_ws_vs_h2c\": ")) {
      assertTrue(js.contains(key), key + " in " + js);
    }
  }

  @Test
  void aRelaySetupRunsTheHeadlineWorkloadsAndItsProcessCountsInTheCpuBreakdown(@TempDir Path dir)
      throws Exception {
    dev.wsgrpc.testing.ExternalProgram.requireInstalled("haproxy", "haproxy");
    BenchmarkRun.Mode mode = new BenchmarkRun.Mode("smoke", Duration.ofMillis(100), 1, Duration.ofMillis(50),
        List.of(1 << 20), false, 0, List.of(), List.of("h2c", "tcp_relay"), 4, Set.of());
    Results results = new Results();
    results.environment.put("command", "smoke test");
    new BenchmarkRun(mode, dir.resolve("no-gateway.jar").toFile(), GatewaySetup.DEFAULT_COMMAND,
        Set.of("stream_upload_1mib", "stream_upload_64kib"), Set.of(), dir, line -> { }).run(results);

    assertNull(results.setup("tcp_relay").notMeasured());
    Results.WorkloadResult upload = results.workload("stream_upload_1mib");
    assertTrue(upload.failures.isEmpty(), String.valueOf(upload.failures));
    double relayCpu = upload.values("tcp_relay", StreamingThroughput.CPU_HELPER).get(0);
    double allCpu = upload.values("tcp_relay", "cpu").get(0);
    // A smoke-sized iteration may cost haproxy less than one 10 ms clock tick: that it is counted is
    // cpuOfTheRelayProcessIsCountedWithItsKernelPart's business.
    assertTrue(relayCpu >= 0 && relayCpu <= allCpu, "haproxy's own CPU, part of the total: " + relayCpu + " of "
        + allCpu);
    assertEquals(List.of(), upload.values("h2c", StreamingThroughput.CPU_HELPER).stream()
        .filter(v -> v != 0).toList(), "no relay process for h2c");

    Path md = dir.resolve("BENCHMARKS.md");
    new Report(results).write(md, dir.resolve("results.json"), null);
    String report = new String(Files.readAllBytes(md), StandardCharsets.UTF_8);
    assertTrue(report.contains("## Where the CPU goes (1 MiB streams)"), report);
    assertTrue(report.contains("| tcp_relay | upload |"), report);
  }

  @Test
  void cpuOfTheRelayProcessIsCountedWithItsKernelPart() throws Exception {
    // A busy shell stands in for a relay: a few hundred milliseconds of CPU, some of it in the kernel (fork, exec).
    Process busy = new ProcessBuilder("sh", "-c", "while :; do :; done").start();
    Setup relay = new Setup() {
      @Override
      public String name() {
        return "busy";
      }

      @Override
      public String description() {
        return "a busy shell";
      }

      @Override
      public String baseline() {
        return "h2c";
      }

      @Override
      public void start(Transports transports, io.grpc.BindableService service,
          dev.wsgrpc.testing.TestCertificates certs) {}

      @Override
      public io.grpc.ManagedChannel newChannel() {
        throw new UnsupportedOperationException();
      }

      @Override
      public Process helperProcess() {
        return busy;
      }

      @Override
      public void close() {}
    };
    try {
      CpuClock.Sample first = CpuClock.now(relay);
      CpuClock.Sample used;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      do {
        Thread.sleep(50);
        used = CpuClock.now(relay).since(first);
      } while (used.helper() < TimeUnit.MILLISECONDS.toNanos(200) && System.nanoTime() < deadline);
      assertTrue(used.helper() >= TimeUnit.MILLISECONDS.toNanos(200), "the shell's CPU is counted: " + used);
      assertTrue(used.helperKernel() >= 0 && used.helperKernel() <= used.helper(), used.toString());
      assertTrue(used.total() >= used.helper() && used.kernel() >= used.helperKernel(), used.toString());
    } finally {
      busy.destroyForcibly().waitFor();
    }
  }

  @Test
  void idleTunnelsAreCountedOnTheServerInAJvmOfItsOwn() throws Exception {
    IdleTunnels.Result r = new IdleTunnels(dev.wsgrpc.testing.TestCertificates.create()).measure("ws", 10);
    assertEquals(10, r.connected());
    assertEquals(10, r.held());
    assertTrue(r.heapAfter() > 0 && r.heapBefore() > 0, r.toString());
  }
}
