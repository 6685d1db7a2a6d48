package dev.wsgrpc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.internal.OptionValues;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The shared options reach the library under the library's names. */
class ClientOptionsTest {

  private static WebSocketClientOptions parse(String... args) {
    ProbeCommand probe = new ProbeCommand();
    new CommandLine(probe).parseArgs(args);
    return probe.client.toOptions(probe.url);
  }

  @Test
  void theFrameLimitsAlsoTakeTheGatewaysNames() {
    WebSocketClientOptions o = parse("ws://h/", "--max-inbound-frame", "2097152", "--max-outbound-frame", "16384");
    assertEquals(2097152, o.settings().maxInboundFramePayload());
    assertEquals(16384, o.settings().maxOutboundFramePayload());
  }

  /** A refusal names the option as it was typed: the gateway's name was refused under the library's. */
  @Test
  void aRefusedFrameLimitIsNamedAsItWasGiven() {
    assertEquals("--max-inbound-frame: 0 (expected: > 0)", assertThrows(IllegalArgumentException.class,
        () -> parse("ws://h/", "--max-inbound-frame", "0")).getMessage());
    assertEquals("--max-outbound-frame: -1 (expected: > 0)", assertThrows(IllegalArgumentException.class,
        () -> parse("ws://h/", "--max-outbound-frame=-1")).getMessage());
    assertEquals("--max-outbound-frame-payload: 0 (expected: > 0)", assertThrows(IllegalArgumentException.class,
        () -> parse("ws://h/", "--max-outbound-frame-payload", "0")).getMessage());
  }

  @Test
  void everySharedOptionReachesTheLibrary() {
    WebSocketClientOptions o = parse("wss://edge.example.com/grpc",
        "--header", "Authorization: Bearer abc", "--header", "X-Tenant:blue",
        "--proxy", "http://alice:p%40ss@proxy.corp:3128",
        "--use-system-proxy", "false",
        "--connect-to", "192.0.2.7:8443",
        "--subprotocols", "wsgrpc.v1,binary",
        "--origin", "https://app.example.com",
        "--handshake-timeout", "5s", "--ping-interval", "500ms", "--ping-timeout", "2s",
        "--max-inbound-frame-payload", "2097152", "--max-outbound-frame-payload", "16384");
    assertEquals("Bearer abc", o.headers().get("Authorization"));
    assertEquals("blue", o.headers().get("X-Tenant"));
    assertEquals("proxy.corp", o.proxy().host());
    assertEquals(3128, o.proxy().port());
    assertEquals("alice", o.proxy().username());
    assertFalse(o.proxy().useSystemProxy());
    assertEquals("dns:///192.0.2.7:8443", o.target());
    assertEquals("edge.example.com", o.hostHeader());
    assertEquals(Arrays.asList("wsgrpc.v1", "binary"), o.subprotocols());
    assertEquals("https://app.example.com", o.origin());
    assertEquals(Duration.ofSeconds(5), o.settings().handshakeTimeout());
    assertEquals(Duration.ofMillis(500), o.settings().pingInterval());
    assertEquals(Duration.ofSeconds(2), o.settings().pingTimeout());
    assertEquals(2097152, o.settings().maxInboundFramePayload());
    assertEquals(16384, o.settings().maxOutboundFramePayload());
  }

  @Test
  void aTrustFileThatHoldsNoCertificatesIsRefusedUnderItsFlag(@TempDir Path dir) throws Exception {
    Path pem = Files.writeString(dir.resolve("ca.pem"), "not a certificate\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> parse("wss://h/grpc", "--trust-certificates", pem.toString()));
    assertTrue(e.getMessage().startsWith("--trust-certificates: " + pem + " (expected: a PEM file of certificates; "),
        e.getMessage());
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> parse("wss://h/grpc", "--trust-certificates", dir.resolve("absent.pem").toString()));
    assertEquals("--trust-certificates: " + dir.resolve("absent.pem") + " (expected: a readable PEM file)",
        missing.getMessage());
  }

