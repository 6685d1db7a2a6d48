package dev.wsgrpc.benchmarks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * The share of this machine's CPU time that its hypervisor gave to other guests ("steal", the eighth value of the
 * {@code cpu} line of Linux's {@code /proc/stat}). On a virtual machine whose host is busy, steal takes a third of the
 * CPU for minutes at a time and every wall-clock figure of those minutes drops; samples taken then are measured again
 * ({@link BenchmarkRun}). Where {@code /proc/stat} cannot be read, nothing is known and nothing is measured again.
 */
final class HostSteal {

  private static final Path PROC_STAT = Path.of("/proc/stat");
  /** The window {@link #awaitQuiet} judges, long enough for hundreds of clock ticks on two cores. */
  static final Duration WINDOW = Duration.ofSeconds(3);

  /** Clock ticks of all CPUs since boot: stolen, and in total (every state). */
  record Reading(long steal, long total) {

    /** The share of the CPU time since {@code earlier} that was stolen, or NaN when none passed. */
    double shareSince(Reading earlier) {
      long total = this.total - earlier.total;
      return total <= 0 ? Double.NaN : (double) (steal - earlier.steal) / total;
    }
  }

  /** The counters now, or null where {@code /proc/stat} has no {@code cpu} line with a steal value. */
  static Reading now() {
    try {
      for (String line : Files.readAllLines(PROC_STAT, StandardCharsets.US_ASCII)) {
        if (line.startsWith("cpu ")) {
          return parse(line);
        }
      }
    } catch (IOException | RuntimeException e) {
      // Not Linux, or not readable: steal is unknown.
    }
    return null;
  }

  /** Parses {@code cpu  user nice system idle iowait irq softirq steal ...}; null without a steal value. */
  static Reading parse(String cpuLine) {
    String[] fields = cpuLine.trim().split("\\s+");
    if (fields.length < 9) {
      return null;
    }
    long total = 0;
    // user, nice, system, idle, iowait, irq, softirq, steal; guest time is already counted in user and nice.
    for (int i = 1; i <= 8; i++) {
      total += Long.parseLong(fields[i]);
    }
    return new Reading(Long.parseLong(fields[8]), total);
  }

  /** The share stolen between {@code before} and now, or NaN when unknown. */
  static double since(Reading before) {
    return share(before, now());
  }

  /** The share stolen between two readings, or NaN when either is unknown. */
  static double share(Reading before, Reading after) {
    return before == null || after == null ? Double.NaN : after.shareSince(before);
  }

  /**
   * Waits, at most {@code atMost}, until a {@code window} passes with at most {@code maxShare} stolen according to
   * {@code clock}. Returns at once where steal is unknown.
   */
  static void awaitQuiet(Supplier<Reading> clock, double maxShare, Duration window, Duration atMost)
      throws InterruptedException {
    long deadline = System.nanoTime() + atMost.toNanos();
    while (System.nanoTime() < deadline) {
      Reading before = clock.get();
      if (before == null) {
        return;
      }
      Thread.sleep(window.toMillis());
      if (!(share(before, clock.get()) > maxShare)) {
        return;
      }
    }
  }

  private HostSteal() {}
}
