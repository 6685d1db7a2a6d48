package dev.wsgrpc.core.internal;

/** Argument checks that throw an {@link InvalidValueException}: {@code "name: value (expected: ...)"}. */
public final class Preconditions {

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

  /** Returns {@code value}, or throws {@code NullPointerException(name)} when it is null. */
  public static <T> T checkNotNull(T value, String name) {
    if (value == null) {
      throw new NullPointerException(name);
    }
    return value;
  }

  private Preconditions() {}
}
