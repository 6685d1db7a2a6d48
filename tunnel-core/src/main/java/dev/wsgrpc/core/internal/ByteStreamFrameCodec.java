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
import java.util.Arrays;
import java.util.List;

/**
 * Carries a byte stream in binary WebSocket frames, both ways.
 *
 * <p>Inbound, the payload of every binary and continuation frame is passed on as a {@link ByteBuf}, without a copy:
 * frame and message boundaries carry no meaning. Outbound, the {@link ByteBuf}s written between two flushes are
 * coalesced into as few binary frames as possible, none with a payload over {@code maxFramePayload} bytes. gRPC's
 * HTTP/2 writer emits each 9-byte frame header and its payload as separate buffers; coalescing turns the ~20 writes of
 * a unary call into a couple of frames.
 *
 * <p>Small writes (at most {@value #COPY_BELOW} bytes each: HTTP/2 frame headers, unary messages, control frames) are
 * copied at once into one buffer with room for the frame header in front ({@link HeadroomFrame}) and released; the
 * frame leaves as that one buffer. Once {@value #GATHER_MAX} bytes (or the frame limit) are gathered, that frame is
 * written at once and the next one begun, so the many calls of one flush (gRPC batches up to 128 writes) travel in
 * few frames. Larger writes are held as they are until the flush and composed without a copy, behind the small ones
 * gathered before them; the bytes they hold are counted against the channel's writability, so HTTP/2 flow control
 * sees them (the at most {@value #GATHER_MAX} gathered bytes are not: below any sensible water mark).
 *
 * <p>A codec that {@linkplain #ByteStreamFrameCodec(int, boolean) copies every write} (a client's: its frames are
 * masked, and a masked payload is a copy anyway) gathers large writes too, as they arrive, into frames of up to
 * {@code maxFramePayload} bytes, and releases them at once; a frame leaves as soon as it is full, where its bytes
 * count against the channel's writability like any write (so at most one frame, 64 KiB by default, is held outside
 * it). A frame's buffer starts with room for {@value #FRAME_BUFFER_START} bytes when a large write begins it and
 * doubles from there if the limit is higher. The encoder masks such a frame in place, so the one copy is this one:
 * no composite buffer, no second pass to copy, no write held until the flush.
 *
 * <p>Text, ping, pong and close frames never reach this handler: {@link ControlFrameHandler} sits before it.
 */
public final class ByteStreamFrameCodec extends ChannelDuplexHandler {

  /** Composite payloads are consolidated (copied) past this many components; gRPC rarely comes near it. */
  private static final int MAX_COMPONENTS = 256;

  /** Writes of at most this many bytes are copied (gathered); so are frames whose parts add up to no more. */
  static final int COPY_BELOW = 1024;

  /** Gathered bytes per frame, at most. */
  static final int GATHER_MAX = 16 * 1024;

  /** Room for payload in a frame's buffer begun by a large write when every write is copied (then it doubles). */
  static final int FRAME_BUFFER_START = 64 * 1024;

  private final int maxFramePayload;
  /** Gathered bytes per frame: {@link #GATHER_MAX} (copying every write: a whole frame), and no more than a frame. */
  private final int gatherLimit;
  /** Whether every write is copied (gathered), large ones too. */
  private final boolean copyAll;
  private PendingWriteQueue pending;
  /** Small writes gathered since the last flush, after {@link HeadroomFrame#HEADROOM} bytes; null when none. */
  private ByteBuf gathered;
  /** The promises of the gathered writes, in order. */
  private ChannelPromise[] gatheredPromises;
  private int gatheredCount;
  /** Scratch lists of {@link #writePending}, reused (the event loop is the only caller). */
  private final List<ByteBuf> parts = new ArrayList<>();
  private final List<ChannelPromise> completed = new ArrayList<>();
  private static final ChannelPromise[] NO_PROMISES = new ChannelPromise[0];

  /** Creates a codec whose outgoing frames carry at most {@code maxFramePayload} bytes each, large writes uncopied. */
  public ByteStreamFrameCodec(int maxFramePayload) {
    this(maxFramePayload, false);
  }

  /**
   * Creates a codec whose outgoing frames carry at most {@code maxFramePayload} bytes each.
   *
   * @param copyAll whether large writes are copied too (as they arrive, into frames of up to {@code maxFramePayload}
   *     bytes), which is cheaper when the frames are masked: the encoder then masks them in place instead of copying
   */
  public ByteStreamFrameCodec(int maxFramePayload, boolean copyAll) {
    this.maxFramePayload = Preconditions.checkPositive(maxFramePayload, "maxFramePayload");
    this.copyAll = copyAll;
    this.gatherLimit = copyAll ? maxFramePayload : Math.min(GATHER_MAX, maxFramePayload);
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    pending = new PendingWriteQueue(ctx);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    failAll();
  }

