package dev.wsgrpc.core.internal;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Keeps a tunnel alive through intermediaries and notices when the peer has gone silent.
 *
 * <p>Every {@code interval} it sends a WebSocket Ping, so that proxies and CDNs that drop idle connections see
 * traffic both ways (the Pong comes back). When nothing at all has arrived within {@code timeout} of a Ping — no
 * Pong, no data, no frame of any kind — the peer or a hop on the path is considered dead: the handler fires a
 * {@link PingTimeoutException}, which {@link ControlFrameHandler} turns into a Close and a gRPC status like any other
 * tunnel failure. It sits between the frame encoder and {@link ControlFrameHandler}, so it sees every frame that
 * arrives, and stops once a Close has been written or the connection is closed. While this side has stopped reading
 * ({@code autoRead} off, for back-pressure), nothing is judged: the peer's answer may be waiting unread.
 *
 * <p>Timers run on the channel's event loop, so tests can drive them with a fake clock.
 */
public final class KeepaliveHandler extends ChannelDuplexHandler {

  /** The tunnel's peer said nothing within the timeout after a Ping. */
  public static final class PingTimeoutException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    PingTimeoutException(String message) {
      super(message, null, false, false);
    }
  }

  private final long intervalNanos;
  private final long timeoutNanos;
  private ChannelHandlerContext ctx;
  private ScheduledFuture<?> nextPing;
  /** Counts reads, so that a check can tell whether anything arrived after its Ping. */
  private long reads;
  private boolean started;
  private boolean stopped;

  /**
   * Creates the handler for one tunnel.
   *
   * @param intervalMillis time between two Pings; must be positive
   * @param timeoutMillis how long after a Ping something must have arrived; must be positive
   */
  public KeepaliveHandler(long intervalMillis, long timeoutMillis) {
    Preconditions.checkArgument(intervalMillis > 0, "intervalMillis", intervalMillis, "> 0");
    Preconditions.checkArgument(timeoutMillis > 0, "timeoutMillis", timeoutMillis, "> 0");
    this.intervalNanos = TimeUnit.MILLISECONDS.toNanos(intervalMillis);
    this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    if (ctx.channel().isActive()) {
      start();
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    start();
    ctx.fireChannelActive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    stop();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    stop();
    ctx.fireChannelInactive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    reads++;
    ctx.fireChannelRead(msg);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof CloseWebSocketFrame) {
      // Nothing may follow a Close, and the tunnel is ending anyway.
      stop();
    }
    ctx.write(msg, promise);
  }

  @Override
  public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
    stop();
    ctx.close(promise);
  }

  private void start() {
    if (started || stopped) {
      return;
    }
    started = true;
    nextPing = ctx.executor().schedule(this::ping, intervalNanos, TimeUnit.NANOSECONDS);
  }

  private void ping() {
    if (stopped) {
      return;
    }
    long readsBefore = reads;
    ctx.writeAndFlush(new PingWebSocketFrame(Unpooled.EMPTY_BUFFER));
    ctx.executor().schedule(() -> checkAnswered(readsBefore), timeoutNanos, TimeUnit.NANOSECONDS);
    nextPing = ctx.executor().schedule(this::ping, intervalNanos, TimeUnit.NANOSECONDS);
  }

  private void checkAnswered(long readsBefore) {
    if (stopped || reads != readsBefore) {
      return;
    }
    if (!ctx.channel().config().isAutoRead()) {
      // This side holds the peer's bytes unread (back-pressure: a gateway whose upstream is not reading), so the
      // answer may be waiting in the socket: silence cannot be judged. The next ping's check judges again.
      return;
    }
    stop();
    ctx.fireExceptionCaught(new PingTimeoutException("nothing arrived within "
        + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms of a WebSocket ping: the peer or a hop on the path "
        + "has gone silent"));
  }

  private void stop() {
    stopped = true;
    if (nextPing != null) {
      nextPing.cancel(false);
      nextPing = null;
    }
  }
}
