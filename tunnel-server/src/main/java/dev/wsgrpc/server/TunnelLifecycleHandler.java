package dev.wsgrpc.server;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sits first in a connection's pipeline, counts the bytes on the socket each way, and tells the
 * {@link TunnelListener} when the connection became a tunnel (or a native gRPC connection) and when it ended.
 */
final class TunnelLifecycleHandler extends ChannelDuplexHandler {

  static final String NAME = "wsgrpc-lifecycle";
  private static final Logger logger = LoggerFactory.getLogger(TunnelLifecycleHandler.class);

  private final TunnelListener listener;
  private final AtomicLong bytesIn = new AtomicLong();
  private final AtomicLong bytesOut = new AtomicLong();
  private TunnelInfo tunnel;
  private boolean nativeGrpc;

  TunnelLifecycleHandler(TunnelListener listener) {
    this.listener = listener;
  }

  /** Called by whoever takes over from the upgrade step. */
  void established(ChannelHandlerContext anyCtx, TunnelEstablishedEvent event) {
    tunnel = new TunnelInfo(anyCtx.channel(), event.clientAddress(), event.path(), event.subprotocol(),
        event.principal(), bytesIn,
        bytesOut);
    listener.tunnelOpened(tunnel);
  }

  /** Called by gRPC's side when a native HTTP/2 connection was admitted at its preface. */
  void nativeEstablished(ChannelHandlerContext anyCtx, Object principal) {
    tunnel = new TunnelInfo(anyCtx.channel(), anyCtx.channel().remoteAddress(), null, null, principal, bytesIn,
        bytesOut);
    nativeGrpc = true;
    listener.nativeConnectionOpened(tunnel);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    bytesIn.addAndGet(size(msg));
    ctx.fireChannelRead(msg);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    bytesOut.addAndGet(size(msg));
    ctx.write(msg, promise);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (tunnel != null) {
      tunnel.markClosed();
      logger.debug("{} with {} closed after {} ({} bytes in, {} out)", nativeGrpc ? "Native gRPC connection" : "Tunnel",
          tunnel.clientAddress(), tunnel.duration(), bytesIn.get(), bytesOut.get());
      if (nativeGrpc) {
        listener.nativeConnectionClosed(tunnel);
      } else {
        listener.tunnelClosed(tunnel);
      }
      tunnel = null;
    }
    ctx.fireChannelInactive();
  }

  private static long size(Object msg) {
    if (msg instanceof ByteBuf) {
      return ((ByteBuf) msg).readableBytes();
    }
    if (msg instanceof ByteBufHolder) {
      return ((ByteBufHolder) msg).content().readableBytes();
    }
    return 0;
  }
}
