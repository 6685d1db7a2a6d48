package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class GrpcWebTextTest {

  private static final ByteBufAllocator alloc = ByteBufAllocator.DEFAULT;

  private static String decodeAll(String... pieces) {
    GrpcWebText.Decoder decoder = new GrpcWebText.Decoder();
    StringBuilder out = new StringBuilder();
    for (String piece : pieces) {
      ByteBuf in = Unpooled.copiedBuffer(piece, StandardCharsets.US_ASCII);
      ByteBuf decoded = decoder.decode(in, alloc);
      out.append(decoded.toString(StandardCharsets.ISO_8859_1));
      decoded.release();
      in.release();
    }
    assertTrue(decoder.complete());
    return out.toString();
  }

  @Test
  void decodesABodyCutAnywhere() {
    String text = Base64.getEncoder().encodeToString("hello, gRPC-Web".getBytes(StandardCharsets.US_ASCII));
    assertEquals("hello, gRPC-Web", decodeAll(text.substring(0, 1), text.substring(1, 7), text.substring(7)));
  }

  @Test
  void decodesMessagesEachPaddedOnTheirOwn() {
    Base64.Encoder b64 = Base64.getEncoder();
    String body = b64.encodeToString("ab".getBytes(StandardCharsets.US_ASCII))
        + b64.encodeToString("c".getBytes(StandardCharsets.US_ASCII))
        + b64.encodeToString("def".getBytes(StandardCharsets.US_ASCII));
    assertEquals("abcdef", decodeAll(body));
  }

  @Test
  void aBodyThatEndsInsideAGroupIsIncomplete() {
    GrpcWebText.Decoder decoder = new GrpcWebText.Decoder();
    ByteBuf in = Unpooled.copiedBuffer("aGVsbG", StandardCharsets.US_ASCII);
    decoder.decode(in, alloc).release();
    in.release();
    assertFalse(decoder.complete());
  }

  @Test
  void aCharacterOutsideBase64NamesItself() {
    GrpcWebText.Decoder decoder = new GrpcWebText.Decoder();
    ByteBuf in = Unpooled.copiedBuffer("ab!d", StandardCharsets.US_ASCII);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> decoder.decode(in, alloc));
    assertEquals("expected base64 but found '!'", e.getMessage());
    assertTrue(in.release());
  }

  /**
   * Each piece sent is whole base64, padded, so that a page decodes what has arrived at once: a server stream's
   * message is not held back until the next one (or the trailers) comes. The pieces together decode to the body.
   */
  @Test
  void encodingPadsEachPieceSoThatItDecodesAtOnce() {
    StringBuilder text = new StringBuilder();
    for (String piece : new String[] {"h", "el", "lo, ", "world!"}) {
      ByteBuf in = Unpooled.copiedBuffer(piece, StandardCharsets.US_ASCII);
      ByteBuf out = GrpcWebText.encode(in, alloc);
      assertEquals(0, in.refCnt(), "the piece is released");
      String encoded = out.toString(StandardCharsets.US_ASCII);
      out.release();
      assertEquals(0, encoded.length() % 4, encoded);
      assertEquals(piece, new String(Base64.getDecoder().decode(encoded), StandardCharsets.US_ASCII));
      text.append(encoded);
    }
    assertEquals("aA==ZWw=bG8sIA==d29ybGQh", text.toString());
    assertEquals("hello, world!", decodeAll(text.toString()));
  }
}
