package dev.wsgrpc.core.internal;

/**
 * A refused option value, with its parts kept apart: the option's {@linkplain #name() name} as the library calls it,
 * the {@linkplain #value() value} as shown (secrets already redacted) and what was {@linkplain #expected()
 * expected}. The message reads {@code "name: value (expected: what)"}. A program with its own option names (the
 * gateway's {@code --max-tunnels}) reports {@code value} and {@code expected} under its own name, without reading
 * the message.
 */
public final class InvalidValueException extends IllegalArgumentException {

  private static final long serialVersionUID = 1L;

  private final String name;
  private final String value;
  private final String expected;

  public InvalidValueException(String name, Object value, String expected) {
    super(name + ": " + value + " (expected: " + expected + ")");
    this.name = name;
    this.value = String.valueOf(value);
    this.expected = expected;
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
