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
    assertEquals("PT0.0000015S", OptionValues.formatDuration(Duration.ofNanos(1500)));
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
