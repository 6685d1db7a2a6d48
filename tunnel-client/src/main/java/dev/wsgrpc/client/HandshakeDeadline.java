package dev.wsgrpc.client;

import dev.wsgrpc.core.internal.TunnelStatus;
import io.netty.channel.Channel;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/** One deadline for TLS and the upgrade together, shared by the setup steps of one connection. */
final class HandshakeDeadline {

  private final long timeoutMillis;
  private final String url;
  private ScheduledFuture<?> timer;
  private java.util.function.Supplier<String> pendingStep;
  private boolean finished;

  HandshakeDeadline(long timeoutMillis, String url) {
    this.timeoutMillis = timeoutMillis;
    this.url = url;
  }

  /**
   * Starts the clock on the first call; every call names the step now pending. On expiry the channel's pipeline
   * sees an UNAVAILABLE naming the step that was pending then.
   */
  void start(Channel channel, java.util.function.Supplier<String> pendingStep) {
    this.pendingStep = pendingStep;
    if (timer != null || finished) {
      return;
    }
    timer = channel.eventLoop().schedule(() -> {
      if (!finished) {
        finished = true;
        channel.pipeline().fireExceptionCaught(TunnelStatus.handshakeFailed(
            "WebSocket handshake with " + url + " timed out after " + timeoutMillis + " ms while "
                + this.pendingStep.get(), null));
      }
    }, timeoutMillis, TimeUnit.MILLISECONDS);
  }

  /** Stops the clock: the handshake ended, well or badly. */
  void finish() {
    finished = true;
    if (timer != null) {
      timer.cancel(false);
    }
  }
}
