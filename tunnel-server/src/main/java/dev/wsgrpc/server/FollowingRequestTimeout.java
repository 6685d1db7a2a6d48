package dev.wsgrpc.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Times the head of each request that follows the first on a kept-alive gRPC-Web connection, as the upgrade step
 * times the first: sits before the HTTP/1.1 codec and starts the clock at the first byte read after an answer, so a
 * pooled connection may idle between requests (until the idle timeout) but a client cannot trickle a request's head
 * in forever. The translator says when it waits for a request ({@link #awaitRequest}) and when one arrived
 * ({@link #requestArrived}); if none arrives in time, {@code onTimeout} runs on the event loop. A request the
 * translator never sees (a CORS preflight, which the CORS step answers) stops the clock too, through
 * {@link #headsAfterCodec()}, and the connection goes on waiting for the next.
 */
final class FollowingRequestTimeout extends ChannelInboundHandlerAdapter {

  static final String NAME = "wsgrpc-following-request-timeout";
  /** The name of {@link #headsAfterCodec()}. */
  static final String HEADS = "wsgrpc-following-request-heads";

  private final long timeoutNanos;
  private final Runnable onTimeout;
  private ChannelHandlerContext ctx;
  /** The last answer ended and no request head has arrived since. */
  private boolean waiting;
  private ScheduledFuture<?> timer;

  FollowingRequestTimeout(long timeoutNanos, Runnable onTimeout) {
    this.timeoutNanos = timeoutNanos;
    this.onTimeout = onTimeout;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  /** The answer to the last request ended and the connection stays open: the next request's bytes start the clock. */
  void awaitRequest() {
    waiting = true;
  }

  /** A request's head arrived whole. */
  void requestArrived() {
    waiting = false;
    cancel();
  }

  /**
   * The handler to put right after the HTTP/1.1 codec: every request head that leaves the codec stops the clock,
   * whoever answers it.
   */
  ChannelInboundHandlerAdapter headsAfterCodec() {
    return new ChannelInboundHandlerAdapter() {
      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest) {
          cancel(); // still waiting, unless the translator takes the request (then requestArrived)
        }
        ctx.fireChannelRead(msg);
      }
    };
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (waiting && timer == null && msg instanceof ByteBuf && ((ByteBuf) msg).isReadable()) {
      timer = ctx.executor().schedule(this::expire, timeoutNanos, TimeUnit.NANOSECONDS);
    }
    ctx.fireChannelRead(msg);
  }

  private void expire() {
    timer = null;
    if (waiting && ctx.channel().isActive()) {
      waiting = false;
      onTimeout.run();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    cancel();
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    cancel();
  }

  private void cancel() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }
}
