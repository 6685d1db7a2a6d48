package dev.wsgrpc.okhttp;

/**
 * Follows the plaintext OkHttp writes on a tunnel's connection (inside TLS for wss): counts the Pong frames that have left whole,
 * and notes when a Close has (see {@link Tunnel#awaitCloseWritten}). It follows the upgrade request's head (up to its
 * empty line), then the client's masked frames (RFC 6455 section 5.2: 2 bytes, a 16- or 64-bit length when the 7-bit
 * one says so, a 4-byte mask key, the payload). Frames may be cut anywhere by the writes, and a write may hold
 * several.
 */
final class WrittenFrames {

  private static final int CLOSE = 0x8;
  private static final int PONG = 0xA;

  /** Where the next byte falls: the request head, or a frame's first byte, second byte, extended length, mask key. */
  private enum State { HEAD, FIRST, SECOND, LENGTH, MASK, PAYLOAD }

  private State state = State.HEAD;
  /** The last bytes of the request head, to find its empty line. */
  private int headTail;
  private int opcode;
  private int lengthBytesLeft;
  private int maskBytesLeft;
  private long payloadLeft;
  private boolean closeWritten;

  /** Follows {@code len} bytes written from {@code b} and returns how many Pong frames they completed. */
  int written(byte[] b, int off, int len) {
    int pongs = 0;
    int i = off;
    int end = off + len;
    while (i < end) {
      switch (state) {
        case HEAD:
          headTail = (headTail << 8) | (b[i++] & 0xff);
          if (headTail == 0x0d0a0d0a) {
            state = State.FIRST;
          }
          break;
        case FIRST:
          opcode = b[i++] & 0x0f;
          state = State.SECOND;
          break;
        case SECOND: {
          int second = b[i++] & 0xff;
          int length7 = second & 0x7f;
          payloadLeft = length7 < 126 ? length7 : 0;
          lengthBytesLeft = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
          maskBytesLeft = (second & 0x80) != 0 ? 4 : 0;
          state = lengthBytesLeft > 0 ? State.LENGTH : afterLength();
          break;
        }
        case LENGTH:
          payloadLeft = (payloadLeft << 8) | (b[i++] & 0xff);
          if (--lengthBytesLeft == 0) {
            state = afterLength();
          }
          break;
        case MASK:
          i++;
          if (--maskBytesLeft == 0) {
            state = State.PAYLOAD;
          }
          break;
        default: { // PAYLOAD
          int n = (int) Math.min(payloadLeft, end - i);
          i += n;
          payloadLeft -= n;
          break;
        }
      }
      if (state == State.PAYLOAD && payloadLeft == 0) {
        if (opcode == PONG) {
          pongs++;
        } else if (opcode == CLOSE) {
          closeWritten = true;
        }
        state = State.FIRST;
      }
    }
    return pongs;
  }

  /** Whether a Close frame has left whole. */
  boolean closeWritten() {
    return closeWritten;
  }

  private State afterLength() {
    return maskBytesLeft > 0 ? State.MASK : State.PAYLOAD;
  }
}
