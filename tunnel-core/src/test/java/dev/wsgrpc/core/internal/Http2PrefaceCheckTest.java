package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.InboundRecorder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class Http2PrefaceCheckTest {

  private static final String PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

  private final InboundRecorder next = new InboundRecorder();

  private static ByteBuf ascii(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
  }

  @Test
  void clientPrefaceByteByByteGoesOnWholeAndTheCheckRemovesItself() {
    EmbeddedChannel ch = new EmbeddedChannel(Http2PrefaceCheck.clientPreface(), next);
    for (char c : PREFACE.toCharArray()) {
      assertTrue(next.reads.isEmpty(), "held until the preface is whole");
      ch.writeInbound(ascii(String.valueOf(c)));
    }
    ch.writeInbound(ascii("\0"));
    assertNull(ch.pipeline().get(Http2PrefaceCheck.class));
    StringBuilder passed = new StringBuilder();
    for (Object read : next.reads) {
      passed.append(((ByteBuf) read).toString(StandardCharsets.ISO_8859_1));
      assertTrue(((ByteBuf) read).release());
    }
    assertEquals(PREFACE + "\0", passed.toString());
    assertTrue(next.exceptions.isEmpty());
    assertFalse(ch.finish());
  }

  @Test
  void anythingElseFailsAsAProtocolErrorWhoseReasonFitsAClose() {
    EmbeddedChannel ch = new EmbeddedChannel(Http2PrefaceCheck.clientPreface(), next);
    ch.writeInbound(ascii("PRI * HTTP/1.1\r\n\u00ff\u0000" + "x".repeat(200)));

    assertTrue(next.reads.isEmpty());
    CorruptedWebSocketFrameException e = next.onlyException(CorruptedWebSocketFrameException.class);
    assertEquals(WebSocketCloseStatus.PROTOCOL_ERROR, e.closeStatus());
    assertEquals("expected the HTTP/2 client preface (PRI * HTTP/2.0) but the tunnel began with "
        + "'PRI * HTTP/1.1????xxxxxx...'", e.getMessage());
    assertTrue(e.getMessage().length() <= 123, "a Close reason holds 123 bytes");
    ch.writeInbound(ascii(PREFACE));
    assertTrue(next.reads.isEmpty(), "what follows is dropped");
    assertEquals(1, next.exceptions.size(), "one failure");
    assertFalse(ch.finish());
  }

  @Test
  void serverPrefaceIsASettingsFrameNotAnAck() {
    EmbeddedChannel ch = new EmbeddedChannel(Http2PrefaceCheck.serverPreface(), next);
    ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 4, 1, 0, 0, 0, 0}));

    assertEquals("expected HTTP/2 in the tunnel, a SETTINGS frame first, but it began with '?????????'",
        next.onlyException(CorruptedWebSocketFrameException.class).getMessage());
    assertFalse(ch.finish());
  }
}
