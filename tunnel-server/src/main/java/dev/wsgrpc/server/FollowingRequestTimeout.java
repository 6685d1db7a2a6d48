package dev.wsgrpc.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Times a kept-alive gRPC-Web connection between requests: how long it may idle, and how long the head of each
 * request that follows the first may take, as the upgrade step times the first. It sits before the HTTP/1.1 codec.
 * The translator says when it waits for a request ({@link #awaitRequest}) and when one arrived
 * ({@link #requestArrived}). While it waits, the idle clock runs ({@link BrowserOptions#keepAliveTimeout()}): if no
 * byte arrives in time, {@code onIdle} runs on the event loop. The first byte stops it and starts the head's clock,
 * so a client cannot trickle a request's head in forever: if the head is not whole in time, {@code onTimeout} runs.
 * A request the translator never sees (a CORS preflight, which the CORS step answers) stops the head's clock too,
 * through {@link #headsAfterCodec()}, and the connection goes on waiting for the next, idle again. A request head
 * that arrives while none is awaited is pipelined behind the request in progress: it goes no further (the CORS step
 * would answer a preflight before that request's answer) and {@code onPipelined} runs. From then on what the client
 * sends is dropped before the codec, which would hold a request method for each head until an answer that never
 * comes; reading goes on, so a client that goes away is still noticed, and one that sends more than {@value
 * LingeringClose#LINGER_BYTES} bytes is closed.
 */
final class FollowingRequestTimeout extends ChannelInboundHandlerAdapter {

  static final String NAME = "wsgrpc-following-request-timeout";
  /** The name of {@link #headsAfterCodec()}. */
  static final String HEADS = "wsgrpc-following-request-heads";

  private final long timeoutNanos;
  private final Runnable onTimeout;
  private final long idleNanos;
  private final Runnable onIdle;
  private final Runnable onPipelined;
  private ChannelHandlerContext ctx;
  /** The last answer ended and no request head has arrived since. */
  private boolean waiting;
  /** A request head arrived pipelined: what the client sends is dropped, and counted here. */
  private long droppedAfterPipelined = -1;
  /** Times the head of the request whose first byte arrived; null when none is arriving. */
  private ScheduledFuture<?> timer;
  /** Times the connection while it waits without a byte of the next request; null when it does not. */
  private ScheduledFuture<?> idleTimer;

  /**
   * @param timeoutNanos how long the head of a request may take once its first byte arrived
   * @param idleNanos how long the connection may wait for the first byte of the next request
   * @param onPipelined runs when a request head arrives while the one before is still in progress
   */
  FollowingRequestTimeout(long timeoutNanos, Runnable onTimeout, long idleNanos, Runnable onIdle,
      Runnable onPipelined) {
    this.timeoutNanos = timeoutNanos;
    this.onTimeout = onTimeout;
    this.idleNanos = idleNanos;
    this.onIdle = onIdle;
    this.onPipelined = onPipelined;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  /**
   * The answer to the last request ended and the connection stays open: the idle clock starts, and the next
   * request's first byte stops it and starts the head's.
   */
  void awaitRequest() {
    waiting = true;
    startIdleClock();
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
        if (!(msg instanceof HttpRequest)) {
          ctx.fireChannelRead(msg);
          return;
        }
        if (!waiting) {
          ReferenceCountUtil.release(msg);
          if (droppedAfterPipelined < 0) {
            droppedAfterPipelined = 0;
            onPipelined.run();
          }
          return;
        }
        cancelHeadClock(); // still waiting, unless the translator takes the request (then requestArrived)
        ctx.fireChannelRead(msg);
        if (waiting) {
          startIdleClock(); // answered by another step (a preflight): idle again until the next request
        }
      }
    };
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (droppedAfterPipelined >= 0 && msg instanceof ByteBuf) {
      droppedAfterPipelined += ((ByteBuf) msg).readableBytes();
      ReferenceCountUtil.release(msg);
      if (droppedAfterPipelined > LingeringClose.LINGER_BYTES) {
        ctx.close();
      }
      return;
    }
    if (waiting && timer == null && msg instanceof ByteBuf && ((ByteBuf) msg).isReadable()) {
      cancelIdleClock();
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

  private void startIdleClock() {
    if (idleTimer == null && timer == null) {
      idleTimer = ctx.executor().schedule(this::idled, idleNanos, TimeUnit.NANOSECONDS);
    }
  }

  private void idled() {
    idleTimer = null;
    if (waiting && timer == null && ctx.channel().isActive()) {
      onIdle.run();
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
    cancelHeadClock();
    cancelIdleClock();
  }

  private void cancelHeadClock() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  private void cancelIdleClock() {
    if (idleTimer != null) {
      idleTimer.cancel(false);
      idleTimer = null;
    }
  }
}
