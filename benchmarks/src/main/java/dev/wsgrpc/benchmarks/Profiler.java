package dev.wsgrpc.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * A Java Flight Recorder profile of one extra iteration per setup (measured iterations are never recorded): CPU
 * samples every millisecond, summarised as the share of samples per area of code (by the innermost frame) and the
 * hottest methods. The recordings stay in {@code benchmarks/target/profiles/} for JDK Mission Control or
 * {@code jfr print}.
 */
final class Profiler {

  /** A profile summary of one workload over one setup. */
  record Profile(String workload, String setup, int samples, Map<String, Double> areas, Map<String, Double> hottest,
      Path file) {}

  private final Path dir;

  Profiler(Path dir) {
    this.dir = dir;
  }

  /** Runs {@code work} under a recording and summarises it. */
  Profile record(String workload, String setup, ThrowingRunnable work) throws Exception {
    return summarise(workload, setup, recording(workload, setup, work));
  }

  /** Runs {@code work} under a recording and returns the recording's file. */
  Path recording(String workload, String setup, ThrowingRunnable work) throws Exception {
    Files.createDirectories(dir);
    Path file = dir.resolve(workload + "-" + setup + ".jfr");
    try (Recording recording = new Recording()) {
      recording.enable("jdk.ExecutionSample").withPeriod(Duration.ofMillis(1));
      recording.setToDisk(true);
      recording.start();
      work.run();
      recording.stop();
      recording.dump(file);
    }
    return file;
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }

  static Profile summarise(String workload, String setup, Path file) throws IOException {
    Map<String, Integer> areas = new HashMap<>();
    Map<String, Integer> methods = new HashMap<>();
    int total = 0;
    for (RecordedEvent event : RecordingFile.readAllEvents(file)) {
      if (!event.getEventType().getName().equals("jdk.ExecutionSample")) {
        continue;
      }
      RecordedStackTrace stack = event.getStackTrace();
      if (stack == null || stack.getFrames().isEmpty()) {
        continue;
      }
      total++;
      List<RecordedFrame> frames = stack.getFrames();
      RecordedFrame top = frames.get(0);
      String type = top.getMethod().getType().getName();
      methods.merge(type.substring(type.lastIndexOf('.') + 1) + "." + top.getMethod().getName(), 1, Integer::sum);
      areas.merge(area(frames), 1, Integer::sum);
    }
    return new Profile(workload, setup, total, shares(areas, total, 12), shares(methods, total, 12), file);
  }

  /**
   * The area a sample belongs to: the innermost wsgrpc handler on the stack, looking outwards only as far as the
   * first pipeline hop (what runs below a hop belongs to the next handler: the socket write under a flush, gRPC's
   * decoding under a read); otherwise the package of the innermost frame. Allocations and copies a handler makes
   * count as the handler's.
   */
  static String area(List<RecordedFrame> frames) {
    for (RecordedFrame frame : frames) {
      String type = frame.getMethod().getType().getName();
      if (type.startsWith("dev.wsgrpc.core.internal.FrameMask")) {
        return "wsgrpc masking (XOR)";
      }
      if (type.startsWith("dev.wsgrpc.core.internal.FrameDecoder")
          || type.startsWith("dev.wsgrpc.core.internal.FrameEncoder")) {
        return "wsgrpc frame codec (incl. its copies)";
      }
      if (type.startsWith("dev.wsgrpc.core.internal.ByteStreamFrameCodec")) {
        return "wsgrpc write coalescing";
      }
      if (type.startsWith("dev.wsgrpc.testing.proto")) {
        return "protobuf";
      }
      if (type.startsWith("dev.wsgrpc.benchmarks")) {
        return "benchmark's client and service";
      }
      if (type.startsWith("dev.wsgrpc")) {
        return "wsgrpc other";
      }
      if (type.equals("io.netty.channel.AbstractChannelHandlerContext")) {
        break;
      }
    }
    String top = frames.get(0).getMethod().getType().getName();
    if (top.startsWith("sun.security") || top.startsWith("com.sun.crypto") || top.startsWith("javax.crypto")
        || top.startsWith("io.netty.handler.ssl")) {
      return "TLS";
    }
    if (top.startsWith("com.google.protobuf")) {
      return "protobuf";
    }
    if (top.startsWith("io.grpc")) {
      return "grpc";
    }
    if (top.startsWith("io.netty.handler.codec.http2")) {
      return "netty http2";
    }
    if (top.startsWith("io.netty.buffer") || top.startsWith("io.netty.util.internal.PlatformDependent")) {
      return "netty buffers (alloc, copy)";
    }
    if (top.startsWith("io.netty")) {
      return "netty other (I/O, pipeline)";
    }
    if (top.startsWith("jdk.internal.misc.Unsafe") || top.startsWith("java.nio")) {
      return "JDK memory copies";
    }
    return "JDK other";
  }

  private static Map<String, Double> shares(Map<String, Integer> counts, int total, int limit) {
    return counts.entrySet().stream()
        .sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
        .limit(limit)
        .collect(Collectors.toMap(Map.Entry::getKey, e -> 100.0 * e.getValue() / Math.max(1, total),
            (a, b) -> a, LinkedHashMap::new));
  }
}
