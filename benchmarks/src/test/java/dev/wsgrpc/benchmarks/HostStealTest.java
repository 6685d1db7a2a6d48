package dev.wsgrpc.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostStealTest {

  @Test
  void stealIsTheEighthValueAndTheTotalCountsEveryStateButGuestTime() {
    HostSteal.Reading r = HostSteal.parse("cpu  100 1 50 800 10 0 9 30 500 0");

    assertEquals(30, r.steal());
    assertEquals(100 + 1 + 50 + 800 + 10 + 0 + 9 + 30, r.total());
  }

  @Test
  void aLineWithoutStealIsUnknown() {
    assertNull(HostSteal.parse("cpu  100 1 50 800 10 0 9"));
  }

  @Test
  void theShareIsStealOverAllTicksBetweenTwoReadings() {
    HostSteal.Reading before = new HostSteal.Reading(10, 1000);
    HostSteal.Reading after = new HostSteal.Reading(40, 1200);

    assertEquals(0.15, after.shareSince(before), 1e-9);
    assertTrue(Double.isNaN(before.shareSince(before)));
  }

  @Test
  void thisMachinesReadingIsConsistentWhereThereIsOne() {
    HostSteal.Reading r = HostSteal.now();
    if (r != null) {
      assertTrue(r.steal() >= 0 && r.steal() <= r.total(), r.toString());
    }
  }

  @Test
  void aSampleDuringWhichTheHostTookTooMuchIsMeasuredAgainOnceItCalmedDown(@TempDir Path dir) throws Exception {
    // Readings 1-6 see 60 % stolen, later ones none: the first sample is taken again after two windows.
    AtomicLong reads = new AtomicLong();
    Supplier<HostSteal.Reading> clock = () -> {
      long n = reads.incrementAndGet();
      return new HostSteal.Reading(60 * Math.min(n, 6), 100 * n);
    };
    Results results = new Results();
    new BenchmarkRun(BenchmarkRun.Mode.smoke(), dir.resolve("no-gateway.jar").toFile(), GatewaySetup.DEFAULT_COMMAND,
        Set.of("unary_latency"), Set.of(), dir, line -> { })
        .maxSteal(0.05).stealClock(clock, Duration.ZERO, Duration.ofMinutes(1)).run(results);

    Results.WorkloadResult w = results.workloads.get(0);
    assertEquals(1, w.remeasured);
    assertEquals(0, w.keptNoisy);
    assertEquals(0.0, w.maxStealKept);
    assertEquals(1, w.values("h2c", "p50").size());
    assertEquals(1, w.values("ws", "p50").size());
  }

  @Test
  void aSampleIsKeptAfterFiveAttemptsAndCountedAsNoisy(@TempDir Path dir) throws Exception {
    AtomicLong reads = new AtomicLong();
    Supplier<HostSteal.Reading> alwaysBusy = () -> {
      long n = reads.incrementAndGet();
      return new HostSteal.Reading(50 * n, 100 * n);
    };
    Results results = new Results();
    new BenchmarkRun(BenchmarkRun.Mode.smoke(), dir.resolve("no-gateway.jar").toFile(), GatewaySetup.DEFAULT_COMMAND,
        Set.of("unary_latency"), Set.of(), dir, line -> { })
        .maxSteal(0.05).stealClock(alwaysBusy, Duration.ZERO, Duration.ZERO).run(results);

    Results.WorkloadResult w = results.workloads.get(0);
    assertEquals(2 * 4, w.remeasured);
    assertEquals(2, w.keptNoisy);
    assertEquals(0.5, w.maxStealKept, 1e-9);
  }

  @Test
  void theReportSaysWhatStealDidOnlyWhenItDidSomething() {
    Results.WorkloadResult quiet = new Results.WorkloadResult(new UnaryLatency());
    quiet.maxStealKept = 0.004;
    assertNull(Report.stealNote(quiet));

    Results.WorkloadResult noisy = new Results.WorkloadResult(new UnaryLatency());
    noisy.remeasured = 3;
    noisy.maxStealKept = 0.021;
    assertEquals("Host steal: 3 samples measured again; the kept samples lost at most 2.1 % of the CPU to the host.",
        Report.stealNote(noisy));

    noisy.keptNoisy = 1;
    noisy.maxStealKept = 0.2;
    assertTrue(Report.stealNote(noisy).endsWith("at most 20.0 % of the CPU to the host (1 kept above the limit: "
        + "every attempt saw more)."), Report.stealNote(noisy));
  }
}
