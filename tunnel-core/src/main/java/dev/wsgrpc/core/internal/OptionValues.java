package dev.wsgrpc.core.internal;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Locale;

/**
 * How the command-line tools read values, in one place for both jars ({@code wsgrpc-cli.jar} and the gateway's
 * {@code tunnel-server.jar}): durations and {@code HOST:PORT}.
 */
public final class OptionValues {

  /** What a duration looks like, as refusals say it: every form {@link #parseDuration} reads but ISO-8601. */
  public static final String DURATION_FORMS = "a duration such as 500ms, 10s, 2m or 1h; a number without a unit is "
      + "seconds";

  /** A number of seconds as {@link #parseDuration} reads it: {@code 2}, {@code 1.5}, {@code .5}, {@code 1e3}. */
  private static final java.util.regex.Pattern SECONDS =
      java.util.regex.Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)(e[+-]?\\d{1,3})?");
  private static final BigInteger NANOS_PER_SECOND = BigInteger.valueOf(1_000_000_000);

  /**
   * Reads {@code 500ms}, {@code 10s} or {@code 1.5s}, {@code 2m}, {@code 1h}, a bare number of seconds
   * ({@code 0}, {@code 2.5}) or ISO-8601 ({@code PT30S}). Fractions of a second are kept to the nanosecond, and one
   * below a nanosecond counts as one: a value that is not 0 never reads as 0 (which turns timers off), so an option
   * that needs at least 1 ms can refuse {@code 0.0004s} rather than take it as 0.
   *
   * @throws IllegalArgumentException {@code "soon (expected: a duration such as 500ms, 10s, 2m or 1h; ...)"}
   */
  public static Duration parseDuration(String value) {
    String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
    try {
      if (v.startsWith("p")) {
        return Duration.parse(v.toUpperCase(Locale.ROOT));
      }
      if (v.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
      }
      if (v.endsWith("s")) {
        return seconds(v.substring(0, v.length() - 1));
      }
      if (v.endsWith("m")) {
        return Duration.ofMinutes(Long.parseLong(v.substring(0, v.length() - 1)));
      }
      if (v.endsWith("h")) {
        return Duration.ofHours(Long.parseLong(v.substring(0, v.length() - 1)));
      }
      if (!v.isEmpty() && Character.isDigit(v.charAt(v.length() - 1))) {
        return seconds(v);
      }
    } catch (RuntimeException e) {
      // reported below
    }
    throw new IllegalArgumentException(value + " (expected: " + DURATION_FORMS + ")");
  }

  /** {@code number} seconds, exactly; a fraction of a nanosecond is rounded away from zero. */
  private static Duration seconds(String number) {
    if (!SECONDS.matcher(number).matches()) {
      throw new IllegalArgumentException(number);
    }
    BigInteger nanos = new BigDecimal(number).movePointRight(9).setScale(0, RoundingMode.UP).toBigInteger();
    BigInteger[] secondsAndNanos = nanos.divideAndRemainder(NANOS_PER_SECOND);
    return Duration.ofSeconds(secondsAndNanos[0].longValueExact(), secondsAndNanos[1].longValue());
  }

  /**
   * Writes a duration the way people write them and {@link #parseDuration} reads them back: in the largest of
   * {@code h}, {@code m}, {@code s} and {@code ms} that holds it whole ({@code 30s}, {@code 500ms}, {@code 2m},
   * {@code 1500ms}, {@code 0s}); with a fraction of a millisecond, in seconds with decimals ({@code 0.0004s},
   * {@code 2147483.647000001s}), never in ISO-8601 ({@code PT0.0004S}). Every message that shows a duration writes it
   * here ({@link InvalidValueException} too).
   */
  public static String formatDuration(Duration duration) {
    long seconds = duration.getSeconds();
    int nanos = duration.getNano();
    if (duration.isNegative() && seconds != Long.MIN_VALUE) {
      return "-" + formatDuration(duration.negated());
    }
    if (nanos % 1_000_000 != 0) {
      return decimalSeconds(duration);
    }
    if (nanos != 0) {
      try {
        return Math.addExact(Math.multiplyExact(seconds, 1000), nanos / 1_000_000) + "ms";
      } catch (ArithmeticException e) {
        return decimalSeconds(duration); // more milliseconds than a long holds: a refused value
      }
    }
    if (seconds == 0) {
      return "0s";
    }
    if (seconds % 3600 == 0) {
      return seconds / 3600 + "h";
    }
    if (seconds % 60 == 0) {
      return seconds / 60 + "m";
    }
    return seconds + "s";
  }

  /** {@code duration} in seconds with as many decimals as it needs, e.g. {@code 0.0004s}. */
  private static String decimalSeconds(Duration duration) {
    return BigDecimal.valueOf(duration.getSeconds()).add(BigDecimal.valueOf(duration.getNano(), 9))
        .stripTrailingZeros().toPlainString() + "s";
  }

  /**
   * Reads {@code HOST:PORT}, IPv6 literals in brackets, as the authority of a URI ({@link URI} parses it).
   *
   * @param option how a refusal names the value, e.g. {@code --connect-to}
   * @param allowPortZero whether port 0 (pick a free port, for listening) is accepted
   * @throws InvalidValueException {@code "--connect-to: nowhere (expected: HOST:PORT)"}
   */
  public static InetSocketAddress parseHostAndPort(String value, String option, boolean allowPortZero) {
    try {
      URI uri = new URI("tcp://" + value.trim());
      String host = uri.getHost();
      if (host != null && uri.getRawPath().isEmpty() && uri.getRawQuery() == null && uri.getRawFragment() == null
          && uri.getRawUserInfo() == null && uri.getPort() >= (allowPortZero ? 0 : 1) && uri.getPort() <= 65535) {
        return InetSocketAddress.createUnresolved(
            host.startsWith("[") ? host.substring(1, host.length() - 1) : host, uri.getPort());
      }
    } catch (URISyntaxException | RuntimeException e) {
      // reported below
    }
    throw new InvalidValueException(option, value, "HOST:PORT");
  }

  /** {@code host:port} as {@link #parseHostAndPort} reads it: IPv6 literals in brackets. */
  public static String hostAndPort(String host, int port) {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  private OptionValues() {}
}
