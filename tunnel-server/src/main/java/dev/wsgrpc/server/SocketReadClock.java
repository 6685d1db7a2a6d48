package dev.wsgrpc.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Notes when the socket last delivered bytes, from the head of the pipeline: before TLS and HTTP/1.1 decode them, so
 * that bytes count as they arrive. What the decoders pass on may lag far behind: TLS passes nothing of a record
 * (up to 16 KiB) until the record is whole, and a client on a slow link sends one for a long time.
 */
final class SocketReadClock extends ChannelInboundHandlerAdapter {

  static final String NAME = "wsgrpc-socket-read-clock";

  /** When bytes last arrived, in the nanoseconds of the event loop's ticker; 0 before any. */
  private long lastReadNanos;

  long lastReadNanos() {
    return lastReadNanos;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf && ((ByteBuf) msg).isReadable()) {
      lastReadNanos = ctx.executor().ticker().nanoTime();
    }
    ctx.fireChannelRead(msg);
  }
}
