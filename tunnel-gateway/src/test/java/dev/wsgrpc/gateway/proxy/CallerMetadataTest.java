package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.WebSocketServers;
import io.grpc.Attributes;
import io.grpc.InternalMetadata;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.List;
import org.junit.jupiter.api.Test;

class CallerMetadataTest {

  @Test
  void everyHeaderWithTheReservedPrefixIsStrippedAndOthersKept() {
    Metadata headers = new Metadata();
    headers.put(CallerMetadata.CLIENT_ADDRESS, "10.6.6.6");
    headers.put(Metadata.Key.of("wsgrpc-future", Metadata.ASCII_STRING_MARSHALLER), "x");
    headers.put(Metadata.Key.of("wsgrpc-future-bin", Metadata.BINARY_BYTE_MARSHALLER), new byte[] {1});
    headers.put(Metadata.Key.of("x-tenant", Metadata.ASCII_STRING_MARSHALLER), "blue");
    assertEquals("[x-tenant]", CallerMetadata.withoutReserved(headers).keys().toString());
  }

  @Test
  void namesThatNoKeyCanHoldAreStrippedOrKept() {
    // HTTP/2 allows them, gRPC's Metadata.Key does not: the copy is made from the wire form.
    Metadata headers = InternalMetadata.newMetadata(
        bytes("wsgrpc-forged!"), bytes("yes"), bytes("x-odd~"), bytes("kept"), bytes("wsgrpc-x~-bin"), new byte[] {1},
        bytes("x-tenant"), bytes("blue"));
    Metadata kept = CallerMetadata.withoutReserved(headers);
    assertEquals(java.util.Set.of("x-odd~", "x-tenant"), kept.keys());
    assertEquals("blue", kept.get(Metadata.Key.of("x-tenant", Metadata.ASCII_STRING_MARSHALLER)));
  }

