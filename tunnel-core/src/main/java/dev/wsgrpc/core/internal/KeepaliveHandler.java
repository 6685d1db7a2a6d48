package dev.wsgrpc.core.internal;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
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
 * <p>A Ping cannot overtake the bytes this side sent before it (a frame is never interrupted, and the socket is a
 * queue), so a peer that reads slowly sees it late, and its answer comes late, although the peer is alive. So silence
 * is judged only where the peer is not taking our bytes either. A Ping's {@code timeout} runs from when it reached
 * the socket; while it waits behind our queued bytes, or when no answer has come in time, the peer is still taking
 * our data if our queued bytes went out to the socket meanwhile (the channel became writable again) or, on native
 * epoll, if the peer's TCP acknowledged data we sent within the timeout ({@code TCP_INFO}): then the answer is
 * behind our data, and the Ping gets another {@code timeout}, as often as that holds. A peer that is gone (a black hole) takes nothing, so it is still caught one
 * {@code timeout} after the Ping. On NIO the kernel's own send buffer is invisible: a reader slower than
 * {@code send buffer / timeout} may still be taken for a silent one once all our bytes are in that buffer.
 *
 * <p>A Ping also goes out at once, outside the interval, when this side writes data after nothing has arrived for
 * {@link #QUIET_BEFORE_WRITE_PING_MILLIS} ms (or the interval, if shorter) and no Ping is waiting for an answer: the
 * write is the moment a dead path starts to matter (an RPC now waits on it), so it is noticed within {@code timeout}
 * of that write instead of up to {@code interval + timeout} later. It is judged exactly as a timed Ping, with the same
 * {@code timeout} and the same allowance for slow readers. It is bounded: never while a Ping is unanswered, and never
 * while data arrives within the quiet time, so steady traffic sends no more Pings than before; at most one per quiet
 * time plus round trip while an application writes into a connection that only answers its Pings.
 *
 * <p>Timers run on the channel's event loop, so tests can drive them with a fake clock.
 */
public final class KeepaliveHandler extends ChannelDuplexHandler {

  /**
   * The tunnel's peer said nothing within the ping timeout: after a Ping, or, on clients, after its 101 (the Netty
   * client's wait for the server's first bytes in the tunnel). {@link ControlFrameHandler} ends the tunnel for it.
   */
  public static final class PingTimeoutException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** {@code message} says what was expected within which time, and that nothing arrived. */
    public PingTimeoutException(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * How long nothing must have arrived before a data write sends a Ping at once: {@value} ms. Long enough that a
   * connection carrying answers (any RPC in progress reads within a round trip or so) never pings for its writes;
   * short enough that an RPC started on a path that died seconds ago finds out within the ping timeout.
   */
  public static final long QUIET_BEFORE_WRITE_PING_MILLIS = 2_000;

  private final long intervalNanos;
  private final long timeoutNanos;
  private final long quietNanos;
  private ChannelHandlerContext ctx;
  private ScheduledFuture<?> nextPing;
  /** Counts reads, so that a check can tell whether anything arrived after its Ping. */
  private long reads;
  /** When something last arrived (or the handler started), on the event loop's clock. */
  private long lastReadNanos;
  /** The last Ping sent; unanswered while nothing has been read since it went out. */
  private SentPing lastPing;
  /** Counts signs that the peer is taking our bytes: the channel became writable again (our queued bytes drained). */
  private long drained;
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
    this.quietNanos = Math.min(intervalNanos, TimeUnit.MILLISECONDS.toNanos(QUIET_BEFORE_WRITE_PING_MILLIS));
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
    lastReadNanos = now();
    ctx.fireChannelRead(msg);
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable()) {
      drained++;
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof CloseWebSocketFrame) {
      // Nothing may follow a Close, and the tunnel is ending anyway.
      stop();
    } else if (!(msg instanceof PingWebSocketFrame) && !(msg instanceof PongWebSocketFrame)) {
      pingIfQuiet();
    }
    ctx.write(msg, promise);
  }

  /**
   * Data is about to be written: when nothing has arrived for the quiet time and no Ping is unanswered, a Ping goes
   * first, so that a dead path is noticed within the timeout of this write. Not while this side holds the peer's
   * bytes unread: that silence is our own.
   */
  private void pingIfQuiet() {
    if (!started || stopped || now() - lastReadNanos < quietNanos || !ctx.channel().config().isAutoRead()
        || (lastPing != null && lastPing.readsBefore == reads)) {
      return;
    }
    sendPing(false); // it leaves with the data, in the caller's flush: no write of its own
  }

  private long now() {
    return ctx.executor().ticker().nanoTime();
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
    lastReadNanos = now();
    nextPing = ctx.executor().schedule(this::ping, intervalNanos, TimeUnit.NANOSECONDS);
  }

  /** One Ping waiting for anything to arrive after it. */
  private static final class SentPing {
    final long readsBefore;
    /** Whether it has left for the socket; until then it waits behind bytes this side queued before it. */
    boolean written;

    SentPing(long readsBefore) {
      this.readsBefore = readsBefore;
    }
  }

  private void ping() {
    if (stopped) {
      return;
    }
    sendPing(true);
    nextPing = ctx.executor().schedule(this::ping, intervalNanos, TimeUnit.NANOSECONDS);
  }

  /** Sends a Ping and judges it; {@code flush}: at once, else with whatever this side flushes next. */
  private void sendPing(boolean flush) {
    SentPing ping = new SentPing(reads);
    lastPing = ping;
    ChannelPromise promise = ctx.newPromise();
    promise.addListener(f -> {
      if (f.isSuccess()) {
        ping.written = true;
        scheduleCheck(ping); // judged from the moment it could reach the peer
      }
    });
    if (flush) {
      ctx.writeAndFlush(new PingWebSocketFrame(Unpooled.EMPTY_BUFFER), promise);
    } else {
      ctx.write(new PingWebSocketFrame(Unpooled.EMPTY_BUFFER), promise);
    }
    if (!ping.written) {
      scheduleCheck(ping); // queued behind our own bytes: judged meanwhile by whether they drain
    }
  }

  private void scheduleCheck(SentPing ping) {
    long drainedBefore = drained;
    boolean written = ping.written;
    ctx.executor().schedule(() -> checkAnswered(ping, written, drainedBefore), timeoutNanos, TimeUnit.NANOSECONDS);
  }

  private void checkAnswered(SentPing ping, boolean wasWritten, long drainedBefore) {
    if (stopped || reads != ping.readsBefore || (!wasWritten && ping.written)) {
      return; // answered, or written meanwhile: the check scheduled at its write judges it
    }
    if (!ctx.channel().config().isAutoRead()) {
      // This side holds the peer's bytes unread (back-pressure: a gateway whose upstream is not reading), so the
      // answer may be waiting in the socket: silence cannot be judged. The next ping's check judges again.
      return;
    }
    if (drained != drainedBefore || TcpProgress.dataAckedWithin(ctx.channel(), timeoutNanos)) {
      // The peer is taking our bytes, and the answer is behind them: another timeout, as long as that holds.
      scheduleCheck(ping);
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
