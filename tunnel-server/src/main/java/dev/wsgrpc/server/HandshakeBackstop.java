package dev.wsgrpc.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.AttributeKey;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The last resort of a connection's handshake, after TLS: closes it, without a word, if gRPC has not read the
 * client's first SETTINGS {@value #MARGIN_MILLIS} ms after the upgrade step's handshake timeout (a tunnel whose
 * client sends nothing after the 101, say). It replaces grpc-netty's own handshake timeout
 * ({@code NettyServerBuilder.handshakeTimeout}), which counts from a moment the upgrade step cannot see (before TLS,
 * before this library's handlers were even built): when the step started late (a TLS handshake, a cold or busy
 * server), grpc's close came before the step's answer (GOAWAY or 408 with the reason) and the client got none. This
 * one marks its start in {@link #START}, which the upgrade step's timeout counts from; both run on the channel's
 * event loop, so the answer always comes first.
 *
 * <p>The close starts at the handler before gRPC's, not at the pipeline's tail: gRPC's own close is a graceful one,
 * which sends GOAWAY and a PING and waits up to 10 s for the PING's answer, which a client that never spoke HTTP/2
 * does not send. The handlers before it (the tunnel's Close 1001, TLS's close_notify) still have their say.
 *
 * <p>Schedules its close when added, then gives its place to the upgrade step ({@link GrpcHandoffHandler}).
 */
final class HandshakeBackstop extends ChannelInboundHandlerAdapter {

  /** When the connection's handshake started, in the nanoseconds of its event loop's ticker. */
  static final AttributeKey<Long> START = AttributeKey.valueOf("wsgrpc.handshakeStart");
  static final long MARGIN_MILLIS = 1_000;

  private final ChannelHandler next;
  private final long closeAfterNanos;
  private final ChannelHandler grpcHandler;
  private final BooleanSupplier ready;

  /**
   * @param next the upgrade step, which takes this handler's place
   * @param handshakeTimeout the handshake timeout; the close comes {@value #MARGIN_MILLIS} ms after it
   * @param grpcHandler gRPC's HTTP/2 handler, whose graceful close the backstop's close passes by
   * @param ready whether gRPC has read the client's first SETTINGS: then the handshake is over and nothing is closed
   */
  HandshakeBackstop(ChannelHandler next, Duration handshakeTimeout, ChannelHandler grpcHandler,
      BooleanSupplier ready) {
    this.next = next;
    this.closeAfterNanos = handshakeTimeout.toNanos() + TimeUnit.MILLISECONDS.toNanos(MARGIN_MILLIS);
    this.grpcHandler = grpcHandler;
    this.ready = ready;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    Channel channel = ctx.channel();
    channel.attr(START).set(ctx.executor().ticker().nanoTime());
    ScheduledFuture<?> close = ctx.executor().schedule(() -> {
      if (!ready.getAsBoolean()) {
        ChannelHandlerContext grpc = channel.pipeline().context(grpcHandler);
        if (grpc != null) {
          grpc.close(); // from the handler before gRPC's on
        } else {
          channel.close(); // gRPC's handler is not in place yet
        }
      }
    }, closeAfterNanos, TimeUnit.NANOSECONDS);
    channel.closeFuture().addListener(closed -> close.cancel(false));
    ctx.pipeline().replace(this, null, next);
  }
}
