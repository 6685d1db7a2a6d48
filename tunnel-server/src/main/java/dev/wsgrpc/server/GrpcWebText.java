package dev.wsgrpc.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.ByteBuffer;
import java.util.Base64;

/**
 * The base64 of gRPC-Web's {@code -text} content types, streamed: a body arrives and leaves in pieces cut anywhere.
 * Decoding takes the body as a sequence of 4-character groups, each of which may end in padding (clients may
 * encode each message separately); encoding pads each piece it is given, so that what is sent can be decoded at once
 * (as gRPC-Web's protocol lets a server do whenever it flushes). Holding back the bytes past a multiple of three
 * until the next piece, as before, kept the end of each message of a server stream from the page until the next
 * message (or the trailers) came.
 */
final class GrpcWebText {

  private GrpcWebText() {}

  /** Decodes one body; feed the pieces in order. */
  static final class Decoder {
    private final byte[] group = new byte[4];
    private int groupLength;

    /**
     * Decodes {@code in} (not released) into a new buffer, keeping an incomplete group for the next piece.
     *
     * @throws IllegalArgumentException naming the offending character when the text is not base64
     */
    ByteBuf decode(ByteBuf in, ByteBufAllocator alloc) {
      ByteBuf out = alloc.buffer((in.readableBytes() + groupLength) / 4 * 3 + 3);
      try {
        for (int i = in.readerIndex(); i < in.writerIndex(); i++) {
          group[groupLength++] = in.getByte(i);
          if (groupLength == 4) {
            decodeGroup(out);
            groupLength = 0;
          }
        }
        return out;
      } catch (IllegalArgumentException e) {
        out.release();
        throw e;
      }
    }

    /** Whether the body ended on a group boundary, as valid base64 must. */
    boolean complete() {
      return groupLength == 0;
    }

    private void decodeGroup(ByteBuf out) {
      int a = value(group[0]);
      int b = value(group[1]);
      if (group[2] == '=') {
        if (group[3] != '=') {
          throw new IllegalArgumentException("expected '=' after '=' in base64 but was " + printable(group[3]));
        }
        out.writeByte(a << 2 | b >> 4);
        return;
      }
      int c = value(group[2]);
      if (group[3] == '=') {
        out.writeByte(a << 2 | b >> 4).writeByte((b & 0xf) << 4 | c >> 2);
        return;
      }
      int d = value(group[3]);
      out.writeByte(a << 2 | b >> 4).writeByte((b & 0xf) << 4 | c >> 2).writeByte((c & 0x3) << 6 | d);
    }

    private static int value(byte ch) {
      if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
      } else if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
      } else if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
      } else if (ch == '+' || ch == '-') {
        return 62;
      } else if (ch == '/' || ch == '_') {
        return 63;
      }
      throw new IllegalArgumentException("expected base64 but found " + printable(ch));
    }

    private static String printable(byte ch) {
      return ch >= 0x20 && ch < 0x7f ? "'" + (char) ch + "'" : String.format("byte 0x%02x", ch & 0xff);
    }
  }

  /** Encodes one piece of a body (released) into a new buffer of padded base64. */
  static ByteBuf encode(ByteBuf in, ByteBufAllocator alloc) {
    try {
      ByteBuffer text = Base64.getEncoder().encode(in.nioBuffer());
      return alloc.buffer(text.remaining()).writeBytes(text);
    } finally {
      in.release();
    }
  }
}