  /** Fails and releases everything not yet written (nothing at all, usually: then no exception is made). */
  private void failAll() {
    Throwable closed = null;
    if (gathered != null) {
      ChannelPromise[] promises = takeGatheredPromises();
      gathered.release();
      gathered = null;
      closed = TunnelStatus.closedBeforeWrite();
      for (ChannelPromise p : promises) {
        p.tryFailure(closed);
      }
    }
    if (!pending.isEmpty()) {
      pending.removeAndFailAll(closed != null ? closed : TunnelStatus.closedBeforeWrite());
    }
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
    failAll();
    ctx.fireChannelInactive();
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof ByteBuf) {
      ByteBuf buf = (ByteBuf) msg;
      if (!buf.isReadable() && pending.isEmpty() && gathered == null) {
        // Nothing to send and nothing before it: done.
        buf.release();
        promise.trySuccess();
        return;
      }
      int size = buf.readableBytes();
      if (copyAll) {
        gatherAll(ctx, buf, promise);
        return;
      }
      if (pending.isEmpty() && size <= COPY_BELOW && size <= gatherLimit) {
        if (gathered != null && gathered.readableBytes() + size > gatherLimit) {
          // This frame is full: it can leave now; gathering starts again.
          writeGathered(ctx);
        }
        gather(ctx, buf, promise);
        return;
      }
      if (gathered != null) {
        // A large write follows small ones: the gathered bytes queue up first, as one buffer with one promise.
        pending.add(gathered, combined(ctx, takeGatheredPromises()));
        gathered = null;
      }
      pending.add(buf, promise);
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

  /** Copies a small write behind the others gathered since the last flush, and releases it. */
  private void gather(ChannelHandlerContext ctx, ByteBuf buf, ChannelPromise promise) {
    if (gathered == null) {
      // Room for what most flushes hold (a unary call's few hundred bytes); it grows up to gatherLimit.
      startGathering(ctx, Math.min(COPY_BELOW, gatherLimit));
    }
    try {
      gathered.writeBytes(buf, buf.readerIndex(), buf.readableBytes());
    } finally {
      buf.release();
    }
    addGatheredPromise(promise);
  }

  /**
   * Copies a write of any size behind the others gathered, into as many frames as it takes, and releases it; each
   * frame that fills up is written at once. The write's promise goes with the frame that holds its last byte.
   */
  private void gatherAll(ChannelHandlerContext ctx, ByteBuf buf, ChannelPromise promise) {
    try {
      while (buf.isReadable()) {
        int size = buf.readableBytes();
        if (gathered == null) {
          int room = size > COPY_BELOW ? Math.max(size, FRAME_BUFFER_START) : COPY_BELOW;
          startGathering(ctx, Math.min(gatherLimit, room));
        } else if (gathered.readableBytes() == gatherLimit) {
          writeGathered(ctx);
          continue;
        }
        int n = Math.min(size, gatherLimit - gathered.readableBytes());
        if (gathered.writableBytes() < n) {
          // Each growth copies what is there: a large write makes room for FRAME_BUFFER_START bytes at once (a whole
          // frame, by default), and beyond that the buffer doubles, never past a whole frame.
          int wanted = gathered.writerIndex() + n;
          if (size > COPY_BELOW) {
            wanted = Math.max(wanted, HeadroomFrame.HEADROOM + FRAME_BUFFER_START);
          }
          gathered.capacity(Math.min(HeadroomFrame.HEADROOM + gatherLimit, Math.max(wanted, 2 * gathered.capacity())));
        }
        gathered.writeBytes(buf, n);
      }
    } finally {
      buf.release();
    }
    addGatheredPromise(promise);
  }

  /** Begins a frame's buffer, with room for the frame header in front and for {@code payload} bytes behind it. */
  private void startGathering(ChannelHandlerContext ctx, int payload) {
    gathered = ctx.alloc().buffer(HeadroomFrame.HEADROOM + payload);
    gathered.writerIndex(HeadroomFrame.HEADROOM).readerIndex(HeadroomFrame.HEADROOM);
    gatheredPromises = new ChannelPromise[4];
  }

  /** Adds the promise of a write whose last byte is in {@link #gathered}. */
  private void addGatheredPromise(ChannelPromise promise) {
    if (gatheredCount == gatheredPromises.length) {
      // At most one promise per gathered byte (empty writes aside).
      gatheredPromises = Arrays.copyOf(gatheredPromises, gatheredCount * 2);
    }
    gatheredPromises[gatheredCount++] = promise;
  }

  private ChannelPromise[] takeGatheredPromises() {
    ChannelPromise[] promises = gatheredCount == 0 ? NO_PROMISES : gatheredCount == gatheredPromises.length
        ? gatheredPromises : Arrays.copyOf(gatheredPromises, gatheredCount);
    gatheredPromises = null;
    gatheredCount = 0;
    return promises;
  }

  /** One promise standing for {@code promises}: the promise itself when there is one. */
  private static ChannelPromise combined(ChannelHandlerContext ctx, ChannelPromise[] promises) {
    if (promises.length == 1) {
      return promises[0];
    }
    ChannelPromise all = ctx.newPromise();
    all.addListener(f -> complete(promises, f.isSuccess() ? null : f.cause()));
    return all;
  }

  private static void complete(ChannelPromise[] promises, Throwable cause) {
    for (ChannelPromise p : promises) {
      if (cause == null) {
        p.trySuccess();
      } else {
        p.tryFailure(cause);
      }
    }
  }

  /** Writes what was gathered or queued since the last flush as frames of at most {@code maxFramePayload} bytes. */
  private void writePending(ChannelHandlerContext ctx) {
    if (gathered != null) {
      // Only small writes since the last flush (once one is queued, the gathered bytes are queued too).
      writeGathered(ctx);
    }
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
        complete(promises, null);
        continue;
      }
      writeFrame(ctx, new BinaryWebSocketFrame(payload), promises);
    }
  }

  /** Writes the gathered bytes as one frame. */
  private void writeGathered(ChannelHandlerContext ctx) {
    ByteBuf payload = gathered;
    gathered = null;
    writeFrame(ctx, new HeadroomFrame(payload), takeGatheredPromises());
  }

  /** Writes {@code frame}; its outcome completes {@code promises}. */
  private static void writeFrame(ChannelHandlerContext ctx, BinaryWebSocketFrame frame, ChannelPromise[] promises) {
    ChannelFuture written = ctx.write(frame);
    if (promises.length > 0) {
      // A frame that failed on a closed channel fails gRPC's writes with a cause, so RPCs see UNAVAILABLE.
      written.addListener(f -> complete(promises, f.isSuccess() ? null : TunnelStatus.writeFailure(f.cause())));
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
