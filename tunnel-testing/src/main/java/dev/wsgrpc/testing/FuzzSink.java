package dev.wsgrpc.testing;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.util.function.Predicate;

/**
 * The last handler of a fuzz target's pipeline: releases whatever reaches it, and swallows the exceptions that are
 * the expected answer to garbage (an HTTP/2 error inside a tunnel, a handshake's gRPC status), so that any other
 * exception reaches {@code EmbeddedChannel.checkException()} as a finding.
 */
public final class FuzzSink extends ChannelInboundHandlerAdapter {

  private final Predicate<Throwable> expected;

  /** A sink that swallows the exceptions {@code expected} accepts. */
  public FuzzSink(Predicate<Throwable> expected) {
    this.expected = expected;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ReferenceCountUtil.release(msg);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (!expected.test(cause)) {
      ctx.fireExceptionCaught(cause);
    }
  }
}
