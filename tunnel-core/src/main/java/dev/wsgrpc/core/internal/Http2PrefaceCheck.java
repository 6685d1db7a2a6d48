package dev.wsgrpc.core.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Checks that the tunnel's first bytes from the peer begin HTTP/2 (RFC 9113 section 3.4) before gRPC reads them;
 * then it removes itself and every byte goes on unchanged. It goes after the byte-stream step, for both sides:
 * <ul>
 *   <li>{@link #serverPreface()}, on clients: the server's first frame must be SETTINGS. A server that speaks
 *       something else inside the tunnel (a relay or websockify in front of a port that is not gRPC's, answering
 *       {@code HTTP/1.1 400 Bad Request}) is named so, where gRPC alone says only "http2 exception". Holds at most
 *       the 9 bytes of a frame header.</li>
 *   <li>{@link #clientPreface()}, on servers: the client's first bytes must be {@code PRI * HTTP/2.0...}. A client
 *       that sends anything else (an HTTP/1.1 request, text meant for another service) learns that it did, where
 *       gRPC's GOAWAY, which such a client does not read, left it only Close 1001 (Going Away). Holds at most the 24
 *       bytes of the preface, and fails at the first byte that differs.</li>
 * </ul>
 * A failure takes the one path for protocol errors ({@link ControlFrameHandler}): Close 1002 with a reason that
 * quotes how the tunnel began (printable ASCII only, short enough for a Close reason), and on clients RPCs fail
 * INTERNAL with it. What follows is dropped.
 */
public final class Http2PrefaceCheck extends ByteToMessageDecoder {

  public static final String NAME = "wsgrpc-h2-preface-check";
  /** RFC 9113 section 3.4 (this module has no HTTP/2 codec to take them from). */
  private static final byte[] CLIENT_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final int FRAME_HEADER_LENGTH = 9;
  private static final int SETTINGS = 0x4;
  private static final int ACK = 0x1;

  /** Whether this checks a client's preface (on a server), else a server's first SETTINGS (on a client). */
  private final boolean clientPreface;
  private boolean failed;

  private Http2PrefaceCheck(boolean clientPreface) {
    this.clientPreface = clientPreface;
  }

  /** For a client: the server's first bytes must be a SETTINGS frame (not an ACK). */
  public static Http2PrefaceCheck serverPreface() {
    return new Http2PrefaceCheck(false);
  }

  /** For a server: the client's first bytes must be the connection preface, {@code PRI * HTTP/2.0\r\n\r\nSM...}. */
  public static Http2PrefaceCheck clientPreface() {
    return new Http2PrefaceCheck(true);
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (failed) {
      in.skipBytes(in.readableBytes());
      return;
    }
    Boolean http2 = clientPreface ? beginsClientPreface(in) : beginsSettings(in);
    if (http2 == null) {
      return; // not known yet
    }
    if (http2) {
      ctx.pipeline().remove(this); // what it holds goes on
      return;
    }
    failed = true;
    // Quoted: what a client preface would have been on servers, 32 bytes on clients (the OkHttp client's words too);
    // either reason fits a Close's 123 bytes.
    int quoted = clientPreface ? CLIENT_PREFACE.length : 32;
    String began = Http11Tokens.printable(in.toString(in.readerIndex(), Math.min(in.readableBytes(), quoted + 1),
        StandardCharsets.ISO_8859_1), quoted);
    in.skipBytes(in.readableBytes());
    ctx.pipeline().fireExceptionCaught(new CorruptedWebSocketFrameException(WebSocketCloseStatus.PROTOCOL_ERROR,
        clientPreface
            ? "expected the HTTP/2 client preface (PRI * HTTP/2.0) but the tunnel began with '" + began + "'"
            : "expected HTTP/2 in the tunnel, a SETTINGS frame first, but it began with '" + began + "'"));
  }

  /** True once the whole preface is there, false at the first byte that differs, else null. */
  private static Boolean beginsClientPreface(ByteBuf in) {
    int length = Math.min(in.readableBytes(), CLIENT_PREFACE.length);
    for (int i = 0; i < length; i++) {
      if (in.getByte(in.readerIndex() + i) != CLIENT_PREFACE[i]) {
        return false;
      }
    }
    return length == CLIENT_PREFACE.length ? Boolean.TRUE : null;
  }

  /** Whether the first frame header is a SETTINGS frame's; null until the 9 bytes are there. */
  private static Boolean beginsSettings(ByteBuf in) {
    if (in.readableBytes() < FRAME_HEADER_LENGTH) {
      return null;
    }
    int type = in.getUnsignedByte(in.readerIndex() + 3);
    int flags = in.getUnsignedByte(in.readerIndex() + 4);
    return type == SETTINGS && (flags & ACK) == 0;
  }
}
