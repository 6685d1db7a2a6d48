package dev.wsgrpc.server;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import io.netty.util.NetUtil;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts one server's open tunnels, in all and per client, against {@link AccessPolicy}'s limits. A slot
 * is taken before the 101 and given back when the connection closes. A client is an IPv4 address, or an IPv6
 * network of {@link AccessPolicy#ipv6ClientPrefix()} bits (one host usually holds a whole /64).
 *
 * <p>Each client's count changes only inside {@link ConcurrentHashMap#compute}, which is atomic per key: an entry
 * is removed exactly when its count reaches 0, and no acquire can hold an entry that a release is removing (which
 * would split one client's count in two and let it past the limit).
 */
final class TunnelCounter {

  private final int max;
  private final int maxPerClient;
  private final int ipv6Prefix;
  private final AtomicInteger total = new AtomicInteger();
  private final ConcurrentHashMap<Object, Integer> perClient = new ConcurrentHashMap<>();
  /** The client a channel's slot is counted for ({@link #clientKey}), unset for one counted in the total only. */
  private static final AttributeKey<Object> CLIENT = AttributeKey.valueOf(TunnelCounter.class, "client");

  TunnelCounter(int max, int maxPerClient, int ipv6Prefix) {
    this.max = max;
    this.maxPerClient = maxPerClient;
    this.ipv6Prefix = ipv6Prefix;
  }

  TunnelCounter(int max, int maxPerClient) {
    this(max, maxPerClient, AccessPolicy.DEFAULT_IPV6_CLIENT_PREFIX);
  }

  /** A counter against {@code access}' limits. */
  TunnelCounter(AccessPolicy access) {
    this(access.maxTunnels(), access.maxTunnelsPerClient(), access.ipv6ClientPrefix());
  }

  /** What a client refused by {@code limit} ({@link #tryAcquire}, {@link #moveTo}) is told. */
  static String refusal(RejectReason limit) {
    return limit == RejectReason.TOO_MANY_TUNNELS ? "too many tunnels open; retry later"
        : "too many tunnels open from your address; retry later";
  }

  /**
   * Takes a slot for {@code channel}, given back when it closes; returns null, or the limit hit. A null
   * {@code client} (a native connection from a trusted proxy, whose clients are only named call by call) counts in
   * the total only.
   */
  RejectReason tryAcquire(Channel channel, SocketAddress client) {
    // A refused attempt never changes the count, so it cannot make a concurrent one fail spuriously.
    if (total.getAndUpdate(n -> n < max ? n + 1 : n) >= max) {
      return RejectReason.TOO_MANY_TUNNELS;
    }
    if (client == null) {
      channel.closeFuture().addListener(f -> total.decrementAndGet());
      return null;
    }
    Object key = clientKey(client, ipv6Prefix);
    if (!takeSlot(key)) {
      total.decrementAndGet();
      return RejectReason.TOO_MANY_TUNNELS_PER_CLIENT;
    }
    channel.attr(CLIENT).set(key);
    // The slot is given back under the client it is counted for when the connection closes (see moveTo).
    channel.closeFuture().addListener(f -> release(channel.attr(CLIENT).get()));
    return null;
  }

  /** Takes one of {@code key}'s slots; false when it has all {@code maxPerClient} already. */
  private boolean takeSlot(Object key) {
    boolean[] taken = new boolean[1];
    perClient.compute(key, (k, count) -> {
      int n = count == null ? 0 : count;
      if (n >= maxPerClient) {
        return count;
      }
      taken[0] = true;
      return n + 1;
    });
    return taken[0];
  }

  /**
   * Counts the slot {@code channel} holds for its client from now on for {@code client}: a kept-alive gRPC-Web
   * connection from a proxy that pools its connections carries one request at a time, each of its own client, and
   * holds one slot, counted for the client whose request it carries (so that neither client evades its limit by the
   * pooling, nor is counted twice). Returns null, or {@link RejectReason#TOO_MANY_TUNNELS_PER_CLIENT} when
   * {@code client} is at its limit (the slot then stays where it was). A connection counted in the total only keeps
   * that. Called on the channel's event loop.
   */
  RejectReason moveTo(Channel channel, SocketAddress client) {
    Object from = channel.attr(CLIENT).get();
    if (from == null || channel.closeFuture().isDone()) {
      return null;
    }
    Object to = clientKey(client, ipv6Prefix);
    if (to.equals(from)) {
      return null;
    }
    if (!takeSlot(to)) {
      return RejectReason.TOO_MANY_TUNNELS_PER_CLIENT;
    }
    channel.attr(CLIENT).set(to);
    perClient.computeIfPresent(from, (k, count) -> count <= 1 ? null : count - 1);
    return null;
  }

  private void release(Object key) {
    perClient.computeIfPresent(key, (k, count) -> count <= 1 ? null : count - 1);
    total.decrementAndGet();
  }

  /** Tunnels open now from the client {@code key} names ({@link #clientKey}). */
  int openFrom(Object key) {
    return perClient.getOrDefault(key, 0);
  }

  /** How many clients hold a slot now. */
  int clients() {
    return perClient.size();
  }

  /**
   * What one client is counted under: {@code 192.0.2.7}, {@code 2001:db8:1:2::/64} (the address's first
   * {@code ipv6Prefix} bits), or the address's text when it is not an IP address (local channels).
   */
  static Object clientKey(SocketAddress client, int ipv6Prefix) {
    InetAddress address = client instanceof InetSocketAddress ? ((InetSocketAddress) client).getAddress() : null;
    if (address == null) {
      return String.valueOf(client);
    }
    if (!(address instanceof Inet6Address)) {
      return NetUtil.toAddressString(address);
    }
    byte[] bytes = address.getAddress();
    for (int bit = ipv6Prefix; bit < 128; bit++) {
      bytes[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
    }
    try {
      return NetUtil.toAddressString(InetAddress.getByAddress(bytes)) + "/" + ipv6Prefix;
    } catch (UnknownHostException e) {
      throw new AssertionError("16 bytes are an IPv6 address", e);
    }
  }
}
