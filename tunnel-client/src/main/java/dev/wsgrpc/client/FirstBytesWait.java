package dev.wsgrpc.client;

import dev.wsgrpc.core.internal.KeepaliveHandler;
import dev.wsgrpc.core.internal.OptionValues;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The wait for the server's first bytes in the tunnel (HTTP/2's SETTINGS, which a server sends first), from the 101
 * on: they must arrive within the ping timeout, as anything must after a Ping. gRPC's HTTP/2 client has no such
 * wait, and without it a server (or a hop) that answered the upgrade and then went silent held the channel's calls
 * until gRPC's keepalive gave up (40 s) or their deadline. It is not the handshake timeout: relay mode's gateway
 * dials its upstream only after its 101 (10 s and more when no address answers), and its SETTINGS come later. It
 * waits also with pings off ({@code pingInterval} 0): it sends nothing.
 *
 * <p>It sits after the byte-stream step, and on gRPC channels after the check of the server's preface ({@link
 * dev.wsgrpc.core.internal.Http2PrefaceCheck}), so that what ends the wait there is a SETTINGS frame's header: a
 * server that sends a few bytes and stops is waited for no longer than a silent one. It removes itself at the first
 * bytes it sees, or stops when the connection closes. On expiry it takes the keepalive's path ({@link
 * KeepaliveHandler.PingTimeoutException} from the pipeline's head): Close 1001 and RPCs failing UNAVAILABLE, {@code
 * "expected the server's HTTP/2 SETTINGS within 15s of the WebSocket upgrade (101) but they did not arrive (from
 * ws://host/grpc; sent close 1001 (Going Away))"}.
 */
final class FirstBytesWait extends ChannelInboundHandlerAdapter {

  static final String NAME = "wsgrpc-first-bytes-wait";

  private final Duration timeout;
  private ScheduledFuture<?> timer;

  FirstBytesWait(Duration timeout) {
    this.timeout = timeout;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    if (ctx.channel().isActive()) {
      start(ctx);
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    start(ctx);
    ctx.fireChannelActive();
  }

  private void start(ChannelHandlerContext ctx) {
    if (timer == null) {
      timer = ctx.executor().schedule(() -> expired(ctx), timeout.toNanos(), TimeUnit.NANOSECONDS);
    }
  }

  private void expired(ChannelHandlerContext ctx) {
    timer = null;
    ctx.pipeline().fireExceptionCaught(new KeepaliveHandler.PingTimeoutException("expected the server's HTTP/2 "
        + "SETTINGS within " + OptionValues.formatDuration(timeout) + " of the WebSocket upgrade (101) but they did "
        + "not arrive"));
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ctx.pipeline().remove(this);
    ctx.fireChannelRead(msg);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    stop();
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    stop();
  }

  private void stop() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }
}
