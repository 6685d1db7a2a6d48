package dev.wsgrpc.core.internal;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;

/**
 * A final binary frame whose payload buffer belongs to the frame alone and has {@value #HEADROOM} writable bytes in
 * front of its reader index: {@link FrameEncoder} writes the header there and masks the payload in place, so the
 * frame leaves as the one buffer it already is (no second buffer, no second copy). {@link ByteStreamFrameCodec}
 * gathers small writes into such buffers.
 */
final class HeadroomFrame extends BinaryWebSocketFrame {

  /** Room for the longest header: two bytes, an eight-byte length and a four-byte masking key. */
  static final int HEADROOM = 14;

  /** {@code payload}'s reader index must be at least {@link #HEADROOM}; nothing else may hold the buffer. */
  HeadroomFrame(ByteBuf payload) {
    super(payload);
    if (payload.readerIndex() < HEADROOM) {
      throw new IllegalArgumentException("payload.readerIndex(): " + payload.readerIndex() + " (expected: >= "
          + HEADROOM + ")");
    }
  }
}
