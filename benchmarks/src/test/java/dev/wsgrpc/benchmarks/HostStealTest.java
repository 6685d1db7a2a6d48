package dev.wsgrpc.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

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
