package dev.wsgrpc.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails the test class during which Netty reports a leaked {@link ByteBuf}. Registered for every test through JUnit's
 * extension auto-detection (this jar's {@code junit-platform.properties} turns it on), so a LEAK report fails the build instead of
 * scrolling past in a log.
 *
 * <p>Netty finds a leak when the garbage collector has reclaimed a buffer that was never released, and reports it on
 * a later allocation. After each test class this extension runs the collector and allocates until pending reports
 * are drained, then fails with every report it saw. A leak can surface one class late; the report's access records
 * say where the buffer was last touched.
 */
public final class NettyLeakCheck implements BeforeAllCallback, AfterAllCallback {

  private static final List<String> leaks = new ArrayList<>();
  private static boolean installed;

  /** Hooks the ByteBuf leak detector once per JVM. */
  static synchronized void install() {
    if (installed) {
      return;
    }
    installed = true;
    if (ResourceLeakDetector.getLevel() != ResourceLeakDetector.Level.PARANOID) {
      System.err.println("NettyLeakCheck: leak detection level is " + ResourceLeakDetector.getLevel()
          + "; the build runs tests with -Dio.netty.leakDetection.level=paranoid");
    }
    try {
      Class<?> abstractByteBuf = Class.forName("io.netty.buffer.AbstractByteBuf");
      Field field = abstractByteBuf.getDeclaredField("leakDetector");
      field.setAccessible(true);
      ResourceLeakDetector<?> detector = (ResourceLeakDetector<?>) field.get(null);
      detector.setLeakListener((resourceType, records) -> {
        synchronized (leaks) {
          leaks.add("LEAK: " + resourceType + " was not released before it was garbage-collected." + records);
        }
      });
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException("cannot hook Netty's ByteBuf leak detector", e);
    }
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    install();
  }

  /**
   * Hooks the leak detector in a JVM that a test starts outside JUnit (a benchmark's child JVM, say); read what it
   * found with {@link #drainReports}.
   */
  public static void watch() {
    install();
  }

  /** Lets Netty report every leak it can find now, and returns (and forgets) the reports since the last call. */
  public static List<String> drainReports() {
    drain();
    synchronized (leaks) {
      List<String> found = new ArrayList<>(leaks);
      leaks.clear();
      return found;
    }
  }

  @Override
  public void afterAll(ExtensionContext context) {
    List<String> found = drainReports();
    if (!found.isEmpty()) {
      throw new AssertionError(found.size() + " ByteBuf leak(s) reported by Netty during or before "
          + context.getDisplayName() + ":\n" + String.join("\n\n", found));
    }
  }

  /** Lets the collector reclaim unreleased buffers, then allocates so that Netty reports them. */
  private static void drain() {
    for (int round = 0; round < 3; round++) {
      System.gc();
      for (int i = 0; i < 64; i++) {
        ByteBuf a = PooledByteBufAllocator.DEFAULT.buffer(8);
        a.release();
        ByteBuf b = UnpooledByteBufAllocator.DEFAULT.buffer(8);
        b.release();
      }
    }
  }
}
