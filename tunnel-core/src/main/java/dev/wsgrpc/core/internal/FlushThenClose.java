package dev.wsgrpc.core.internal;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelOutboundInvoker;
import io.netty.util.concurrent.EventExecutor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Closes a connection once what is queued for it has left, or {@value #TIMEOUT_MILLIS} ms later at the latest: a peer
 * that has stopped reading must not keep its connection, and the bytes waiting for it, open by never taking the last
 * bytes. Used where a relay ends one side because the other ended (the gateway's relay mode, the command-line tool's
 * {@code forward}).
 */
public final class FlushThenClose {

  /** How long the last bytes for a side may take to leave before that side is closed anyway: {@value} ms. */
  public static final long TIMEOUT_MILLIS = 5_000;

  /** Flushes {@code side}, then closes it; {@code loop} is its event loop, which times the cut. */
  public static void close(ChannelOutboundInvoker side, EventExecutor loop) {
    ScheduledFuture<?> cut;
    try {
      cut = loop.schedule(() -> {
        side.close();
      }, TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      side.close(); // the event loop is shutting down, and its connections with it
      return;
    }
    side.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> {
      cut.cancel(false);
      side.close();
    });
  }

  private FlushThenClose() {}
}
