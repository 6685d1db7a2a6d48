package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The builder validates every value with {@code name: value (expected: ...)} and documents its defaults. */
class OkHttpWebSocketOptionsTest {

  private static String refusal(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void defaultsMatchTheNettyClient() {
    OkHttpWebSocketOptions o = OkHttpWebSocketOptions.newBuilder("wss://edge.example.com/grpc").build();
    assertEquals(List.of("wsgrpc.v1"), o.subprotocols());
    assertEquals(10_000, o.handshakeTimeoutMillis());
    assertEquals(30_000, o.pingIntervalMillis());
    assertEquals(65_536, o.maxOutboundFramePayload());
    assertEquals(1_048_576, o.maxInboundFramePayload());
    assertTrue(o.useSystemProxy());
    assertEquals("dns:///edge.example.com:443", o.target());
    assertEquals("edge.example.com:443", o.authority());
  }

  @Test
  void urlMustBeWsOrWssWithAHostAndNoCredentials() {
    assertEquals("url: http://h/grpc (expected: a ws:// or wss:// URL)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("http://h/grpc")));
    assertEquals("url: ws://<redacted>@h/grpc (expected: no user:password@ (send credentials as headers))",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://alice:secret@h/grpc")));
    assertEquals("url: ws://h/grpc#x (expected: no #fragment)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://h/grpc#x")));
  }

  @Test
  void valuesOutOfRangeAreRefusedWithTheValue() {
    OkHttpWebSocketOptions.Builder b = OkHttpWebSocketOptions.newBuilder("ws://h/grpc");
    assertEquals("maxOutboundFramePayload: 0 (expected: > 0)", refusal(() -> b.maxOutboundFramePayload(0)));
    assertEquals("maxInboundFramePayload: -1 (expected: > 0)", refusal(() -> b.maxInboundFramePayload(-1)));
    assertEquals("handshakeTimeout: 0 SECONDS (expected: > 0)", refusal(() -> b.handshakeTimeout(0, TimeUnit.SECONDS)));
    assertEquals("pingInterval: -1 SECONDS (expected: >= 0)", refusal(() -> b.pingInterval(-1, TimeUnit.SECONDS)));
    assertEquals("proxy port: 0 (expected: between 1 and 65535)", refusal(() -> b.proxy("p", 0)));
    assertEquals("subprotocol: a b (expected: an HTTP token)", refusal(() -> b.subprotocols("a b")));
  }

  @Test
  void headersTheHandshakeSetsAreRefusedAndSecretsAreNotQuoted() {
    OkHttpWebSocketOptions.Builder b = OkHttpWebSocketOptions.newBuilder("ws://h/grpc");
    assertEquals("header name: Sec-WebSocket-Key (expected: not one the handshake sets itself)",
        refusal(() -> b.header("Sec-WebSocket-Key", "x")));
    assertEquals("header Authorization: <redacted> (expected: printable ASCII without line breaks)",
        refusal(() -> b.header("Authorization", "Bearer a\r\nX: y")));
    assertEquals("bearer token: <redacted> (expected: an HTTP token (letters, digits, -._~+ and the like))",
        refusal(() -> b.bearerTokenSubprotocol("a b")));
  }

  @Test
  void tlsSettingsNeedWssAndAreSetOneWay() {
    assertEquals("url: ws://h/grpc (expected: a wss:// URL when sslSocketFactory, trustCertificates or "
        + "certificatePinner is set)",
        refusal(() -> OkHttpWebSocketOptions.newBuilder("ws://h/grpc").trustCertificates(new File("ca.pem")).build()));
  }

  @Test
  void bearerTokenIsOfferedLastAndNeverShown() {
    OkHttpWebSocketOptions o = OkHttpWebSocketOptions.newBuilder("wss://h/grpc?token=abc")
        .bearerTokenSubprotocol("s3cr3t").header("Authorization", "Bearer s3cr3t").build();
    assertEquals(Arrays.asList("wsgrpc.v1", "bearer.s3cr3t"), o.offeredSubprotocols());
    assertFalse(o.toString().contains("s3cr3t"), o.toString());
    assertFalse(o.toString().contains("abc"), o.toString());
  }

  @Test
  void connectToDialsElsewhereButKeepsTheUrlsAuthority() {
    OkHttpWebSocketOptions o = OkHttpWebSocketOptions.newBuilder("wss://edge.example.com/grpc")
        .connectTo("[2001:db8::1]", 8443).build();
    assertEquals("dns:///[2001:db8::1]:8443", o.target());
    assertEquals("edge.example.com:443", o.authority());
  }
}
