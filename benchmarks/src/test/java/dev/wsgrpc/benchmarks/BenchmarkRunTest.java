package dev.wsgrpc.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wsgrpc.testing.TestCertificates;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How {@link BenchmarkRun} orders a workload's runs over its setups, with setups that open nothing. */
class BenchmarkRunTest {

  @Test
  void unmeasuredRoundsRunEverySetupInTurnAfterTheWarmUpsAndTheirResultsAreDropped(@TempDir Path dir)
      throws Exception {
    List<String> runs = new ArrayList<>();
    Workload counting = new Workload() {
      @Override
      String id() {
        return "counting";
      }

      @Override
      String title() {
        return "Runs so far over the setup";
      }

      @Override
      List<Metric> metrics() {
        return List.of(new Metric("runs", "runs", true));
      }

      @Override
      double warmUp(Setup setup, Duration duration) {
        runs.add("warm-up " + setup.name());
        return Double.NaN;
      }

      @Override
      int unmeasuredRounds() {
        return 2;
      }

      @Override
      Map<String, Double> run(Setup setup, Duration duration) {
        runs.add(setup.name());
        return Map.of("runs", (double) runs.stream().filter(setup.name()::equals).count());
      }
    };
    BenchmarkRun.Mode mode = BenchmarkRun.Mode.smoke();
    BenchmarkRun run = new BenchmarkRun(mode, dir.resolve("no-gateway.jar").toFile(), GatewaySetup.DEFAULT_COMMAND,
        Set.of(), Set.of(), dir, line -> { });
    List<SetupHost> hosts = List.of(host("a", dir), host("b", dir));
    Results results = new Results();

    run.runWorkload(counting, hosts, results);

    // Each round starts one setup further on, the unmeasured ones too: a, b; b, a; then the measured a, b; ...
    List<String> expected = new ArrayList<>(List.of("warm-up a", "warm-up b", "a", "b", "b", "a"));
    for (int i = 0; i < mode.iterations(); i++) {
      expected.addAll(i % 2 == 0 ? List.of("a", "b") : List.of("b", "a"));
    }
    assertEquals(expected, runs);
    Results.WorkloadResult result = results.workloads.get(0);
    for (String setup : List.of("a", "b")) {
      List<Double> measured = new ArrayList<>();
      for (int i = 0; i < mode.iterations(); i++) {
        measured.add(3.0 + i);
      }
      assertEquals(measured, result.values(setup, "runs"), "only the measured runs count over " + setup);
    }
  }

  private static SetupHost host(String name, Path dir) throws Exception {
    Setup setup = new Setup() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public String description() {
        return "a setup that opens nothing";
      }

      @Override
      public String baseline() {
        return null;
      }

      @Override
      public void start(Transports transports, BindableService service, TestCertificates certs) {}

      @Override
      public ManagedChannel newChannel() {
        throw new UnsupportedOperationException();
      }

      @Override
      public void close() {}
    };
    return SetupHost.inProcess(setup, null, null, null, dir);
  }
}