  @Test
  void defaultsAreTheLibrarys() {
    WebSocketClientOptions o = parse("ws://h/grpc");
    WebSocketClientOptions library = WebSocketClientOptions.newBuilder("ws://h/grpc").build();
    assertEquals(library.toString(), o.toString());
    assertNull(o.proxy().host());
  }

  @Test
  void anEmptySubprotocolListOffersNone() {
    assertEquals(Collections.emptyList(), parse("ws://h/grpc", "--subprotocols=").subprotocols());
  }

  @Test
  void proxyCredentialsMayComeSeparately() {
    WebSocketClientOptions o = parse("ws://h/grpc", "--proxy", "proxy:8080", "--proxy-credentials", "bob:x:y");
    assertEquals("proxy", o.proxy().host());
    assertEquals("bob", o.proxy().username());
  }

  @Test
  void mistakesNameTheOptionAndWhatWasExpected() {
    assertEquals("--header: <redacted> (expected: NAME:VALUE; found no ':')",
        assertThrows(IllegalArgumentException.class, () -> parse("ws://h/", "--header", "nocolon")).getMessage());
    assertEquals("--proxy: <redacted>@proxy (expected: [http://][USER:PASSWORD@]HOST:PORT)",
        assertThrows(IllegalArgumentException.class, () -> parse("ws://h/", "--proxy", "u:secret@proxy"))
            .getMessage());
    // A port out of range: it said "--proxy: 0 (expected: between 1 and 65535)", the port alone.
    assertEquals("--proxy: <redacted>@proxy:0 (expected: [http://][USER:PASSWORD@]HOST:PORT)",
        assertThrows(IllegalArgumentException.class, () -> parse("ws://h/", "--proxy", "u:secret@proxy:0"))
            .getMessage());
    assertEquals("--connect-to: h:x (expected: HOST:PORT)",
        assertThrows(IllegalArgumentException.class, () -> parse("ws://h/", "--connect-to", "h:x")).getMessage());
  }

  /** Without its colon the argument may be the value alone, and any header's value may be a secret. */
  @Test
  void aRefusedHeaderIsNeverEchoed() {
    assertEquals("--header: <redacted> (expected: NAME:VALUE; found no ':')", assertThrows(
        IllegalArgumentException.class, () -> parse("ws://h/", "--header", "Bearer SECRET-TOKEN")).getMessage());
    assertEquals("--header: <redacted> (expected: NAME:VALUE; found no NAME before ':')", assertThrows(
        IllegalArgumentException.class, () -> parse("ws://h/", "--header", ": SECRET-TOKEN")).getMessage());
    assertEquals("--header X-Auth-Key: <redacted> (expected: printable Latin-1 without line breaks; found U+0001 at "
        + "index 6)", assertThrows(IllegalArgumentException.class,
            () -> parse("ws://h/", "--header", "X-Auth-Key: SECRET\u0001TOKEN")).getMessage());
    assertEquals("--header name: <redacted> (expected: an HTTP token; found ' ' at index 13)", assertThrows(
        IllegalArgumentException.class, () -> parse("ws://h/", "--header", "Authorization Bearer SECRET:TOKEN"))
            .getMessage());
    assertEquals("--header name: Host (expected: not one the handshake sets itself)", assertThrows(
        IllegalArgumentException.class, () -> parse("ws://h/", "--header", "Host: other")).getMessage());
  }

