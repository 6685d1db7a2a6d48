package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class TunnelCounterTest {

  private static InetSocketAddress client(String address) {
    return new InetSocketAddress(address, 40000);
  }

  @Test
  void ipv6ClientsInOneSlash64ShareTheLimitByDefault() {
    TunnelCounter counter = new TunnelCounter(100, 2);
    List<EmbeddedChannel> open = new ArrayList<>();
    for (String address : new String[] {"2001:db8::1", "2001:db8::ffff:1"}) {
      EmbeddedChannel ch = new EmbeddedChannel();
      open.add(ch);
      assertNull(counter.tryAcquire(ch, client(address)), address);
    }
    assertEquals(RejectReason.TOO_MANY_TUNNELS_PER_CLIENT,
        counter.tryAcquire(new EmbeddedChannel(), client("2001:db8::abcd:1234:5678:9abc")));
    assertNull(counter.tryAcquire(new EmbeddedChannel(), client("2001:db8:0:1::1")), "the next /64 is another client");
    open.get(0).close();
    assertNull(counter.tryAcquire(new EmbeddedChannel(), client("2001:db8::3")), "a closed tunnel frees its slot");
  }

  @Test
  void theIpv6PrefixIsConfigurableAndIpv4CountsByAddress() {
    TunnelCounter each = new TunnelCounter(100, 1, 128);
    assertNull(each.tryAcquire(new EmbeddedChannel(), client("2001:db8::1")));
    assertNull(each.tryAcquire(new EmbeddedChannel(), client("2001:db8::2")));
    assertEquals(RejectReason.TOO_MANY_TUNNELS_PER_CLIENT, each.tryAcquire(new EmbeddedChannel(), client("2001:db8::2")));

    TunnelCounter wide = new TunnelCounter(100, 1, 48);
    assertNull(wide.tryAcquire(new EmbeddedChannel(), client("2001:db8:1:2::1")));
    assertEquals(RejectReason.TOO_MANY_TUNNELS_PER_CLIENT, wide.tryAcquire(new EmbeddedChannel(), client("2001:db8:1:ff::1")));

    TunnelCounter v4 = new TunnelCounter(100, 1);
    assertNull(v4.tryAcquire(new EmbeddedChannel(), client("198.51.100.1")));
    assertNull(v4.tryAcquire(new EmbeddedChannel(), client("198.51.100.2")));
    assertEquals(RejectReason.TOO_MANY_TUNNELS_PER_CLIENT, v4.tryAcquire(new EmbeddedChannel(), client("198.51.100.2")));
  }

  /** A channel whose peer is {@code address}, as an accepted socket's is. */
  private static EmbeddedChannel from(String address) {
    InetSocketAddress peer = client(address);
    return new EmbeddedChannel() {
      @Override
      protected java.net.SocketAddress remoteAddress0() {
        return peer;
      }
    };
  }

  /** A listener that adds each refusal to {@code reports}: {@code status reason}, after the address if asked. */
  private static TunnelListener recording(List<String> reports, boolean withAddress) {
    return new TunnelListener() {
      @Override
      public void upgradeRejected(java.net.SocketAddress address, int status, RejectReason reason) {
        reports.add((withAddress ? address + " " : "") + status + " " + reason);
      }
    };
  }

  private static TunnelCounter handshakeLimit(int max, String... trustedProxies) {
    return new TunnelCounter(100, 100, 64, max, TrustedProxies.parse(List.of(trustedProxies)));
  }

  @Test
  void anAddressHoldsAtMostTheLimitOfConnectionsInTheirHandshakeUntilAdmittedOrClosed() {
    List<String> reports = new ArrayList<>();
    TunnelListener listener = recording(reports, false);
    TunnelCounter counter = handshakeLimit(2);
    EmbeddedChannel admitted = from("198.51.100.1");
    EmbeddedChannel waiting = from("198.51.100.1");
    counter.handshakeStarted(admitted, listener);
    counter.handshakeStarted(waiting, listener);
    assertEquals(2, counter.handshakesFrom("198.51.100.1"));

    EmbeddedChannel over = from("198.51.100.1");
    counter.handshakeStarted(over, listener);
    assertEquals(2, counter.handshakesFrom("198.51.100.1"), "one past the limit is not counted");
    assertEquals(RejectReason.TOO_MANY_HANDSHAKES_PER_CLIENT, counter.tryAcquire(over, client("198.51.100.1")));
    assertEquals(RejectReason.TOO_MANY_HANDSHAKES_PER_CLIENT, counter.tryAcquire(over, client("198.51.100.1")),
        "a later request of the connection is refused alike");
    over.close();
    assertEquals(List.of(), reports, "a refusal is reported by whoever answered it, not again at the close");

    EmbeddedChannel otherAddress = from("198.51.100.2");
    counter.handshakeStarted(otherAddress, listener);
    assertNull(counter.tryAcquire(otherAddress, client("198.51.100.2")), "another address is not affected");

    // A connection refused by another limit stays open a while for its answer: it keeps its handshake until closed.
    TunnelCounter full = new TunnelCounter(100, 1, 64, 1, TrustedProxies.NONE);
    EmbeddedChannel holder = from("198.51.100.3");
    full.handshakeStarted(holder, listener);
    assertNull(full.tryAcquire(holder, client("198.51.100.3")));
    EmbeddedChannel refused = from("198.51.100.3");
    full.handshakeStarted(refused, listener);
    assertEquals(RejectReason.TOO_MANY_TUNNELS_PER_CLIENT, full.tryAcquire(refused, client("198.51.100.3")));
    assertEquals(1, full.handshakesFrom("198.51.100.3"));
    refused.close();
    assertEquals(0, full.handshakesFrom("198.51.100.3"));

    assertNull(counter.tryAcquire(admitted, client("198.51.100.1")));
    assertEquals(1, counter.handshakesFrom("198.51.100.1"), "an admitted connection's handshake is over");
    admitted.close();
    assertEquals(1, counter.handshakesFrom("198.51.100.1"), "and is not given back twice");
    waiting.close();
    assertEquals(0, counter.handshakesFrom("198.51.100.1"), "a closed one gives its handshake back");

    EmbeddedChannel next = from("198.51.100.1");
    counter.handshakeStarted(next, listener);
    assertNull(counter.tryAcquire(next, client("198.51.100.1")));
  }

  @Test
  void aConnectionPastTheLimitIsClosedAfterItsShortWaitAndReportedIfNothingAnsweredIt() {
    List<String> reports = new ArrayList<>();
    TunnelListener listener = recording(reports, true);
    TunnelCounter counter = handshakeLimit(1);
    EmbeddedChannel first = from("2001:db8::1");
    first.freezeTime();
    counter.handshakeStarted(first, listener);
    EmbeddedChannel over = from("2001:db8::2"); // the same /64
    over.freezeTime();
    counter.handshakeStarted(over, listener);
    over.advanceTimeBy(TunnelCounter.OVER_LIMIT_MILLIS - 1, TimeUnit.MILLISECONDS);
    over.runScheduledPendingTasks();
    assertTrue(over.isOpen());
    over.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    over.runScheduledPendingTasks();
    assertTrue(!over.isOpen(), "closed " + TunnelCounter.OVER_LIMIT_MILLIS + " ms after its accept");
    assertEquals(List.of(client("2001:db8::2") + " 0 too_many_handshakes_per_client"), reports);

    first.advanceTimeBy(TunnelCounter.OVER_LIMIT_MILLIS, TimeUnit.MILLISECONDS);
    first.runScheduledPendingTasks();
    assertTrue(first.isOpen(), "a counted handshake has the handshake timeout's time, not this one");

    // Refused with an HTTP answer, it closes on its own after the answer (a cut could reset the answer).
    EmbeddedChannel answered = from("2001:db8::3");
    answered.freezeTime();
    counter.handshakeStarted(answered, listener);
    TunnelCounter.answered(answered);
    answered.advanceTimeBy(TunnelCounter.OVER_LIMIT_MILLIS, TimeUnit.MILLISECONDS);
    answered.runScheduledPendingTasks();
    assertTrue(answered.isOpen());
    // Refused otherwise (a native connection waits for its call to refuse it), it is still cut.
    EmbeddedChannel reported = from("2001:db8::4");
    reported.freezeTime();
    counter.handshakeStarted(reported, listener);
    TunnelCounter.reported(reported);
    reported.advanceTimeBy(TunnelCounter.OVER_LIMIT_MILLIS, TimeUnit.MILLISECONDS);
    reported.runScheduledPendingTasks();
    assertTrue(!reported.isOpen());
    answered.close();
    assertEquals(List.of(client("2001:db8::2") + " 0 too_many_handshakes_per_client"), reports,
        "each reported by its answerer only");
  }

  @Test
  void aTlsHandshakeCutShortByTheLimitIsNotReportedAsATlsFailureToo() {
    List<String> reports = new ArrayList<>();
    TunnelListener listener = recording(reports, false);
    WebSocketServerOptions options = WebSocketServerOptions.newBuilder().listener(listener).build();
    TunnelCounter counter = handshakeLimit(1);
    EmbeddedChannel counted = from("198.51.100.1");
    counter.handshakeStarted(counted, listener);
    // Cut by the limit: the close comes first, and SslHandler's failure after it (channelInactive).
    EmbeddedChannel cut = from("198.51.100.1");
    cut.pipeline().addLast(new io.netty.channel.ChannelInboundHandlerAdapter());
    counter.handshakeStarted(cut, listener);
    io.netty.channel.ChannelHandlerContext ctx = cut.pipeline().firstContext();
    cut.close();
    ServerTlsHandler.handshakeFailed(ctx, options, new java.nio.channels.ClosedChannelException());
    assertEquals(List.of("0 too_many_handshakes_per_client"), reports);
    // A handshake past the limit that fails on its own (not TLS, say) is that limit's too, reported once.
    EmbeddedChannel over = from("198.51.100.1");
    over.pipeline().addLast(new io.netty.channel.ChannelInboundHandlerAdapter());
    counter.handshakeStarted(over, listener);
    ServerTlsHandler.handshakeFailed(over.pipeline().firstContext(), options,
        new javax.net.ssl.SSLHandshakeException("not TLS"));
    assertTrue(!over.isOpen());
    assertEquals(List.of("0 too_many_handshakes_per_client", "0 too_many_handshakes_per_client"), reports);

    counted.pipeline().addLast(new io.netty.channel.ChannelInboundHandlerAdapter());
    ServerTlsHandler.handshakeFailed(counted.pipeline().firstContext(), options,
        new java.nio.channels.ClosedChannelException());
    assertEquals(List.of("0 too_many_handshakes_per_client", "0 too_many_handshakes_per_client", "0 tls"), reports,
        "a counted one's failure is TLS's");
  }

  @Test
  void trustedProxiesConnectionsAreNotCounted() {
    TunnelCounter counter = handshakeLimit(1, "10.0.0.0/8");
    for (int i = 0; i < 3; i++) {
      EmbeddedChannel ch = from("10.1.2.3");
      counter.handshakeStarted(ch, new TunnelListener() {});
      assertNull(counter.tryAcquire(ch, client("198.51.100." + i)));
    }
    assertEquals(0, counter.handshakesFrom("10.1.2.3"));
  }

  @Test
  void clientKeysNameTheNetwork() {
    assertEquals("2001:db8:1:2::/64", TunnelCounter.clientKey(client("2001:db8:1:2:3:4:5:6"), 64));
    assertEquals("2001:db8:1::/60", TunnelCounter.clientKey(client("2001:db8:1:f:3:4:5:6"), 60));
    assertEquals("2001:db8:1:2:3:4:5:6/128", TunnelCounter.clientKey(client("2001:db8:1:2:3:4:5:6"), 128));
    assertEquals("::/64", TunnelCounter.clientKey(client("::1"), 64));
    assertEquals("198.51.100.7", TunnelCounter.clientKey(client("198.51.100.7"), 64));
    assertEquals("198.51.100.7", TunnelCounter.clientKey(client("::ffff:198.51.100.7"), 64));
  }

  @Test
  void aMovedSlotCountsForItsNewClientAndIsGivenBackUnderItOnClose() {
    TunnelCounter counter = new TunnelCounter(10, 1);
    EmbeddedChannel pooled = new EmbeddedChannel();
    assertNull(counter.tryAcquire(pooled, client("198.51.100.1")));
    EmbeddedChannel other = new EmbeddedChannel();
    assertNull(counter.tryAcquire(other, client("198.51.100.2")));
    assertEquals(RejectReason.TOO_MANY_TUNNELS_PER_CLIENT, counter.moveTo(pooled, client("198.51.100.2")),
        "198.51.100.2 is at its limit");
    assertEquals(1, counter.openFrom("198.51.100.1"), "a refused move leaves the slot where it was");
    other.close();
    assertNull(counter.moveTo(pooled, client("198.51.100.2")));
    assertNull(counter.moveTo(pooled, client("198.51.100.2")), "moving to the same client changes nothing");
    assertEquals(0, counter.openFrom("198.51.100.1"));
    assertEquals(1, counter.openFrom("198.51.100.2"));
    assertEquals(RejectReason.TOO_MANY_TUNNELS_PER_CLIENT, counter.tryAcquire(new EmbeddedChannel(),
        client("198.51.100.2")));
    assertNull(counter.tryAcquire(new EmbeddedChannel(), client("198.51.100.1")), "the first client's slot is free");
    pooled.close();
    assertEquals(0, counter.openFrom("198.51.100.2"), "given back under the client it was counted for");
    assertEquals(1, counter.clients());
    assertNull(counter.moveTo(pooled, client("198.51.100.3")), "a closed channel's slot is not moved");
    assertEquals(0, counter.openFrom("198.51.100.3"));
  }

  @Test
  void theServerLimitRefusesWithoutCountingTheRefusal() {
    TunnelCounter counter = new TunnelCounter(1, 10);
    EmbeddedChannel first = new EmbeddedChannel();
    assertNull(counter.tryAcquire(first, client("198.51.100.1")));
    assertEquals(RejectReason.TOO_MANY_TUNNELS, counter.tryAcquire(new EmbeddedChannel(), client("198.51.100.2")));
    assertEquals(RejectReason.TOO_MANY_TUNNELS, counter.tryAcquire(new EmbeddedChannel(), client("198.51.100.2")));
    first.close();
    assertEquals(0, counter.clients());
    assertNull(counter.tryAcquire(new EmbeddedChannel(), client("198.51.100.2")));
  }

  /**
   * Threads open and close tunnels for one client as fast as they can. A release that removes the client's entry
   * while an open still uses it would split the count and let more than the limit in at once; afterwards every count
   * must be back to 0 and the limit must hold exactly.
   */
  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void racingOpensAndClosesNeverSplitAClientsCount() throws Exception {
    int limit = 1;
    int threads = 8;
    int rounds = 50_000;
    TunnelCounter counter = new TunnelCounter(Integer.MAX_VALUE, limit);
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger mostInside = new AtomicInteger();
    AtomicInteger admitted = new AtomicInteger();
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        InetSocketAddress address = client("198.51.100.1");
        done.add(pool.submit(() -> {
          start.await();
          for (int i = 0; i < rounds; i++) {
            EmbeddedChannel ch = new EmbeddedChannel();
            if (counter.tryAcquire(ch, address) == null) {
              admitted.incrementAndGet();
              mostInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
              Thread.yield(); // hold the slot a moment, so that the others race for it
              inside.decrementAndGet();
            }
            ch.close();
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get(100, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertTrue(admitted.get() > 0);
    assertTrue(mostInside.get() <= limit, "at most " + limit + " tunnels at once, but " + mostInside.get()
        + " were admitted together");
    assertEquals(0, counter.clients(), "every client's entry is gone once its tunnels are");
    List<EmbeddedChannel> open = new ArrayList<>();
    for (int i = 0; i < limit; i++) {
      EmbeddedChannel ch = new EmbeddedChannel();
      open.add(ch);
      assertNull(counter.tryAcquire(ch, client("198.51.100.1")));
    }
    assertEquals(RejectReason.TOO_MANY_TUNNELS_PER_CLIENT, counter.tryAcquire(new EmbeddedChannel(), client("198.51.100.1")));
    assertEquals(limit, counter.openFrom(TunnelCounter.clientKey(client("198.51.100.1"), 64)));
    open.forEach(EmbeddedChannel::close);
    assertEquals(0, counter.clients());
  }
}
