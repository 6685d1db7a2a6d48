package dev.wsgrpc.core.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;

/**
 * Writes WebSocket frames (RFC 6455 section 5.2) with at most one copy, and only where masking demands it.
 *
 * <ul>
 *   <li>Masked (clients), other frames: the header, the key and the masked payload go into one new buffer, the
 *       payload masked once copied there; this is the one buffer that must be written anyway, as the payload cannot be
 *       masked where it lies: its bytes may be shared (Netty's HTTP/2 writer sends one frame header buffer, as a
 *       slice, in front of every full-size DATA frame of a write).</li>
 *   <li>Unmasked (servers): the header goes out in a small buffer of its own and the payload as it is, in a second
 *       write of the same flush (a gathering write, no copy). Payloads of at most {@value #COPY_THRESHOLD} bytes are
 *       copied behind the header instead: one small buffer is cheaper than two.</li>
 *   <li>A {@link HeadroomFrame} (writes gathered by {@link ByteStreamFrameCodec}: small ones, and on a client all of
 *       them): the header goes into the room in front of the payload, which is masked in place when masking; no new
 *       buffer, no copy.</li>
 * </ul>
 *
 * <p>Frames of any of Netty's types are accepted; the final flag comes from the frame and the length always takes
 * the shortest encoding. Other messages pass through. Each frame is released once encoded; the write's promise
 * completes when the whole frame has been written, so back-pressure is the socket's.
 */
public final class FrameEncoder extends ChannelOutboundHandlerAdapter {

  /** Unmasked payloads up to this size are copied behind their header rather than written separately. */
  static final int COPY_THRESHOLD = 1024;

  private final boolean mask;

  /** Creates an encoder that masks every frame when {@code mask} (clients) and none otherwise (servers). */
  public FrameEncoder(boolean mask) {
    this.mask = mask;
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (!(msg instanceof WebSocketFrame)) {
      ctx.write(msg, promise);
      return;
    }
    WebSocketFrame frame = (WebSocketFrame) msg;
    ByteBuf payload = frame.content();
    ByteBuf out = null;
    try {
      int length = payload.readableBytes();
      int opcode = opcode(frame);
      if (opcode >= 0x8 && (length > 125 || !frame.isFinalFragment())) {
        throw new IllegalArgumentException("frame: a " + frame.getClass().getSimpleName() + " of " + length
            + " bytes, final " + frame.isFinalFragment() + " (expected: control frames final, at most 125 bytes)");
      }
      int firstByte = (frame.isFinalFragment() ? 0x80 : 0) | (frame.rsv() & 0x7) << 4 | opcode;
      int headerLength = 2 + (length <= 125 ? 0 : length <= 0xFFFF ? 2 : 8) + (mask ? 4 : 0);
      if (frame instanceof HeadroomFrame) {
        // The payload is ours alone, with room in front: header there, mask in place, write the one buffer.
        int start = payload.readerIndex() - headerLength;
        int end = payload.writerIndex();
        payload.setIndex(start, start);
        writeHeader(payload, firstByte, mask ? 0x80 : 0, length);
        if (mask) {
          int key = FrameMask.nextKey();
          payload.writeInt(key);
          FrameMask.apply(payload, start + headerLength, length, key, 0);
        }
        payload.writerIndex(end);
        ctx.write(payload.retain(), promise);
        return;
      }
      if (mask) {
        out = ctx.alloc().buffer(headerLength + length);
        int key = FrameMask.nextKey();
        writeHeader(out, firstByte, 0x80, length);
        out.writeInt(key);
        FrameMask.copyMasked(payload, out, key);
      } else if (length <= COPY_THRESHOLD) {
        out = ctx.alloc().buffer(headerLength + length);
        writeHeader(out, firstByte, 0, length);
        out.writeBytes(payload, payload.readerIndex(), length);
      } else {
        out = ctx.alloc().buffer(headerLength);
        writeHeader(out, firstByte, 0, length);
        ByteBuf header = out;
        out = null;
        ctx.write(header);
        ctx.write(payload.retain(), promise);
        return;
      }
      ctx.write(out, promise);
      out = null;
    } finally {
      if (out != null) {
        out.release();
      }
      frame.release();
    }
  }

  private static void writeHeader(ByteBuf out, int firstByte, int maskBit, int length) {
    out.writeByte(firstByte);
    if (length <= 125) {
      out.writeByte(maskBit | length);
    } else if (length <= 0xFFFF) {
      out.writeByte(maskBit | 126);
      out.writeShort(length);
    } else {
      out.writeByte(maskBit | 127);
      out.writeLong(length);
    }
  }

  private static int opcode(WebSocketFrame frame) {
    if (frame instanceof BinaryWebSocketFrame) {
      return 0x2;
    } else if (frame instanceof ContinuationWebSocketFrame) {
      return 0x0;
    } else if (frame instanceof TextWebSocketFrame) {
      return 0x1;
    } else if (frame instanceof CloseWebSocketFrame) {
      return 0x8;
    } else if (frame instanceof PingWebSocketFrame) {
      return 0x9;
    } else if (frame instanceof PongWebSocketFrame) {
      return 0xA;
    }
    throw new IllegalArgumentException("frame: " + frame.getClass().getName()
        + " (expected: a binary, continuation, text, close, ping or pong frame)");
  }
}
