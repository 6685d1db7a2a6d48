package dev.wsgrpc.core.internal;

import dev.wsgrpc.core.TunnelSettings;
import java.time.Duration;

/** Argument checks that throw an {@link InvalidValueException}: {@code "name: value (expected: ...)"}. */
public final class Preconditions {

  /**
   * What a refusal of a longer duration than {@link TunnelSettings#MAX_DURATION_MILLIS} expects:
   * {@code "at most 2147483647 ms, about 24.8 days"}.
   */
  public static final String AT_MOST_MAX_DURATION =
      "at most " + TunnelSettings.MAX_DURATION_MILLIS + " ms, about 24.8 days";

  private static final Duration MAX_DURATION = Duration.ofMillis(TunnelSettings.MAX_DURATION_MILLIS);
  private static final Duration ONE_MILLI = Duration.ofMillis(1);

  /** Returns {@code value} when it is positive, else throws naming the argument and its value. */
  public static int checkPositive(int value, String name) {
    if (value <= 0) {
      throw new InvalidValueException(name, value, "> 0");
    }
    return value;
  }

  /** Returns {@code value} when it lies in {@code [min, max]}, else throws naming the argument and its value. */
  public static int checkInRange(int value, int min, int max, String name) {
    if (value < min || value > max) {
      throw new InvalidValueException(name, value, min + " <= " + name + " <= " + max);
    }
    return value;
  }

  /** Throws {@code IllegalArgumentException("name: value (expected: what)")} unless {@code ok}. */
  public static void checkArgument(boolean ok, String name, Object value, String expected) {
    if (!ok) {
      throw new InvalidValueException(name, value, expected);
    }
  }

  /**
   * Returns {@code value} when it is a duration a timer takes: at least 1 ms and at most
   * {@link TunnelSettings#MAX_DURATION_MILLIS} ms (about 24.8 days). Timers are scheduled in whole milliseconds
   * (where a shorter one would become 0, which means "none" or is refused) or in nanoseconds of a {@code long} (where
   * a much longer one would overflow when the timer is set, long after the value was taken). Throws
   * {@code "name: 0s (expected: > 0)"}, {@code "name: 0.0005s (expected: at least 1 ms)"} or
   * {@code "name: 999999999999h (expected: at most 2147483647 ms, about 24.8 days)"}, and
   * {@code NullPointerException(name)} for null.
   */
  public static Duration checkDuration(Duration value, String name) {
    checkNotNull(value, name);
    checkArgument(!value.isNegative() && !value.isZero(), name, value, "> 0");
    checkArgument(value.compareTo(ONE_MILLI) >= 0, name, value, "at least 1 ms");
    checkArgument(value.compareTo(MAX_DURATION) <= 0, name, value, AT_MOST_MAX_DURATION);
    return value;
  }

  /**
   * {@link #checkDuration}, or zero, where zero turns off what the duration times (an idle timeout, a keepalive).
   * Throws {@code "name: -1s (expected: >= 0)"}, {@code "name: 0.0005s (expected: 0, or at least 1 ms)"} (a
   * positive value that would round down to 0 ms and silently turn the timer off) or
   * {@code "name: 999999999999h (expected: at most 2147483647 ms, about 24.8 days)"}.
   */
  public static Duration checkDurationOrZero(Duration value, String name) {
    checkNotNull(value, name);
    checkArgument(!value.isNegative(), name, value, ">= 0");
    checkArgument(value.isZero() || value.compareTo(ONE_MILLI) >= 0, name, value, "0, or at least 1 ms");
    checkArgument(value.compareTo(MAX_DURATION) <= 0, name, value, AT_MOST_MAX_DURATION);
    return value;
  }

  /** Returns {@code value}, or throws {@code NullPointerException(name)} when it is null. */
  public static <T> T checkNotNull(T value, String name) {
    if (value == null) {
      throw new NullPointerException(name);
    }
    return value;
  }

  private Preconditions() {}
}
