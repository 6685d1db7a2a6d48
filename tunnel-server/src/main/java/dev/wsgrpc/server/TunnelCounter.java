package dev.wsgrpc.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.AttributeKey;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts one server's open tunnels, in all and per client, against {@link AccessPolicy}'s limits. A slot
 * is taken before the 101 (by a browser call over a WebSocket of its own, with an authenticator, once its first
 * message was admitted) and given back when the connection closes. A client is an IPv4 address, or an IPv6
 * network of {@link AccessPolicy#ipv6ClientPrefix()} bits (one host usually holds a whole /64).
 *
 * <p>Also counts, per peer address, the connections still in their handshake, from their accept to their admission
 * (a {@link #tryAcquire} that succeeds) or close, against {@link AccessPolicy#maxHandshakesPerClient()}
 * ({@link #handshakeStarted}).
 *
 * <p>Each client's count changes only inside {@link ConcurrentHashMap#compute}, which is atomic per key: an entry
 * is removed exactly when its count reaches 0, and no acquire can hold an entry that a release is removing (which
 * would split one client's count in two and let it past the limit).
 */
final class TunnelCounter {

  /**
   * How long a connection over {@link AccessPolicy#maxHandshakesPerClient()} is kept, at most, for its refusal to
   * be answered (its TLS handshake and request come first): {@value} ms.
   */
  static final long OVER_LIMIT_MILLIS = 2_000;

  private final int max;
  private final int maxPerClient;
  private final int ipv6Prefix;
  private final int maxHandshakesPerClient;
  private final TrustedProxies trustedProxies;
  private final AtomicInteger total = new AtomicInteger();
  private final ConcurrentHashMap<Object, Integer> perClient = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Object, Integer> handshakes = new ConcurrentHashMap<>();
  /** The client a channel's slot is counted for ({@link #clientKey}), unset for one counted in the total only. */
  private static final AttributeKey<Object> CLIENT = AttributeKey.valueOf(TunnelCounter.class, "client");
  /**
   * A channel's handshake: the peer it is counted for (until its admission or close, then unset), or, for one
   * accepted while its peer's handshakes were at the limit, {@link #OVER_LIMIT}, {@link #REFUSED} or
   * {@link #REPORTED}; unset for one never counted.
   */
  private static final AttributeKey<Object> HANDSHAKE = AttributeKey.valueOf(TunnelCounter.class, "handshake");
  /** Past the limit, nothing answered or reported yet. */
  private static final Object OVER_LIMIT = new Object();
  /** Past the limit, refused with an HTTP answer (reported by its answerer), after which it closes on its own. */
  private static final Object REFUSED = new Object();
  /**
   * Past the limit and reported: refused otherwise (a native connection, a WebSocket call), given a plain answer, or
   * closed before anything reported it (nothing answered, or only a CORS preflight), then reported as that limit's.
   */
  private static final Object REPORTED = new Object();

  TunnelCounter(int max, int maxPerClient, int ipv6Prefix, int maxHandshakesPerClient,
      TrustedProxies trustedProxies) {
    this.max = max;
    this.maxPerClient = maxPerClient;
    this.ipv6Prefix = ipv6Prefix;
    this.maxHandshakesPerClient = maxHandshakesPerClient;
    this.trustedProxies = trustedProxies;
  }

  TunnelCounter(int max, int maxPerClient, int ipv6Prefix) {
    this(max, maxPerClient, ipv6Prefix, Integer.MAX_VALUE, TrustedProxies.NONE);
  }

  TunnelCounter(int max, int maxPerClient) {
    this(max, maxPerClient, AccessPolicy.DEFAULT_IPV6_CLIENT_PREFIX);
  }

  /** A counter against {@code access}' limits. */
  TunnelCounter(AccessPolicy access) {
    this(access.maxTunnels(), access.maxTunnelsPerClient(), access.ipv6ClientPrefix(),
        access.maxHandshakesPerClient(), access.trustedProxies());
  }

  /** What a client refused by {@code limit} ({@link #tryAcquire}, {@link #moveTo}) is told. */
  static String refusal(RejectReason limit) {
    switch (limit) {
      case TOO_MANY_TUNNELS:
        return "too many tunnels open; retry later";
      case TOO_MANY_HANDSHAKES_PER_CLIENT:
        return "too many connections from your address are still in their handshake; retry later";
      default:
        return "too many tunnels open from your address; retry later";
    }
  }

  /**
   * Counts {@code channel}, just accepted, as a handshake of its peer's address until its admission
   * (a {@link #tryAcquire} that succeeds) or close. When that address has
   * {@link AccessPolicy#maxHandshakesPerClient()} under way already, the connection is not counted but marked: its
   * admission is refused {@link RejectReason#TOO_MANY_HANDSHAKES_PER_CLIENT} (a 503, an {@code UNAVAILABLE} call),
   * and it is closed {@value #OVER_LIMIT_MILLIS} ms from now unless closed before or refused with an HTTP answer
   * ({@link #answered}: it then closes on its own, within the lingering close's bound, and a cut could reset the
   * answer), so that connections past the limit are held only that long, whatever the handshake timeout. One closed
   * before anything reported it ({@link #answered}, {@link #reported}) is reported to {@code listener} then (status
   * 0). A trusted proxy's connections are not counted: they carry many clients, each
   * named only in its requests. On the channel's event loop, before anything is read.
   */
  void handshakeStarted(Channel channel, TunnelListener listener) {
    if (maxHandshakesPerClient == Integer.MAX_VALUE) {
      return;
    }
    SocketAddress peer = channel.remoteAddress();
    InetAddress address = peer instanceof InetSocketAddress ? ((InetSocketAddress) peer).getAddress() : null;
    if (address != null && trustedProxies.contains(address)) {
      return;
    }
    Object key = clientKey(peer, ipv6Prefix);
    if (takeSlot(handshakes, key, maxHandshakesPerClient)) {
      channel.attr(HANDSHAKE).set(key);
      channel.closeFuture().addListener(f -> handshakeEnded(channel, key));
      return;
    }
    channel.attr(HANDSHAKE).set(OVER_LIMIT);
    ScheduledFuture<?> cut = channel.eventLoop().schedule(() -> {
      if (channel.attr(HANDSHAKE).get() == REFUSED) {
        return; // answered, and closing on its own
      }
      ChannelHandlerContext first = channel.pipeline().firstContext();
      if (first != null) {
        first.close(); // no graceful close of gRPC's or TLS's: the connection had its time
      } else {
        channel.close();
      }
    }, OVER_LIMIT_MILLIS, TimeUnit.MILLISECONDS);
    channel.closeFuture().addListener(f -> {
      cut.cancel(false);
      // Still marked afterwards: a TLS handshake cut short here fails only after this, and must not be reported.
      if (channel.attr(HANDSHAKE).compareAndSet(OVER_LIMIT, REPORTED)) {
        listener.upgradeRejected(peer, 0, RejectReason.TOO_MANY_HANDSHAKES_PER_CLIENT);
      }
    });
  }

  /**
   * Notes that {@code channel} was refused with an HTTP answer, which its answerer reports, and closes after it: one
   * past {@link AccessPolicy#maxHandshakesPerClient()} is then neither reported again nor cut.
   */
  static void answered(Channel channel) {
    channel.attr(HANDSHAKE).compareAndSet(OVER_LIMIT, REFUSED);
  }

  /**
   * Notes that what happened on {@code channel} was reported otherwise (a refusal of a native connection or a
   * WebSocket call, a plain answer): one past {@link AccessPolicy#maxHandshakesPerClient()} is then not reported
   * again at its close, and is still cut {@value #OVER_LIMIT_MILLIS} ms after its accept.
   */
  static void reported(Channel channel) {
    channel.attr(HANDSHAKE).compareAndSet(OVER_LIMIT, REPORTED);
  }

  /**
   * Whether {@code channel} was accepted past {@link AccessPolicy#maxHandshakesPerClient()}: what ends it (a refusal,
   * or the close that cuts its TLS handshake short) is reported as that limit's.
   */
  static boolean pastHandshakeLimit(Channel channel) {
    return pastLimit(channel.attr(HANDSHAKE).get());
  }

  private static boolean pastLimit(Object handshake) {
    return handshake == OVER_LIMIT || handshake == REFUSED || handshake == REPORTED;
  }

  /**
   * Gives {@code key}'s handshake slot back, once: at the channel's admission or close, whichever comes first (a
   * refused connection keeps it until it closes: it stays open a while for its answer). Nothing for a null key.
   */
  private void handshakeEnded(Channel channel, Object key) {
    if (key != null && channel.attr(HANDSHAKE).compareAndSet(key, null)) {
      handshakes.computeIfPresent(key, (k, count) -> count <= 1 ? null : count - 1);
    }
  }

  /** Connections from the peer {@code key} names ({@link #clientKey}) still in their handshake. */
  int handshakesFrom(Object key) {
    return handshakes.getOrDefault(key, 0);
  }

  /**
   * Takes a slot for {@code channel}, given back when it closes, and ends its handshake count; returns null, or the
   * limit hit. A connection accepted past {@link AccessPolicy#maxHandshakesPerClient()} is refused with that limit
   * (marked {@linkplain #reported reported}: the caller reports it), every time. A null {@code client} (a native
   * connection from a trusted proxy, whose clients are only named call by call) counts in the total only.
   */
  RejectReason tryAcquire(Channel channel, SocketAddress client) {
    Object handshake = channel.attr(HANDSHAKE).get();
    if (pastLimit(handshake)) {
      // Reported by the caller, not at the close; every later request of the connection is refused alike.
      reported(channel);
      return RejectReason.TOO_MANY_HANDSHAKES_PER_CLIENT;
    }
    // A refused attempt never changes the count, so it cannot make a concurrent one fail spuriously.
    if (total.getAndUpdate(n -> n < max ? n + 1 : n) >= max) {
      return RejectReason.TOO_MANY_TUNNELS;
    }
    if (client == null) {
      channel.closeFuture().addListener(f -> total.decrementAndGet());
      handshakeEnded(channel, handshake);
      return null;
    }
    Object key = clientKey(client, ipv6Prefix);
    if (!takeSlot(perClient, key, maxPerClient)) {
      total.decrementAndGet();
      return RejectReason.TOO_MANY_TUNNELS_PER_CLIENT;
    }
    channel.attr(CLIENT).set(key);
    // The slot is given back under the client it is counted for when the connection closes (see moveTo).
    channel.closeFuture().addListener(f -> release(channel.attr(CLIENT).get()));
    handshakeEnded(channel, handshake);
    return null;
  }

  /**
   * Which limit {@link #tryAcquire} would refuse {@code client} by now, taking nothing: null when it would take a
   * slot (unless others take the last ones first). Asked before a remote or one-time check whose answer would be
   * wasted on a connection refused anyway.
   */
  RejectReason wouldRefuse(SocketAddress client) {
    if (total.get() >= max) {
      return RejectReason.TOO_MANY_TUNNELS;
    }
    if (client != null) {
      Integer n = perClient.get(clientKey(client, ipv6Prefix));
      if (n != null && n >= maxPerClient) {
        return RejectReason.TOO_MANY_TUNNELS_PER_CLIENT;
      }
    }
    return null;
  }

  /** Takes one of {@code key}'s slots in {@code counts}; false when it has all {@code limit} already. */
  private static boolean takeSlot(ConcurrentHashMap<Object, Integer> counts, Object key, int limit) {
    boolean[] taken = new boolean[1];
    counts.compute(key, (k, count) -> {
      int n = count == null ? 0 : count;
      if (n >= limit) {
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
    if (!takeSlot(perClient, to, maxPerClient)) {
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
