package dev.wsgrpc.gateway.proxy;

import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.netty.channel.EventLoop;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Proxy mode's upstream channels: one per event loop of the gateway's server, each with its own connections on that
 * loop, so that a call whose caller's connection runs on loop <i>n</i> goes upstream over a connection of the same
 * loop. The call then never crosses threads inside the gateway: its request and its response are each read and
 * written by one thread, with no hand-off and no wake-up of another thread (which, per call, cost more than the
 * forwarding itself). Envoy's per-worker connection pools do the same.
 *
 * <p>Each channel is a whole grpc-java channel: it resolves the upstream names, balances with {@code round_robin}
 * over every address and runs the {@code grpc.health.v1} checks itself. All calls of one connection (a tunnel, or a
 * native gRPC connection) go through one channel, so they are balanced across every upstream replica as with a
 * single channel; each upstream replica gets one connection (and one health-check stream) per event loop.
 */
public final class UpstreamChannels {

  private final EventLoop[] loops;
  private final ManagedChannel[] channels;
  private final Runnable onShutdown;
  /** Whether the upstreams accept gzip, learned from the answers of any channel's calls. */
  private final UpstreamGzip gzip = new UpstreamGzip();
  /** Per channel, when a failed call last cut its connection backoff short (System.nanoTime()). */
  private final AtomicLongArray lastBackoffReset;

  /** At most one {@code resetConnectBackoff} per channel in this time: one second. */
  static final long BACKOFF_RESET_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** {@code onShutdown} runs once the channels are shut down (e.g. to remove their balancer from grpc's registry). */
  UpstreamChannels(List<EventLoop> loops, List<ManagedChannel> channels, Runnable onShutdown) {
    if (loops.isEmpty() || loops.size() != channels.size()) {
      throw new IllegalArgumentException("loops: " + loops.size() + ", channels: " + channels.size()
          + " (expected: one channel per loop, at least one)");
    }
    this.loops = loops.toArray(new EventLoop[0]);
    this.channels = channels.toArray(new ManagedChannel[0]);
    this.onShutdown = onShutdown;
    this.lastBackoffReset = new AtomicLongArray(this.channels.length);
    long longAgo = System.nanoTime() - BACKOFF_RESET_INTERVAL_NANOS;
    for (int i = 0; i < this.channels.length; i++) {
      lastBackoffReset.set(i, longAgo);
    }
  }

  /**
   * The channel of the event loop running this thread, or the first channel on any other thread (a server executor
   * other than {@code directExecutor()}, or a caller outside the server).
   */
  Channel current() {
    int i = currentLoop();
    return channels[i < 0 ? 0 : i];
  }

  /** Starts forwarding {@code call} over {@link #current()}; on its loop's thread, in a lane on that loop. */
  ServerCall.Listener<byte[]> forward(ServerCall<byte[], byte[]> call, Metadata headers) {
    int i = currentLoop();
    return i < 0 ? ForwardedCall.start(call, headers, channels[0], gzip)
        : ForwardedCall.start(call, headers, channels[i], loops[i], () -> upstreamUnreachable(i), gzip);
  }

  /**
   * A call of channel {@code i} found no upstream to take it. grpc-java waits longer and longer between attempts to
   * connect to an upstream that refused (up to two minutes), and fails calls at once meanwhile: an upstream back
   * after an outage would miss calls until the next attempt. So a call that finds none cuts the wait short
   * ({@code resetConnectBackoff}), at most once per {@link #BACKOFF_RESET_INTERVAL_NANOS} per channel, so that calls
   * bring a returning upstream back within a second without a connection attempt per call.
   */
  private void upstreamUnreachable(int i) {
    long now = System.nanoTime();
    long last = lastBackoffReset.get(i);
    if (now - last >= BACKOFF_RESET_INTERVAL_NANOS && lastBackoffReset.compareAndSet(i, last, now)) {
      channels[i].resetConnectBackoff();
    }
  }

  /** The index of the event loop running this thread, or -1. */
  private int currentLoop() {
    for (int i = 0; i < loops.length; i++) {
      if (loops[i].inEventLoop()) {
        return i;
      }
    }
    return -1;
  }

  /** The first channel, for work that is not a forwarded call (e.g. asking the upstream for its schemas). */
  public ManagedChannel first() {
    return channels[0];
  }

  /** How many channels (one per event loop). */
  public int size() {
    return channels.length;
  }

  /** Shuts every channel down now; waits up to {@code timeoutMillis} for them to terminate. */
  public void shutdownNow(long timeoutMillis) throws InterruptedException {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow();
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    try {
      for (ManagedChannel channel : channels) {
        channel.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      }
    } finally {
      onShutdown.run();
    }
  }
}
