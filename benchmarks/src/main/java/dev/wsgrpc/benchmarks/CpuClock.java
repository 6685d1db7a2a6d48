package dev.wsgrpc.benchmarks;

import java.lang.management.ManagementFactory;

/**
 * CPU time of this process (client and server of in-process setups together), the fairer measure when other work
 * shares the machine: wall-clock throughput drops under load, CPU per byte much less.
 */
final class CpuClock {

  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  /** CPU nanoseconds used by this process so far. */
  static long now() {
    return OS.getProcessCpuTime();
  }

  private CpuClock() {}
}
