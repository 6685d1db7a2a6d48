package dev.wsgrpc.benchmarks;

import io.grpc.ManagedChannel;
import java.util.concurrent.TimeUnit;

final class Channels {

  /** Shuts {@code channel} down now and waits a little for it to let go of its connection. */
  static void shutdown(ManagedChannel channel) {
    if (channel == null) {
      return;
    }
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private Channels() {}
}
