package dev.wsgrpc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.wsgrpc.client.WebSocketClientOptions;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The shared options reach the library under the library's names. */
class ClientOptionsTest {

  private static WebSocketClientOptions parse(String... args) {
    ProbeCommand probe = new ProbeCommand();
    new CommandLine(probe).parseArgs(args);
    return probe.client.toOptions(probe.url);
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
    assertEquals("proxy.corp", o.proxyHost());
    assertEquals(3128, o.proxyPort());
    assertEquals("alice", o.proxyUsername());
    assertFalse(o.useSystemProxy());
    assertEquals("dns:///192.0.2.7:8443", o.target());
    assertEquals("edge.example.com", o.hostHeader());
    assertEquals(Arrays.asList("wsgrpc.v1", "binary"), o.subprotocols());
    assertEquals("https://app.example.com", o.origin());
    assertEquals(Duration.ofSeconds(5), o.handshakeTimeout());
    assertEquals(Duration.ofMillis(500), o.pingInterval());
    assertEquals(Duration.ofSeconds(2), o.pingTimeout());
    assertEquals(2097152, o.maxInboundFramePayload());
    assertEquals(16384, o.maxOutboundFramePayload());
  }

  @Test
  void defaultsAreTheLibrarys() {
    WebSocketClientOptions o = parse("ws://h/grpc");
    WebSocketClientOptions library = WebSocketClientOptions.newBuilder("ws://h/grpc").build();
    assertEquals(library.toString(), o.toString());
    assertNull(o.proxyHost());
  }

  @Test
  void anEmptySubprotocolListOffersNone() {
    assertEquals(Collections.emptyList(), parse("ws://h/grpc", "--subprotocols=").subprotocols());
  }

  @Test
  void proxyCredentialsMayComeSeparately() {
    WebSocketClientOptions o = parse("ws://h/grpc", "--proxy", "proxy:8080", "--proxy-credentials", "bob:x:y");
    assertEquals("proxy", o.proxyHost());
    assertEquals("bob", o.proxyUsername());
  }

  @Test
  void mistakesNameTheOptionAndWhatWasExpected() {
    assertEquals("--header: nocolon (expected: NAME:VALUE)",
        assertThrows(IllegalArgumentException.class, () -> parse("ws://h/", "--header", "nocolon")).getMessage());
    assertEquals("--proxy: <redacted>@proxy (expected: [http://][USER:PASSWORD@]HOST:PORT)",
        assertThrows(IllegalArgumentException.class, () -> parse("ws://h/", "--proxy", "u:secret@proxy"))
            .getMessage());
    assertEquals("--connect-to: h:x (expected: HOST:PORT)",
        assertThrows(IllegalArgumentException.class, () -> parse("ws://h/", "--connect-to", "h:x")).getMessage());
  }

  @Test
  void durationsReadAsPeopleWriteThem() {
    assertEquals(Duration.ofMillis(250), ClientOptions.parseDuration("250ms"));
    assertEquals(Duration.ofMillis(1500), ClientOptions.parseDuration("1.5s"));
    assertEquals(Duration.ofMinutes(2), ClientOptions.parseDuration("2m"));
    assertEquals(Duration.ofSeconds(3), ClientOptions.parseDuration("3"));
    assertEquals(Duration.ofSeconds(10), ClientOptions.parseDuration("PT10S"));
    assertEquals("soon (expected: a duration such as 500ms, 10s, 2m)",
        assertThrows(IllegalArgumentException.class, () -> ClientOptions.parseDuration("soon")).getMessage());
  }
}