  @Test
  void headersWithoutTheReservedPrefixAreLeftAsTheyAre() {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("x-tenant", Metadata.ASCII_STRING_MARSHALLER), "blue");
    assertSame(headers, CallerMetadata.withoutReserved(headers));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  }

  @Test
  void theClientsForwardedForLinesAreJoinedAndEndWithTheEstablishedAddress() {
    assertEquals(List.of("10.6.6.6, 10.6.6.7, 10.6.6.8, 192.0.2.1"),
        appended(CallerMetadata.X_FORWARDED_FOR, "192.0.2.1", "10.6.6.6", " 10.6.6.7, 10.6.6.8 ", ""));
  }

  @Test
  void forwardedForIsMadeWhenAbsentAndForwardedIsNot() {
    Metadata headers = new Metadata();
    CallerMetadata.appendClient(headers, "2001:db8::7");
    assertEquals(List.of("2001:db8::7"), all(headers, CallerMetadata.X_FORWARDED_FOR));
    assertEquals(List.of(), all(headers, CallerMetadata.FORWARDED));
    assertEquals(List.of("2001:db8::7"), all(headers, CallerMetadata.X_REAL_IP));
  }

  @Test
  void forwardedGetsAForElementLastWithIpv6QuotedAndBracketed() {
    assertEquals(List.of("for=10.6.6.6;proto=https, for=\"[2001:db8::6]:443\", by=10.0.0.1, for=\"[2001:db8::7]\""),
        appended(CallerMetadata.FORWARDED, "2001:db8::7", "for=10.6.6.6;proto=https",
            "for=\"[2001:db8::6]:443\", by=10.0.0.1"));
    assertEquals(List.of("for=10.6.6.6, for=192.0.2.1"),
        appended(CallerMetadata.FORWARDED, "192.0.2.1", "for=10.6.6.6"));
  }

  @Test
  void aForwardedValueThatLeavesAQuoteOpenIsReplacedSoItCannotSwallowTheAppendedElement() {
    for (String open : List.of("for=\"10.6.6.6", "for=\"10.6.6.6\\\"", "for=\"x\\", "for=a, for=\"b\", \"")) {
      assertEquals(List.of("for=192.0.2.1"), appended(CallerMetadata.FORWARDED, "192.0.2.1", open), open);
    }
    assertEquals(List.of("for=\"a,\\\"b\", for=192.0.2.1"),
        appended(CallerMetadata.FORWARDED, "192.0.2.1", "for=\"a,\\\"b\""));
  }

  @Test
  void realIpIsTheEstablishedAddressWhateverTheClientSent() {
    assertEquals(List.of("192.0.2.1"), appended(CallerMetadata.X_REAL_IP, "192.0.2.1", "10.6.6.6", "10.6.6.7"));
  }

  @Test
  void withoutAnAddressNoneOfTheClientsForwardingHeadersIsLeft() {
    Metadata headers = new Metadata();
    headers.put(CallerMetadata.X_FORWARDED_FOR, "10.6.6.6");
    headers.put(CallerMetadata.FORWARDED, "for=10.6.6.6");
    headers.put(CallerMetadata.X_REAL_IP, "10.6.6.6");
    headers.put(Metadata.Key.of("x-tenant", Metadata.ASCII_STRING_MARSHALLER), "blue");
    CallerMetadata.appendClient(headers, null);
    assertEquals(java.util.Set.of("x-tenant"), headers.keys());
  }

  @Test
  void anAddressIsAForwardedNodeAsRfc7239WritesIt() {
    assertEquals("192.0.2.1", CallerMetadata.forwardedNode("192.0.2.1"));
    assertEquals("\"[2001:db8:0:0:0:0:0:7]\"", CallerMetadata.forwardedNode("2001:db8:0:0:0:0:0:7"));
    assertEquals("\"[fe80:0:0:0:0:0:0:1%eth0]\"", CallerMetadata.forwardedNode("fe80:0:0:0:0:0:0:1%eth0"));
    assertEquals("unknown", CallerMetadata.forwardedNode("local:/tmp/x y"));
  }

  /** The {@code key} lines forwarded for a call from {@code address} that carried {@code lines} under {@code key}. */
  private static List<String> appended(Metadata.Key<String> key, String address, String... lines) {
    Metadata headers = new Metadata();
    for (String line : lines) {
      headers.put(key, line);
    }
    CallerMetadata.appendClient(headers, address);
    return all(headers, key);
  }

  private static List<String> all(Metadata headers, Metadata.Key<String> key) {
    List<String> lines = new java.util.ArrayList<>();
    Iterable<String> values = headers.getAll(key);
    if (values != null) {
      values.forEach(lines::add);
    }
    return lines;
  }

  @Test
  void theTransportIsNativeUnlessTheConnectionArrivedAsATunnel() {
    assertEquals("native", CallerMetadata.transport(Attributes.EMPTY));
    assertEquals("ws", CallerMetadata.transport(Attributes.newBuilder()
        .set(WebSocketServers.TUNNEL_PATH, "/grpc").build()));
  }

  @Test
  void aBrowsersCallIsLabelledWithItsProtocol() {
    assertEquals("grpc-web", CallerMetadata.transport(Attributes.newBuilder()
        .set(WebSocketServers.TUNNEL_PATH, "/pkg.Svc/M").set(WebSocketServers.BROWSER_PROTOCOL, "grpc-web").build()));
    assertEquals("json-ws", CallerMetadata.transport(Attributes.newBuilder()
        .set(WebSocketServers.TUNNEL_PATH, "/pkg.Svc/M").set(WebSocketServers.BROWSER_PROTOCOL, "json-ws").build()));
  }

  @Test
  void principalsOutsidePrintableAsciiArePercentEncoded() {
    assertEquals("CN=alice,O=Example", CallerMetadata.percentEncode("CN=alice,O=Example"));
    assertEquals("CN=J%C3%BCrgen %25 x%0A", CallerMetadata.percentEncode("CN=J\u00fcrgen % x\n"));
  }

  @Test
  void aCallsTypeIsWhatItWasSeenToBeWhenTheDescriptorDoesNotSay() {
    MethodDescriptor.MethodType unknown = MethodDescriptor.MethodType.UNKNOWN;
    assertEquals(MethodDescriptor.MethodType.UNARY, CallMetrics.type(unknown, 1, 1));
    assertEquals(MethodDescriptor.MethodType.CLIENT_STREAMING, CallMetrics.type(unknown, 5, 1));
    assertEquals(MethodDescriptor.MethodType.SERVER_STREAMING, CallMetrics.type(unknown, 1, 5));
    assertEquals(MethodDescriptor.MethodType.BIDI_STREAMING, CallMetrics.type(unknown, 2, 2));
    assertEquals(MethodDescriptor.MethodType.SERVER_STREAMING, CallMetrics.type(MethodDescriptor.MethodType.SERVER_STREAMING, 1, 0));
  }

  @Test
  void upstreamOptionsNameWhatIsWrong() {
    assertEquals("upstream: nohost (expected: HOST:PORT)", assertThrows(
        () -> UpstreamOptions.newBuilder().upstreams(java.util.List.of("nohost"))));
    assertEquals("upstream: dns:///a:1 (expected: one target URI, or HOST:PORT entries)", assertThrows(
        () -> UpstreamOptions.newBuilder().upstreams(java.util.List.of("a:1", "dns:///a:1"))));
    assertEquals("upstream: none (expected: --upstream or --upstream-file)", assertThrows(
        () -> UpstreamOptions.newBuilder().build()));
    assertEquals("upstreamRefresh: 0s (expected: > 0)", assertThrows(
        () -> UpstreamOptions.newBuilder().refreshInterval(java.time.Duration.ZERO)));
    assertEquals("upstreamRefresh: 999999999999h (expected: at most 2147483647 ms, about 24.8 days)", assertThrows(
        () -> UpstreamOptions.newBuilder().refreshInterval(java.time.Duration.ofHours(999_999_999_999L))));
    assertEquals("upstreamRefresh: 0.0005s (expected: at least 1 ms)", assertThrows(
        () -> UpstreamOptions.newBuilder().refreshInterval(java.time.Duration.ofNanos(500_000))));
    UpstreamOptions ok = UpstreamOptions.newBuilder().upstreams(java.util.List.of("a:1,[::1]:2")).build();
    assertEquals("[a:1, [::1]:2] over h2c", ok.toString());
    assertTrue(UpstreamChannel.serviceConfig("", "round_robin").containsKey("healthCheckConfig"));
    assertFalse(UpstreamChannel.serviceConfig(null, "round_robin").containsKey("healthCheckConfig"));
  }

  private static String assertThrows(org.junit.jupiter.api.function.Executable executable) {
    return org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, executable).getMessage();
  }
}
