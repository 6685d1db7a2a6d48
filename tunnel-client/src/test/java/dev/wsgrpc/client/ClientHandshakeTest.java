package dev.wsgrpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.wsgrpc.core.internal.Http11Tokens;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.api.Test;

/**
 * The upgrade request and the checks of the answer, as values; {@link ClientUpgradeHandlerTest} covers them on the
 * wire.
 */
class ClientHandshakeTest {

  private static final WebSocketClientOptions OPTIONS =
      WebSocketClientOptions.newBuilder("ws://example.com/grpc?token=t").build();
  private static final String KEY = Http11Tokens.newKey();

  private static HttpResponse switching(String subprotocol) {
    HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
    r.headers().set("Upgrade", "websocket").set("Connection", "Upgrade")
        .set("Sec-WebSocket-Accept", Http11Tokens.acceptFor(KEY));
    if (subprotocol != null) {
      r.headers().set("Sec-WebSocket-Protocol", subprotocol);
    }
    return r;
  }

  @Test
  void requestCarriesTheCallersUserAgentUnlessAHeaderReplacesIt() {
    FullHttpRequest request = ClientHandshake.newRequest(OPTIONS, KEY, "wsgrpc-cli");
    assertEquals("/grpc?token=t", request.uri());
    assertEquals("wsgrpc-cli", request.headers().get("User-Agent"));
    assertEquals(KEY, request.headers().get("Sec-WebSocket-Key"));
    assertEquals("wsgrpc.v1", request.headers().get("Sec-WebSocket-Protocol"));
    assertSame(Unpooled.EMPTY_BUFFER, request.content(), "no body, nothing to release");
    FullHttpRequest replaced = ClientHandshake.newRequest(
        OPTIONS.toBuilder().header("User-Agent", "acme/2.0").build(), KEY, "wsgrpc-cli");
    assertEquals("acme/2.0", replaced.headers().get("User-Agent"));
  }

  @Test
  void aGood101IsAcceptedWithItsSubprotocol() {
    assertNull(ClientHandshake.check(OPTIONS, KEY, switching("wsgrpc.v1")));
    assertEquals("wsgrpc.v1", ClientHandshake.subprotocol(switching("wsgrpc.v1")));
    assertNull(ClientHandshake.subprotocol(switching(null)));
  }

  @Test
  void aRefusalIsDescribedWithTheRedactedUrlTheServerAndAHint() {
    HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.UPGRADE_REQUIRED);
    r.headers().set("Sec-WebSocket-Version", "8").set("Server", "old/1.0");
    assertEquals("expected HTTP 101 but was 426 Upgrade Required from ws://example.com/grpc?<redacted> "
        + "(Server: old/1.0): the server speaks WebSocket version 8",
        ClientHandshake.check(OPTIONS, KEY, r));
  }

  @Test
  void aWrongAcceptIsQuotedAgainstTheExpectedValue() {
    HttpResponse r = switching(null);
    r.headers().set("Sec-WebSocket-Accept", "nope");
    assertEquals("expected Sec-WebSocket-Accept '" + Http11Tokens.acceptFor(KEY) + "' but was 'nope' from "
        + "ws://example.com/grpc?<redacted>", ClientHandshake.check(OPTIONS, KEY, r));
  }
}
