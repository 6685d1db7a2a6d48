package dev.wsgrpc.core.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.PendingWriteQueue;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import java.util.ArrayList;
import java.util.List;

/**
 * Carries a byte stream in binary WebSocket frames, both ways.
 *
 * <p>Inbound, the payload of every binary and continuation frame is passed on as a {@link ByteBuf}, without a copy:
 * frame and message boundaries carry no meaning. Outbound, the {@link ByteBuf}s written between two flushes are
 * coalesced into as few binary frames as possible, none with a payload over {@code maxFramePayload} bytes. gRPC's
 * HTTP/2 writer emits each 9-byte frame header and its payload as separate buffers; coalescing turns the ~20 writes of
 * a unary call into a couple of frames. Bytes held until the flush are counted against the channel's writability, so
 * HTTP/2 flow control sees them.
 *
 * <p>Text, ping, pong and close frames never reach this handler: {@link ControlFrameHandler} sits before it.
 */
public final class ByteStreamFrameCodec extends ChannelDuplexHandler {

  /** Composite payloads are consolidated (copied) past this many components; gRPC rarely comes near it. */
  private static final int MAX_COMPONENTS = 256;

  /** Frames whose parts add up to at most this many bytes are copied into one buffer rather than composed. */
  static final int COPY_BELOW = 1024;

  private final int maxFramePayload;
  private PendingWriteQueue pending;
  /** Scratch lists of {@link #writePending}, reused (the event loop is the only caller). */
  private final List<ByteBuf> parts = new ArrayList<>();
  private final List<ChannelPromise> completed = new ArrayList<>();
  private static final ChannelPromise[] NO_PROMISES = new ChannelPromise[0];

  /** Creates a codec whose outgoing frames carry at most {@code maxFramePayload} bytes each. */
  public ByteStreamFrameCodec(int maxFramePayload) {
    this.maxFramePayload = Preconditions.checkPositive(maxFramePayload, "maxFramePayload");
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    pending = new PendingWriteQueue(ctx);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    pending.removeAndFailAll(TunnelStatus.closedBeforeWrite());
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof BinaryWebSocketFrame || msg instanceof ContinuationWebSocketFrame) {
      ByteBuf payload = ((io.netty.handler.codec.http.websocketx.WebSocketFrame) msg).content();
      if (payload.isReadable()) {
        ctx.fireChannelRead(payload);
      } else {
        payload.release();
      }
    } else {
      ctx.fireChannelRead(msg);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    pending.removeAndFailAll(TunnelStatus.closedBeforeWrite());
    ctx.fireChannelInactive();
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof ByteBuf) {
      pending.add(msg, promise);
    } else {
      writePending(ctx);
      ctx.write(msg, promise);
    }
  }

  @Override
  public void flush(ChannelHandlerContext ctx) {
    writePending(ctx);
    ctx.flush();
  }

  @Override
  public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
    writePending(ctx);
    ctx.close(promise);
  }

  /** Turns every pending buffer into frames of at most {@code maxFramePayload} bytes, in order. */
  private void writePending(ChannelHandlerContext ctx) {
    while (!pending.isEmpty()) {
      int size = 0;
      Object msg;
      while (size < maxFramePayload && (msg = pending.current()) != null) {
        ByteBuf buf = (ByteBuf) msg;
        int room = maxFramePayload - size;
        ByteBuf part;
        if (buf.readableBytes() <= room) {
          // PendingWriteQueue.remove() releases the message: keep our own reference to it.
          part = buf.retain();
          completed.add(pending.remove());
          if (!part.isReadable()) {
            part.release();
            continue;
          }
        } else {
          part = buf.readRetainedSlice(room);
        }
        size += part.readableBytes();
        parts.add(part);
      }
      // Empty the scratch lists before writing: a listener run by the write may come back here.
      ByteBuf payload = parts.isEmpty() ? null : payload(ctx, size);
      parts.clear();
      ChannelPromise[] promises = completed.toArray(NO_PROMISES);
      completed.clear();
      if (payload == null) {
        for (ChannelPromise p : promises) {
          p.trySuccess();
        }
        continue;
      }
      ChannelFuture written = ctx.write(new BinaryWebSocketFrame(payload));
      if (promises.length > 0) {
        written.addListener(f -> {
          // A frame that failed on a closed channel fails gRPC's writes with a cause, so RPCs see UNAVAILABLE.
          Throwable cause = f.isSuccess() ? null : TunnelStatus.writeFailure(f.cause());
          for (ChannelPromise p : promises) {
            if (cause == null) {
              p.trySuccess();
            } else {
              p.tryFailure(cause);
            }
          }
        });
      }
    }
  }

  /**
   * One frame's payload from {@link #parts}: the part itself when there is one; a copy when they are small (as in a
   * unary call: a copy of a few hundred bytes costs less than a composite buffer, and the encoder copies small
   * payloads anyway); otherwise a composite buffer over them, so that large payloads are never copied.
   */
  private ByteBuf payload(ChannelHandlerContext ctx, int size) {
    if (parts.size() == 1) {
      return parts.get(0);
    }
    if (size <= COPY_BELOW) {
      ByteBuf copy = ctx.alloc().buffer(size);
      for (ByteBuf part : parts) {
        copy.writeBytes(part, part.readerIndex(), part.readableBytes());
        part.release();
      }
      return copy;
    }
    CompositeByteBuf composite = ctx.alloc().compositeBuffer(Math.max(MAX_COMPONENTS, parts.size()));
    composite.addComponents(true, parts);
    return composite;
  }
}
