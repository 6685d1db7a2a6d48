package dev.wsgrpc.core.internal;

import java.time.Duration;

/**
 * A refused option value, with its parts kept apart: the option's {@linkplain #name() name} as the library calls it,
 * the {@linkplain #value() value} as shown (secrets already redacted, durations as {@link OptionValues#formatDuration}
 * writes them) and what was {@linkplain #expected() expected}. The message reads {@code "name: value (expected:
 * what)"}. A program with its own option names (the gateway's {@code --max-tunnels}) reports {@code value} and
 * {@code expected} under its own name, without reading the message.
 */
public final class InvalidValueException extends IllegalArgumentException {

  private static final long serialVersionUID = 1L;

  private final String name;
  private final String value;
  private final String expected;

  /** @param value shown as it is, or a {@link Duration} as {@link OptionValues#formatDuration} writes it */
  public InvalidValueException(String name, Object value, String expected) {
    super(name + ": " + shown(value) + " (expected: " + expected + ")");
    this.name = name;
    this.value = shown(value);
    this.expected = expected;
  }

  /** {@code value} as a message shows it: a duration as {@code 0.0004s} or {@code 30s}, not {@code PT0.0004S}. */
  private static String shown(Object value) {
    return value instanceof Duration ? OptionValues.formatDuration((Duration) value) : String.valueOf(value);
  }

  /** The option as the library names it, e.g. {@code maxTunnels}. */
  public String name() {
    return name;
  }

  /** The refused value as shown, e.g. {@code 0}. */
  public String value() {
    return value;
  }

  /** What was expected, e.g. {@code > 0}. */
  public String expected() {
    return expected;
  }
}
