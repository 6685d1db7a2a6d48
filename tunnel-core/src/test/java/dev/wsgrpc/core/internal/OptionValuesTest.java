package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetSocketAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class OptionValuesTest {

  @Test
  void durationsReadUnitsBareSecondsAndIso() {
    assertEquals(Duration.ofMillis(250), OptionValues.parseDuration("250ms"));
    assertEquals(Duration.ofMillis(1500), OptionValues.parseDuration("1.5s"));
    assertEquals(Duration.ofSeconds(30), OptionValues.parseDuration("30s"));
    assertEquals(Duration.ofMinutes(2), OptionValues.parseDuration("2m"));
    assertEquals(Duration.ofHours(1), OptionValues.parseDuration("1h"));
    assertEquals(Duration.ofSeconds(3), OptionValues.parseDuration("3"));
    assertEquals(Duration.ZERO, OptionValues.parseDuration("0"));
    assertEquals(Duration.ofSeconds(10), OptionValues.parseDuration("PT10S"));
    assertEquals(Duration.ofSeconds(45), OptionValues.parseDuration("pt45s"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"soon", "", "s", "10x", "ms"})
  void anythingElseIsNotADuration(String value) {
    assertEquals(value + " (expected: a duration such as 500ms, 10s, 2m or 1h; a number without a unit is seconds)",
        assertThrows(IllegalArgumentException.class, () -> OptionValues.parseDuration(value)).getMessage());
  }

  /** Rounded to whole milliseconds, 0.0004s read as 0: an idle timeout or a keepalive silently off. */
  @Test
  void aFractionOfASecondIsKeptSoThatNothingButZeroReadsAsZero() {
    assertEquals(Duration.ofNanos(400_000), OptionValues.parseDuration("0.0004s"));
    assertEquals(Duration.ofNanos(400_000), OptionValues.parseDuration("0.0004"));
    assertEquals(Duration.ofNanos(1), OptionValues.parseDuration("0.0000000001s"));
    assertEquals(Duration.ofNanos(-1), OptionValues.parseDuration("-0.0000000001s"));
    assertEquals(Duration.ofNanos(1_000_500_000), OptionValues.parseDuration("1.0005s"));
    assertEquals(Duration.ofMillis(500), OptionValues.parseDuration(".5s"));
    assertEquals(Duration.ofSeconds(1000), OptionValues.parseDuration("1e3s"));
    assertEquals(Duration.ZERO, OptionValues.parseDuration("0.0s"));
    assertEquals(Duration.ofHours(999_999_999_999L), OptionValues.parseDuration("999999999999h"));
    assertEquals(Duration.ofMillis(Long.MAX_VALUE), OptionValues.parseDuration("9223372036854775807ms"));
  }

  @Test
  void durationsTooLongForADurationAreNotDurations() {
    for (String value : new String[] {"1e300s", "9223372036854775808ms", "9999999999999999h", "1ds", "infinitys"}) {
      assertEquals(value + " (expected: a duration such as 500ms, 10s, 2m or 1h; a number without a unit is seconds)",
          assertThrows(IllegalArgumentException.class, () -> OptionValues.parseDuration(value)).getMessage());
    }
  }

  /** A refusal shows the value it refused: the longest ones too, which do not fit in a long of milliseconds. */
  @Test
  void theLongestDurationsAreWrittenToo() {
    assertEquals("999999999999h", OptionValues.formatDuration(Duration.ofHours(999_999_999_999L)));
    assertEquals("9223372036854775807ms", OptionValues.formatDuration(Duration.ofMillis(Long.MAX_VALUE)));
    assertEquals("9223372036854775807s", OptionValues.formatDuration(Duration.ofSeconds(Long.MAX_VALUE)));
    assertEquals("9223372036854775807.001s",
        OptionValues.formatDuration(Duration.ofSeconds(Long.MAX_VALUE, 1_000_000)));
    assertEquals("-9223372036854775808s", OptionValues.formatDuration(Duration.ofSeconds(Long.MIN_VALUE)));
    for (Duration d : new Duration[] {Duration.ofSeconds(Long.MAX_VALUE, 1_000_000), Duration.ofSeconds(Long.MIN_VALUE),
        Duration.ofSeconds(Long.MIN_VALUE, 1)}) {
      assertEquals(d, OptionValues.parseDuration(OptionValues.formatDuration(d)));
    }
  }

  /** A refusal of a duration under 1 ms shows it as it was written ({@code 0.0004s}), not as {@code PT0.0004S}. */
  @Test
  void fractionsOfAMillisecondAreWrittenInSecondsWithDecimalsAndReadBackTheSame() {
    assertEquals("0.0004s", OptionValues.formatDuration(Duration.ofNanos(400_000)));
    assertEquals("0.0000015s", OptionValues.formatDuration(Duration.ofNanos(1500)));
    assertEquals("0.000000001s", OptionValues.formatDuration(Duration.ofNanos(1)));
    assertEquals("0.0015s", OptionValues.formatDuration(Duration.ofNanos(1_500_000)));
    assertEquals("30.0000004s", OptionValues.formatDuration(Duration.ofSeconds(30, 400)));
    assertEquals("-0.0005s", OptionValues.formatDuration(Duration.ofNanos(-500_000)));
    for (String written : new String[] {"0.0004s", "0.0000015s", "0.0015s", "30.0000004s", "-0.0005s"}) {
      assertEquals(written, OptionValues.formatDuration(OptionValues.parseDuration(written)));
    }
    assertEquals("t: 0.0004s (expected: at least 1 ms)",
        new InvalidValueException("t", Duration.ofNanos(400_000), "at least 1 ms").getMessage());
    assertEquals("0.0004s", new InvalidValueException("t", Duration.ofNanos(400_000), "at least 1 ms").value());
  }

  @Test
  void durationsAreWrittenInTheLargestWholeUnitAndReadBackTheSame() {
    assertEquals("30s", OptionValues.formatDuration(Duration.ofSeconds(30)));
    assertEquals("500ms", OptionValues.formatDuration(Duration.ofMillis(500)));
    assertEquals("1500ms", OptionValues.formatDuration(Duration.ofMillis(1500)));
    assertEquals("2m", OptionValues.formatDuration(Duration.ofSeconds(120)));
    assertEquals("90s", OptionValues.formatDuration(Duration.ofSeconds(90)));
    assertEquals("1h", OptionValues.formatDuration(Duration.ofMinutes(60)));
    assertEquals("0s", OptionValues.formatDuration(Duration.ZERO));
    assertEquals("-5s", OptionValues.formatDuration(Duration.ofSeconds(-5)));
    for (Duration d : new Duration[] {Duration.ofMillis(1500), Duration.ofHours(3), Duration.ofSeconds(-7)}) {
      assertEquals(d, OptionValues.parseDuration(OptionValues.formatDuration(d)));
    }
  }

  @Test
  void hostAndPortReadsNamesAddressesAndBracketedIpv6() {
    InetSocketAddress a = OptionValues.parseHostAndPort("edge.example.com:8443", "--x", false);
    assertEquals("edge.example.com", a.getHostString());
    assertEquals(8443, a.getPort());
    InetSocketAddress v6 = OptionValues.parseHostAndPort("[::1]:2", "--x", false);
    assertEquals("::1", v6.getHostString());
    assertEquals("[::1]:2", OptionValues.hostAndPort(v6.getHostString(), v6.getPort()));
    assertEquals(0, OptionValues.parseHostAndPort("127.0.0.1:0", "--listen", true).getPort());
  }

  @ParameterizedTest
  @ValueSource(strings = {"nowhere", "h:x", "a:99999", ":80", "h:0", "h:80/path", "u@h:80", "::1:80"})
  void anythingElseIsNotHostAndPort(String value) {
    assertEquals("--x: " + value + " (expected: HOST:PORT)", assertThrows(IllegalArgumentException.class,
        () -> OptionValues.parseHostAndPort(value, "--x", false)).getMessage());
  }
}
