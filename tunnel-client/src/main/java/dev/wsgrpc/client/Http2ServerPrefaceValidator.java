package dev.wsgrpc.client;

import dev.wsgrpc.core.internal.Http11Tokens;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Flags;
import io.netty.handler.codec.http2.Http2FrameTypes;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Checks that the tunnel's first bytes from the server are HTTP/2's server preface, a SETTINGS frame (RFC 9113
 * section 3.4), before gRPC reads them; then it removes itself and every byte goes on unchanged. A server that speaks
 * something else inside the tunnel (a relay or websockify in front of a port that is not gRPC's, answering
 * {@code HTTP/1.1 400 Bad Request}) fails the connection through the one path for protocol errors: Close 1002, and
 * RPCs fail INTERNAL quoting how the tunnel began, where gRPC alone says only "http2 exception". Holds at most the
 * 9 bytes of a frame header.
 */
final class Http2ServerPrefaceValidator extends ByteToMessageDecoder {

  static final String NAME = "wsgrpc-server-preface";
  /** How many of the first bytes the failure quotes. */
  private static final int QUOTED = 32;

  private boolean failed;

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (failed) {
      in.skipBytes(in.readableBytes());
      return;
    }
    if (in.readableBytes() < Http2CodecUtil.FRAME_HEADER_LENGTH) {
      return;
    }
    int type = in.getUnsignedByte(in.readerIndex() + 3);
    int flags = in.getUnsignedByte(in.readerIndex() + 4);
    if (type == Http2FrameTypes.SETTINGS && (flags & Http2Flags.ACK) == 0) {
      ctx.pipeline().remove(this);
      return;
    }
    failed = true;
    String began = in.toString(in.readerIndex(), Math.min(in.readableBytes(), QUOTED + 1),
        StandardCharsets.ISO_8859_1);
    in.skipBytes(in.readableBytes());
    ctx.pipeline().fireExceptionCaught(new CorruptedWebSocketFrameException(WebSocketCloseStatus.PROTOCOL_ERROR,
        "expected HTTP/2 in the tunnel, a SETTINGS frame first, but it began with '"
            + Http11Tokens.printable(began, QUOTED) + "'"));
  }
}
