package dev.wsgrpc.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import java.util.List;

/**
 * Looks at a connection's first bytes: when they are the HTTP/2 client preface ({@code PRI * HTTP/2.0...}), fires
 * {@link NativeHttp2Event}; otherwise does nothing. Either way it then removes itself and passes every byte on
 * unchanged. Holds at most the 24 bytes of the preface, and decides at the first byte that differs.
 */
final class Http2PrefaceDetector extends ByteToMessageDecoder {

  private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    int length = Math.min(in.readableBytes(), PREFACE.readableBytes());
    for (int i = 0; i < length; i++) {
      if (in.getByte(in.readerIndex() + i) != PREFACE.getByte(PREFACE.readerIndex() + i)) {
        ctx.pipeline().remove(this);
        return;
      }
    }
    if (length == PREFACE.readableBytes()) {
      ctx.fireUserEventTriggered(NativeHttp2Event.INSTANCE);
      ctx.pipeline().remove(this);
    }
  }
}
