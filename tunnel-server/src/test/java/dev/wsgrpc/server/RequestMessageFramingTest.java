package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

class RequestMessageFramingTest {

  /** Feeds {@code body} to {@code framing} cut into pieces of {@code pieceBytes}, then ends it. */
  private static void follow(RequestMessageFraming framing, byte[] body, int pieceBytes) {
    for (int i = 0; i < body.length; i += pieceBytes) {
      ByteBuf piece = Unpooled.wrappedBuffer(body, i, Math.min(pieceBytes, body.length - i));
      framing.next(piece);
      assertEquals(Math.min(pieceBytes, body.length - i), piece.readableBytes(), "the piece is left unread");
    }
    framing.end();
  }

  private static String refusal(String grpcEncoding, int... body) {
    byte[] bytes = new byte[body.length];
    for (int i = 0; i < body.length; i++) {
      bytes[i] = (byte) body[i];
    }
    return assertThrows(IllegalArgumentException.class,
        () -> follow(new RequestMessageFraming(grpcEncoding), bytes, 1)).getMessage();
  }

  @Test
  void messagesCutAnywherePass() {
    byte[] body = {0, 0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'd'};
    for (int pieceBytes = 1; pieceBytes <= body.length; pieceBytes++) {
      follow(new RequestMessageFraming(null), body, pieceBytes);
    }
    follow(new RequestMessageFraming(null), new byte[0], 1);
  }

  @Test
  void aCompressedMessageIsExpectedOnlyWithAGrpcEncoding() {
    follow(new RequestMessageFraming("gzip"), new byte[] {1, 0, 0, 0, 1, 'x'}, 2);
    assertEquals("expected an uncompressed message (flags 0x00: the request has no grpc-encoding) but its flags "
        + "were 0x01", refusal(null, 1, 0, 0, 0, 0));
    assertEquals("expected an uncompressed message (flags 0x00: the request has no grpc-encoding) but its flags "
        + "were 0x01", refusal("identity", 1, 0, 0, 0, 0));
  }

  @Test
  void aTrailersFrameFromTheClientIsRefused() {
    assertEquals("expected a message (flags 0x00) but was a trailers frame (flags 0x80), which only a server sends",
        refusal(null, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0));
  }

  @Test
  void otherFlagsAreRefused() {
    assertEquals("expected a message with flags 0x00 (or 0x01, compressed, with a grpc-encoding) but its flags were "
        + "0x02", refusal("gzip", 2, 0, 0, 0, 0));
  }

  @Test
  void aBodyThatEndsInsideAMessageIsRefusedSayingWhere() {
    assertEquals("expected a message of 256 bytes (its length prefix) but the body ended after 2",
        refusal(null, 0, 0, 0, 1, 0, 'a', 'b'));
    assertEquals("expected a message of 4294967295 bytes (its length prefix) but the body ended after 0",
        refusal(null, 0, 0xff, 0xff, 0xff, 0xff));
    assertEquals("expected a 5-byte message header but the body ended after 4", refusal(null, 0, 0, 0, 0));
  }
}