  @Test
  void aValueTheLibraryRefusesIsReportedUnderTheOption() {
    assertEquals("--ping-interval: 50ms (expected: 0 to send no pings, or at least 100 ms)",
        assertThrows(IllegalArgumentException.class, () -> parse("ws://h/", "--ping-interval", "50ms"))
            .getMessage());
    assertEquals("--max-inbound-frame-payload: 0 (expected: > 0)", assertThrows(IllegalArgumentException.class,
        () -> parse("ws://h/", "--max-inbound-frame-payload", "0")).getMessage());
    assertEquals("--subprotocols: a b (expected: an HTTP token)", assertThrows(IllegalArgumentException.class,
        () -> parse("ws://h/", "--subprotocols", "a b")).getMessage());
    assertEquals("--handshake-timeout: 1000000h (expected: at most 2147483647 ms, about 24.8 days)", assertThrows(
        IllegalArgumentException.class, () -> parse("ws://h/", "--handshake-timeout", "1000000h")).getMessage());
    assertEquals("--ping-interval: 600h (expected: at most 2147483647 ms, about 24.8 days)", assertThrows(
        IllegalArgumentException.class, () -> parse("ws://h/", "--ping-interval", "600h")).getMessage());
  }

  /** 0.0004s was read as 0: no pings at all, without a word. */
  @Test
  void aFractionOfAMillisecondIsNotZero() {
    assertEquals("--ping-interval: 0.0004s (expected: 0 to send no pings, or at least 100 ms)", assertThrows(
        IllegalArgumentException.class, () -> parse("ws://h/", "--ping-interval", "0.0004s")).getMessage());
    assertEquals("--ping-timeout: 0.0004s (expected: at least 1 ms)", assertThrows(
        IllegalArgumentException.class, () -> parse("ws://h/", "--ping-timeout", "0.0004")).getMessage());
  }

  /** What probe printed on stderr and its exit code. */
  private static String probeRefusal(String... args) {
    java.io.StringWriter err = new java.io.StringWriter();
    CommandLine commandLine = new CommandLine(new ProbeCommand()).setErr(new java.io.PrintWriter(err, true))
        .setOut(new java.io.PrintWriter(new java.io.StringWriter(), true));
    int exit = commandLine.execute(args);
    return exit + " " + err.toString().trim();
  }

  /**
   * probe's own durations are set on timers too: --duration 999999999999h overflowed Duration.toNanos() after the
   * path had been walked, and a --timeout of Long.MAX_VALUE ms overflowed into a deadline already past.
   */
  @Test
  void probesDurationsAreRefusedBeforeAnythingIsDialled() {
    String atMost = " (expected: at most 2147483647 ms, about 24.8 days)";
    assertEquals("2 probe: --duration: 999999999999h" + atMost,
        probeRefusal("ws://127.0.0.1:1/", "--duration", "999999999999h"));
    assertEquals("2 probe: --timeout: 9223372036854775807ms" + atMost,
        probeRefusal("ws://127.0.0.1:1/", "--timeout", "9223372036854775807ms"));
    assertEquals("2 probe: --timeout: 0.0004s (expected: at least 1 ms)",
        probeRefusal("ws://127.0.0.1:1/", "--timeout", "0.0004s"));
    assertEquals("2 probe: --timeout: 0s (expected: > 0)", probeRefusal("ws://127.0.0.1:1/", "--timeout", "0"));
    assertEquals("2 probe: --duration: -1s (expected: >= 0)",
        probeRefusal("ws://127.0.0.1:1/", "--duration", "-1s"));
  }

  @Test
  void durationsReadAsPeopleWriteThem() {
    assertEquals(Duration.ofMillis(250), OptionValues.parseDuration("250ms"));
    assertEquals(Duration.ofMillis(1500), OptionValues.parseDuration("1.5s"));
    assertEquals(Duration.ofMinutes(2), OptionValues.parseDuration("2m"));
    assertEquals(Duration.ofSeconds(3), OptionValues.parseDuration("3"));
    assertEquals(Duration.ofSeconds(10), OptionValues.parseDuration("PT10S"));
    assertEquals("soon (expected: a duration such as 500ms, 10s, 2m or 1h; a number without a unit is seconds)",
        assertThrows(IllegalArgumentException.class, () -> OptionValues.parseDuration("soon")).getMessage());
  }
}
