package dev.wsgrpc.core.internal;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOutboundInvoker;
import java.util.concurrent.RejectedExecutionException;

/**
 * Closes a connection once what is queued for it has left, or once {@value #TIMEOUT_MILLIS} ms have passed without
 * any of it leaving: a peer that has stopped reading must not keep its connection, and the bytes waiting for it, open
 * by never taking the last bytes, while a peer that is still reading, however slowly (a mobile link taking the end of
 * a stream and gRPC's trailers), gets every byte before the close. Used where a relay ends one side because the other
 * ended (the gateway's relay mode, the command-line tool's {@code forward}).
 *
 * <p>Progress is bytes leaving the channel's outbound buffer: what it holds and has not written going down, or its
 * first message moving on ({@link OutboundStall}); the cut comes {@value #TIMEOUT_MILLIS} ms to a fifth more after the
 * last bytes left.
 *
 * <p>There is no bound on the whole. A peer that takes a byte every few seconds keeps its connection until it has
 * taken what is queued (a few hundred KiB at most), but the same peer could already keep it open as long while the
 * relay was running, on a call that never ends: it gains nothing here it did not have. The gateway's drain at SIGTERM
 * ends these connections with every other one still open at {@code --drain-timeout}, so no shutdown waits for them.
 * A fixed bound would cut exactly the peers this waits for: slow ones still taking the end of a stream.
 */
public final class FlushThenClose {

  /** How long the last bytes for a side may go without any of them leaving before that side is closed anyway. */
  public static final long TIMEOUT_MILLIS = 5_000;

  /** Flushes {@code side}, then closes it; {@code channel} is its channel, whose event loop times the cut. */
  public static void close(ChannelOutboundInvoker side, Channel channel) {
    close(side, channel, TIMEOUT_MILLIS);
  }

  /** {@link #close(ChannelOutboundInvoker, Channel)} with another stall timeout, for tests. */
  static void close(ChannelOutboundInvoker side, Channel channel, long stallMillis) {
    OutboundStall watch;
    try {
      watch = OutboundStall.start(channel, stallMillis, side::close);
    } catch (RejectedExecutionException e) {
      side.close(); // the event loop is shutting down, and its connections with it
      return;
    }
    side.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> {
      watch.stop();
      side.close();
    });
  }

  private FlushThenClose() {}
}
