package dev.wsgrpc.server.gateway;

import io.netty.buffer.ByteBuf;

/**
 * Follows an HTTP/2 byte stream frame by frame (RFC 9113 section 4.1: a 9-byte header whose first 3 bytes are the
 * payload length) without copying or keeping any of it, so that a frame of our own can be inserted between two
 * frames of someone else's.
 */
final class Http2FrameBoundaries {

  private static final int HEADER = 9;

  private int headerSeen;
  private int length;
  private long payloadLeft;
  private long frames;

  /**
   * Moves over {@code buf} bytes from {@code index} (inclusive) to {@code end} (exclusive), stopping early just
   * after a frame ends. Returns where it stopped.
   */
  int advance(ByteBuf buf, int index, int end) {
    while (index < end) {
      if (payloadLeft > 0) {
        int n = (int) Math.min(payloadLeft, end - index);
        payloadLeft -= n;
        index += n;
        if (payloadLeft == 0) {
          frames++;
          return index;
        }
        continue;
      }
      if (headerSeen < 3) {
        length = (length << 8) | buf.getUnsignedByte(index);
      }
      index++;
      if (++headerSeen == HEADER) {
        headerSeen = 0;
        payloadLeft = length;
        length = 0;
        if (payloadLeft == 0) {
          frames++;
          return index;
        }
      }
    }
    return index;
  }

  /** Whether the stream is between two frames, at least one of which has passed. */
  boolean atBoundary() {
    return frames > 0 && headerSeen == 0 && payloadLeft == 0;
  }

  /** A GOAWAY frame (type 7) naming the largest stream id and NO_ERROR: finish what you started, start nothing. */
  static void writeGracefulGoAway(ByteBuf out) {
    out.writeMedium(8); // payload length
    out.writeByte(0x7); // GOAWAY
    out.writeByte(0); // no flags
    out.writeInt(0); // stream 0: the connection
    out.writeInt(Integer.MAX_VALUE); // last stream id: every stream the client has opened may finish
    out.writeInt(0); // NO_ERROR
  }
}
