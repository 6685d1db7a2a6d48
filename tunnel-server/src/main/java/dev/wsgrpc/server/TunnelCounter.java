package dev.wsgrpc.server;

import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts one server's open tunnels, in all and per client address, against {@link WebSocketServerOptions}' limits.
 * A slot is taken before the 101 and given back when the connection closes.
 */
final class TunnelCounter {

  private final int max;
  private final int maxPerClient;
  private final AtomicInteger total = new AtomicInteger();
  private final ConcurrentHashMap<Object, AtomicInteger> perClient = new ConcurrentHashMap<>();

  TunnelCounter(int max, int maxPerClient) {
    this.max = max;
    this.maxPerClient = maxPerClient;
  }

  /** A counter against {@code access}' limits. */
  TunnelCounter(AccessPolicy access) {
    this(access.maxTunnels(), access.maxTunnelsPerClient());
  }

  /** Takes a slot for {@code channel}, given back when it closes; returns null, or the limit hit. */
  RejectReason tryAcquire(Channel channel, SocketAddress client) {
    if (total.incrementAndGet() > max) {
      total.decrementAndGet();
      return RejectReason.TOO_MANY_TUNNELS;
    }
    Object key = client instanceof InetSocketAddress && ((InetSocketAddress) client).getAddress() != null
        ? ((InetSocketAddress) client).getAddress() : String.valueOf(client);
    AtomicInteger mine = perClient.computeIfAbsent(key, k -> new AtomicInteger());
    if (mine.incrementAndGet() > maxPerClient) {
      release(key, mine);
      return RejectReason.TOO_MANY_TUNNELS_PER_CLIENT;
    }
    channel.closeFuture().addListener(f -> release(key, mine));
    return null;
  }

  private void release(Object key, AtomicInteger mine) {
    total.decrementAndGet();
    if (mine.decrementAndGet() == 0) {
      perClient.remove(key, mine);
      // A concurrent acquire may have found `mine` just before its removal: it still counts correctly, and its
      // own release removes nothing that is in use.
    }
  }
}
