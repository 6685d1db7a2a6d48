package dev.wsgrpc.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameTypes;
import java.util.List;

/**
 * Looks at a connection's first bytes without consuming them. At the first byte that differs from the HTTP/2 client
 * preface ({@code PRI * HTTP/2.0...}) it removes itself: the bytes go on to the HTTP/1.1 upgrade. When the whole
 * preface arrived, it calls {@code onPreface} (the connection's admission: it may close the connection), then
 * waits for the frame that must follow it, the client's SETTINGS, to arrive whole; then it fires
 * {@link NativeHttp2Event} and removes itself, passing every byte on unchanged.
 *
 * <p>Holds at most the 24 bytes of the preface, a 9-byte frame header and a SETTINGS payload of at most
 * {@value Http2CodecUtil#DEFAULT_MAX_FRAME_SIZE} bytes (the largest frame a client may send before it has read
 * the server's SETTINGS). A first frame that is not such a SETTINGS frame is handed on at once, for the HTTP/2
 * handler to refuse (PROTOCOL_ERROR or FRAME_SIZE_ERROR).
 *
 * <pre>
 *   PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n | length(3) type(1)=4 flags(1) stream(4) | length bytes of settings
 *   \__________ 24 bytes __________/  \______ 9-byte frame header ________/
 *        onPreface here                                     NativeHttp2Event once all of it is here
 * </pre>
 */
final class Http2PrefaceDetector extends ByteToMessageDecoder {

  private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();
  private static final int PREFACE_LENGTH = PREFACE.readableBytes();

  private final Runnable onPreface;
  private boolean prefaceSeen;

  /** @param onPreface runs on the event loop once the whole preface arrived; it may close the connection */
  Http2PrefaceDetector(Runnable onPreface) {
    this.onPreface = onPreface;
  }

  /** Whether the whole preface arrived: the connection speaks HTTP/2, whatever follows. */
  boolean prefaceSeen() {
    return prefaceSeen;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (!prefaceSeen) {
      int length = Math.min(in.readableBytes(), PREFACE_LENGTH);
      for (int i = 0; i < length; i++) {
        if (in.getByte(in.readerIndex() + i) != PREFACE.getByte(PREFACE.readerIndex() + i)) {
          ctx.pipeline().remove(this);
          return;
        }
      }
      if (length < PREFACE_LENGTH) {
        return;
      }
      prefaceSeen = true;
      onPreface.run();
      if (ctx.isRemoved() || !ctx.channel().isActive()) {
        return;
      }
    }
    int header = in.readerIndex() + PREFACE_LENGTH;
    if (in.writerIndex() - header < Http2CodecUtil.FRAME_HEADER_LENGTH) {
      return;
    }
    int payload = in.getUnsignedMedium(header);
    boolean settings = in.getByte(header + 3) == Http2FrameTypes.SETTINGS
        && payload <= Http2CodecUtil.DEFAULT_MAX_FRAME_SIZE;
    if (settings && in.writerIndex() - header - Http2CodecUtil.FRAME_HEADER_LENGTH < payload) {
      return;
    }
    ctx.fireUserEventTriggered(NativeHttp2Event.INSTANCE);
    if (!ctx.isRemoved()) {
      ctx.pipeline().remove(this);
    }
  }
}
