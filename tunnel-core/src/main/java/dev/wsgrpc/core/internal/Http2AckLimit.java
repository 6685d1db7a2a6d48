package dev.wsgrpc.core.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.util.ReferenceCountUtil;

/**
 * On a client's tunnel, between gRPC's HTTP/2 handler and the byte stream: counts the acknowledgements of the
 * server's HTTP/2 PING and SETTINGS frames that gRPC has written and that have not left yet, and ends the tunnel
 * (Close 1001 with the reason, calls failing UNAVAILABLE, as for a silent server: the one path of
 * {@link ControlFrameHandler}) once more than {@value #MAX_WAITING} wait.
 * gRPC's HTTP/2 client, unlike its server (which limits them with its {@code Http2ControlFrameLimitEncoder}),
 * acknowledges every PING and SETTINGS whether or not the server reads, so a server that sent PINGs and read nothing
 * grew the client's memory by some four times what it sent, without bound. Netty's HTTP/2 frame writer writes each
 * acknowledgement as a buffer of its own, 17 bytes (a PING with the ACK flag) or 9 (an empty SETTINGS with it): such
 * buffers are what is counted. A server that reads keeps the count near zero.
 */
final class Http2AckLimit extends ChannelOutboundHandlerAdapter {

  /** As many as grpc-java's server lets wait ({@code maxOutstandingControlFrames}): some 650 KB of them. */
  static final int MAX_WAITING = 10_000;

  private static final int FRAME_HEADER = 9;
  private static final int PING = 0x6;
  private static final int SETTINGS = 0x4;
  private static final int ACK = 0x1;

  private int waiting;
  private boolean failed;

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (!(msg instanceof ByteBuf) || !isAck((ByteBuf) msg)) {
      ctx.write(msg, promise);
      return;
    }
    if (failed) {
      ReferenceCountUtil.release(msg);
      promise.tryFailure(TunnelStatus.closedBeforeWrite());
      return;
    }
    if (waiting == MAX_WAITING) {
      failed = true;
      ReferenceCountUtil.release(msg);
      promise.tryFailure(TunnelStatus.closedBeforeWrite());
      ChannelHandlerContext control = ctx.pipeline().context(ControlFrameHandler.class);
      String problem = "expected the server to read what this client sends, but " + MAX_WAITING
          + " acknowledgements of its HTTP/2 PING and SETTINGS frames wait unsent";
      if (control != null) {
        ((ControlFrameHandler) control.handler()).exceptionCaught(control,
            new CorruptedWebSocketFrameException(WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, problem));
      } else {
        ctx.close();
      }
      return;
    }
    waiting++;
    ChannelPromise counted = promise.unvoid();
    counted.addListener(f -> waiting--);
    ctx.write(msg, counted);
  }

  /** Whether {@code buf} is one whole HTTP/2 PING or SETTINGS frame with the ACK flag, as Netty writes them. */
  static boolean isAck(ByteBuf buf) {
    int length = buf.readableBytes();
    if (length != FRAME_HEADER + 8 && length != FRAME_HEADER) {
      return false;
    }
    int at = buf.readerIndex();
    int payload = buf.getUnsignedMedium(at);
    int type = buf.getUnsignedByte(at + 3);
    int flags = buf.getUnsignedByte(at + 4);
    return (flags & ACK) != 0 && payload == length - FRAME_HEADER
        && (type == PING ? payload == 8 : type == SETTINGS && payload == 0);
  }
}
