package dev.wsgrpc.benchmarks;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * CPU time of everything a setup runs: this process (client and server of in-process setups) plus the program the
 * setup runs outside it (the gateway's JVM, nginx and its worker, websockify, haproxy), each split into user and
 * kernel time where Linux's {@code /proc} says so. The fairer measure when other work shares the machine: wall-clock
 * throughput drops under load, CPU per byte much less.
 */
final class CpuClock {

  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
  /** {@code /proc/PID/stat} counts in clock ticks of 1/100 s (USER_HZ, fixed on Linux). */
  private static final long NANOS_PER_TICK = 10_000_000L;

  /** CPU nanoseconds: of this JVM, of this JVM in the kernel, of the helper, of the helper in the kernel. */
  record Sample(long self, long selfKernel, long helper, long helperKernel) {

    /** The CPU used since {@code earlier}. */
    Sample since(Sample earlier) {
      return new Sample(self - earlier.self, selfKernel - earlier.selfKernel, helper - earlier.helper,
          helperKernel - earlier.helperKernel);
    }

    long total() {
      return self + helper;
    }

    long kernel() {
      return selfKernel + helperKernel;
    }
  }

  /** The CPU used so far by this JVM and by the helper process of {@code setup} (and its descendants). */
  static Sample now(Setup setup) {
    long self = OS.getProcessCpuTime();
    long selfKernel = kernelNanos(ProcessHandle.current());
    long helper = 0;
    long helperKernel = 0;
    Process process = setup.helperProcess();
    if (process != null) {
      helper = cpuNanos(process.toHandle());
      helperKernel = kernelNanos(process.toHandle());
      for (ProcessHandle child : (Iterable<ProcessHandle>) process.descendants()::iterator) {
        helper += cpuNanos(child);
        helperKernel += kernelNanos(child);
      }
    }
    return new Sample(self, selfKernel, helper, helperKernel);
  }

  /**
   * CPU time of this JVM's threads by side, for setups whose client and server share the JVM: the server's event
   * loops ({@code bench-server}, {@code bench-boss}, see {@link Transports}) against the client's (its event loops
   * {@code bench-client}, gRPC's own threads such as name resolution and timers ({@code grpc-*}), and the thread that
   * drives the workload). Each thread is followed by its id, which the JVM never reuses: a thread that started in
   * between counts from nothing, and one that ended in between is not counted (its last CPU time can no longer be
   * read; the event loops live for the whole run). Summing the sides as totals instead took an ended thread's earlier
   * time away from the other threads' (gRPC's executor threads end after a minute idle): a negative CPU time per
   * connection in a subset run of 2026-12-07. The JIT compiler and the garbage collector count for neither side.
   */
  static final class Threads {

    private static final java.lang.management.ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** CPU nanoseconds by thread id, of the client's threads and of the server's. */
    private final Map<Long, Long> client;
    private final Map<Long, Long> server;

    private Threads(Map<Long, Long> client, Map<Long, Long> server) {
      this.client = client;
      this.server = server;
    }

    static Threads now() {
      Map<Long, Long> client = new HashMap<>();
      Map<Long, Long> server = new HashMap<>();
      long self = Thread.currentThread().getId();
      for (java.lang.management.ThreadInfo info : THREADS.getThreadInfo(THREADS.getAllThreadIds())) {
        if (info == null) {
          continue;
        }
        String name = info.getThreadName();
        long cpu = THREADS.getThreadCpuTime(info.getThreadId());
        if (cpu < 0) {
          continue;
        }
        if (name.startsWith("bench-server") || name.startsWith("bench-boss")) {
          server.put(info.getThreadId(), cpu);
        } else if (name.startsWith("bench-client") || name.startsWith("grpc-") || info.getThreadId() == self) {
          client.put(info.getThreadId(), cpu);
        }
      }
      return new Threads(client, server);
    }

    /** The CPU each side's threads used since {@code earlier}. */
    Used since(Threads earlier) {
      return new Used(used(client, earlier.client), used(server, earlier.server));
    }

    private static long used(Map<Long, Long> now, Map<Long, Long> earlier) {
      long sum = 0;
      for (Map.Entry<Long, Long> thread : now.entrySet()) {
        sum += thread.getValue() - earlier.getOrDefault(thread.getKey(), 0L);
      }
      return sum;
    }

    /** CPU nanoseconds used by the client's threads and by the server's. */
    record Used(long client, long server) {}
  }

  private static long cpuNanos(ProcessHandle handle) {
    return handle.info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
  }

  /** Kernel (system) time of a process from {@code /proc/PID/stat}; 0 where there is no {@code /proc}. */
  private static long kernelNanos(ProcessHandle handle) {
    try {
      String stat = new String(Files.readAllBytes(Path.of("/proc", Long.toString(handle.pid()), "stat")),
          StandardCharsets.US_ASCII);
      // The command name (field 2) may hold spaces; fields after it are counted from its closing parenthesis.
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(fields[12]) * NANOS_PER_TICK; // stime, field 15 of the whole line
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  private CpuClock() {}
}
