package dev.wsgrpc.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A setup in a JVM of its own: the commands and answers between the runner and {@link SetupWorker}. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SetupHostTest {

  private static final String COMMAND = GatewaySetup.DEFAULT_COMMAND;
  private static final Duration WARM_UP = Duration.ofMillis(50);

  @Test
  void eachSetupRunsItsWorkloadsInAJvmOfItsOwn(@TempDir Path dir) throws Exception {
    Path noGateway = dir.resolve("no-gateway.jar");
    try (SetupHost h2c = SetupHost.forked(BenchmarkRun.newSetup("h2c", noGateway.toFile(), COMMAND),
            noGateway.toFile(), COMMAND, dir, WARM_UP);
        SetupHost ws = SetupHost.forked(BenchmarkRun.newSetup("ws", noGateway.toFile(), COMMAND),
            noGateway.toFile(), COMMAND, dir, WARM_UP)) {
      long self = ProcessHandle.current().pid();
      assertNotEquals(self, h2c.pid());
      assertNotEquals(self, ws.pid());
      assertNotEquals(h2c.pid(), ws.pid());

      Workload upload = BenchmarkRun.workload("stream_upload_64kib");
      double rate = Double.NaN;
      for (SetupHost host : new SetupHost[] {h2c, ws}) {
        host.open(upload);
        double figure = host.warmUp(upload, Duration.ofMillis(50));
        assertTrue(figure > 0, "a streaming warm-up answers its rate: " + figure);
        rate = Double.isNaN(rate) ? figure : rate;
      }
      for (SetupHost host : new SetupHost[] {h2c, ws}) {
        host.calibrate(upload, Duration.ofMillis(50), rate);
      }
      for (SetupHost host : new SetupHost[] {h2c, ws}) {
        Map<String, Double> figures = host.run(upload, Duration.ofMillis(50));
        assertTrue(figures.get("throughput") > 0, figures.toString());
        assertTrue(figures.get("cpu") > 0, "the CPU of the setup's own JVM: " + figures);
        Path recording = host.profile(upload, Duration.ofMillis(50));
        assertEquals(dir.resolve("stream_upload_64kib-" + host.setup.name() + ".jfr"), recording);
        assertTrue(Files.size(recording) > 0, recording.toString());
        host.close(upload);
      }

      Workload unknown = new Workload() {
        @Override
        String id() {
          return "no_such_workload";
        }

        @Override
        String title() {
          return "none";
        }

        @Override
        java.util.List<Metric> metrics() {
          return java.util.List.of();
        }

        @Override
        Map<String, Double> run(Setup setup, Duration duration) {
          throw new AssertionError("runs in the child, not here");
        }
      };
      Exception e = assertThrows(Exception.class, () -> ws.open(unknown));
      assertTrue(e.getMessage().startsWith("ws's JVM: error java.lang.IllegalArgumentException: workload: "
          + "no_such_workload (expected: an id as in results.json)"), e.getMessage());
      // The child goes on after an error.
      Workload latency = BenchmarkRun.workload("unary_latency");
      ws.open(latency);
      assertTrue(ws.run(latency, Duration.ofMillis(50)).get("p50") > 0);
      ws.close(latency);
    }
  }

  @Test
  void aSetupThatCannotStartInItsJvmIsNotMeasuredWithTheChildsReason(@TempDir Path dir) {
    Path noGateway = dir.resolve("no-gateway.jar");
    Setup.NotMeasured e = assertThrows(Setup.NotMeasured.class, () -> SetupHost.forked(
        BenchmarkRun.newSetup("gateway", noGateway.toFile(), COMMAND), noGateway.toFile(), COMMAND, dir, WARM_UP));
    assertEquals("not yet measured: " + noGateway + " does not exist (build tunnel-gateway first)", e.getMessage());
  }

  @Test
  void figuresCrossTheProcessBoundaryUnchanged() {
    Map<String, Double> figures = Map.of("throughput", 1234.5678901234567, "cpu", 1e-9, "p99", Double.NaN);
    assertEquals(figures, SetupHost.decode(SetupHost.encode(figures)));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SetupHost.decode("p50"));
    assertEquals("expected name=value pairs but got 'p50'", e.getMessage());
  }
}
