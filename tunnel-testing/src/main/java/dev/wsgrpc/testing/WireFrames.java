package dev.wsgrpc.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;

/**
 * Builds RFC 6455 frames byte by byte, independently of the codec under test, for tests that feed a peer's bytes:
 * the first byte as given (FIN, RSV bits, opcode), the payload length in its shortest encoding, then the masking
 * key and the masked payload, or the payload as it is when the key is null (a server's frame).
 */
public final class WireFrames {

  /** The masking key of the examples in RFC 6455, section 5.7. */
  public static final byte[] RFC_KEY = {0x37, (byte) 0xfa, 0x21, 0x3d};

  /** The first byte of a frame: {@code fin}, the three RSV bits {@code rsv} (0 to 7) and {@code opcode}. */
  public static int firstByte(boolean fin, int rsv, int opcode) {
    return (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  }

  /** A masking key made from the four bytes of {@code seed}, low byte first. */
  public static byte[] key(int seed) {
    return new byte[] {(byte) seed, (byte) (seed >>> 8), (byte) (seed >>> 16), (byte) (seed >>> 24)};
  }

  /** The frame's bytes, masked with {@code key} unless it is null. */
  public static byte[] frameBytes(int firstByte, byte[] payload, byte[] key) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(payload.length + 14);
    out.write(firstByte);
    int maskBit = key == null ? 0 : 0x80;
    int len = payload.length;
    if (len < 126) {
      out.write(maskBit | len);
    } else if (len < 65536) {
      out.write(maskBit | 126);
      out.write(len >>> 8);
      out.write(len);
    } else {
      out.write(maskBit | 127);
      for (int shift = 56; shift >= 0; shift -= 8) {
        out.write((int) ((long) len >>> shift));
      }
    }
    if (key != null) {
      out.write(key, 0, 4);
    }
    for (int i = 0; i < len; i++) {
      out.write(key == null ? payload[i] : payload[i] ^ key[i & 3]);
    }
    return out.toByteArray();
  }

  /** A client's frame as bytes: {@code fin}, {@code rsv}, {@code opcode}, masked with {@link #RFC_KEY} if {@code masked}. */
  public static byte[] frame(boolean fin, int rsv, int opcode, boolean masked, byte[] payload) {
    return frameBytes(firstByte(fin, rsv, opcode), payload, masked ? RFC_KEY : null);
  }

  /** {@link #frameBytes} in a new heap buffer, which the caller (or the pipeline it is written to) releases. */
  public static ByteBuf frame(int firstByte, byte[] payload, byte[] key) {
    return Unpooled.wrappedBuffer(frameBytes(firstByte, payload, key));
  }

  private WireFrames() {}
}
