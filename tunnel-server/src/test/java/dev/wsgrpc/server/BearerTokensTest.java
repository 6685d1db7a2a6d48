package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.internal.ControlFrameHandler;
import dev.wsgrpc.core.internal.FramePipeline;
import dev.wsgrpc.testing.Outbound;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.ImmediateEventExecutor;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class BearerTokensTest {

  private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.1", 5000);
  private final BearerTokens tokens = BearerTokens.of(Map.of("t0k3n-alice", "alice", "t0k3n-bob", "bob"));

  private static UpgradeRequest request(HttpHeaders headers, List<String> subprotocols) {
    return new UpgradeRequest("/grpc", null, headers, CLIENT, CLIENT, null, subprotocols, null);
  }

  private static HttpHeaders authorization(String value) {
    return new DefaultHttpHeaders().add("Authorization", value);
  }

  @Test
  void authorizationBearerNamesThePrincipal() {
    AuthDecision d = tokens.authenticate(request(authorization("Bearer t0k3n-alice"), Collections.emptyList()));
    assertTrue(d.accepted());
    assertEquals("alice", d.principal());
    assertEquals("bob", tokens.authenticate(request(authorization("bearer t0k3n-bob"), List.of())).principal());
  }

  /**
   * A reload of many tokens is hashed outside the lock: upgrades on other event loops go on with the table before it
   * meanwhile (they waited for the whole reload), and the new table takes over once it is whole.
   */
  @Test
  void aReloadBeingHashedHoldsUpNoOtherUpgrade() throws Exception {
    CountDownLatch hashing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Map<String, String> old = Map.of("t0k3n-alice", "alice");
    Map<String, String> reloaded = new java.util.AbstractMap<>() {
      @Override
      public java.util.Set<Entry<String, String>> entrySet() {
        hashing.countDown();
        try {
          assertTrue(release.await(30, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
        return Map.of("t0k3n-bob", "bob").entrySet();
      }
    };
    AtomicReference<Map<String, String>> current = new AtomicReference<>(old);
    BearerTokens changing = BearerTokens.from(current::get);
    assertEquals("alice", changing.authenticate(request(authorization("Bearer t0k3n-alice"), List.of())).principal());
    current.set(reloaded);
    ExecutorService reloader = Executors.newSingleThreadExecutor();
    try {
      java.util.concurrent.Future<Integer> refreshed = reloader.submit(changing::refresh);
      assertTrue(hashing.await(30, TimeUnit.SECONDS));
      // Another event loop, while the reload is hashed: answered at once, from the table before it.
      CompletableFuture<AuthDecision> meanwhile = CompletableFuture.supplyAsync(
          () -> changing.authenticate(request(authorization("Bearer t0k3n-alice"), List.of())));
      assertEquals("alice", meanwhile.get(30, TimeUnit.SECONDS).principal());
      release.countDown();
      assertEquals(0, refreshed.get(30, TimeUnit.SECONDS), "no tunnel to end (no channel was admitted)");
      assertFalse(changing.authenticate(request(authorization("Bearer t0k3n-alice"), List.of())).accepted());
      assertEquals("bob", changing.authenticate(request(authorization("Bearer t0k3n-bob"), List.of())).principal());
    } finally {
      release.countDown();
      reloader.shutdownNow();
    }
  }

  /** Before any table (the first requests after a start), a request does not wait for, nor skip, another's hashing. */
  @Test
  void theFirstRequestsEachHashTheTokensRatherThanRefuseWhileAnotherHashes() throws Exception {
    CountDownLatch hashing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    java.util.concurrent.atomic.AtomicBoolean first = new java.util.concurrent.atomic.AtomicBoolean(true);
    Map<String, String> tokensMap = new java.util.AbstractMap<>() {
      @Override
      public java.util.Set<Entry<String, String>> entrySet() {
        if (first.getAndSet(false)) {
          hashing.countDown();
          try {
            assertTrue(release.await(30, TimeUnit.SECONDS));
          } catch (InterruptedException e) {
            throw new AssertionError(e);
          }
        }
        return Map.of("t0k3n-alice", "alice").entrySet();
      }
    };
    BearerTokens starting = BearerTokens.from(() -> tokensMap);
    ExecutorService other = Executors.newSingleThreadExecutor();
    try {
      java.util.concurrent.Future<AuthDecision> held = other.submit(
          () -> starting.authenticate(request(authorization("Bearer t0k3n-alice"), List.of())));
      assertTrue(hashing.await(30, TimeUnit.SECONDS));
      CompletableFuture<AuthDecision> meanwhile = CompletableFuture.supplyAsync(
          () -> starting.authenticate(request(authorization("Bearer t0k3n-alice"), List.of())));
      assertEquals("alice", meanwhile.get(30, TimeUnit.SECONDS).principal(), "not refused for want of a table");
      release.countDown();
      assertEquals("alice", held.get(30, TimeUnit.SECONDS).principal());
    } finally {
      release.countDown();
      other.shutdownNow();
    }
  }

  @Test
  void tokenOfferedAsSubprotocolWorksForClientsThatCannotSetHeaders() {
    AuthDecision d = tokens.authenticate(request(new DefaultHttpHeaders(),
        Arrays.asList("wsgrpc.v1", "bearer.t0k3n-bob")));
    assertEquals("bob", d.principal());
    assertTrue(BearerTokens.isCredential("bearer.x"));
    assertTrue(BearerTokens.isCredential("Bearer.x"));
    assertFalse(BearerTokens.isCredential("wsgrpc.v1"));
  }

  @Test
  void missingTokenIs401SayingWhatWasExpected() {
    AuthDecision d = tokens.authenticate(request(new DefaultHttpHeaders(), List.of("wsgrpc.v1")));
    assertFalse(d.accepted());
    assertNull(d.principal());
    assertEquals(401, d.status());
    assertEquals("Bearer realm=\"wsgrpc\"", d.challenge());
    assertEquals("expected a bearer token in Authorization or a bearer.<token> subprotocol", d.reason());
  }

  @Test
  void wrongTokenIs401WithoutRepeatingIt() {
    AuthDecision d = tokens.authenticate(request(authorization("Bearer guess"), List.of()));
    assertEquals(401, d.status());
    assertEquals("Bearer realm=\"wsgrpc\", error=\"invalid_token\"", d.challenge());
    assertFalse(d.reason().contains("guess"));
    assertFalse(d.challenge().contains("guess"));
  }

  @Test
  void otherSchemesAreNotBearerTokens() {
    assertEquals(401, tokens.authenticate(request(authorization("Basic YWxpY2U6eA=="), List.of())).status());
  }

  @Test
  void changedTokensApplyToTheNextUpgrade() {
    AtomicReference<Map<String, String>> current = new AtomicReference<>(Map.of("old", "carol"));
    BearerTokens reloading = BearerTokens.from(current::get);
    assertEquals("carol", reloading.authenticate(request(authorization("Bearer old"), List.of())).principal());
    Map<String, String> next = new HashMap<>();
    next.put("new", "dave");
    current.set(next);
    assertEquals(401, reloading.authenticate(request(authorization("Bearer old"), List.of())).status());
    assertEquals("dave", reloading.authenticate(request(authorization("Bearer new"), List.of())).principal());
  }

  /** An upgraded server connection: the frame handlers before a tail handler. */
  private static EmbeddedChannel tunnel() {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.pipeline().addLast("tail", new ChannelInboundHandlerAdapter());
    FramePipeline.install(ch.pipeline(), "tail", FramePipeline.Role.SERVER, dev.wsgrpc.core.TunnelSettings
        .newBuilder().maxInboundFramePayload(65536).maxOutboundFramePayload(65536)
        .pingInterval(java.time.Duration.ZERO).build(), "client test");
    return ch;
  }

  private static AuthDecision upgrade(BearerTokens tokens, String token, EmbeddedChannel ch) {
    return tokens.authenticate(new UpgradeRequest("/grpc", null, authorization("Bearer " + token), CLIENT, CLIENT,
        null, List.of(), ch));
  }

  @Test
  void revokedTokensCloseTheirTunnelsWith1008AndOthersStayOpen() {
    AtomicReference<Map<String, String>> current = new AtomicReference<>(
        Map.of("t0k3n-alice", "alice", "t0k3n-bob", "bob", "t0k3n-carol", "carol"));
    BearerTokens reloading = BearerTokens.from(current::get);
    EmbeddedChannel alice = tunnel();
    EmbeddedChannel bob = tunnel();
    EmbeddedChannel carol = tunnel();
    assertTrue(upgrade(reloading, "t0k3n-alice", alice).accepted());
    assertTrue(upgrade(reloading, "t0k3n-bob", bob).accepted());
    assertTrue(upgrade(reloading, "t0k3n-carol", carol).accepted());
    assertEquals(0, reloading.refresh(), "nothing changed");

    // alice's token is gone; carol's now names someone else; bob's is unchanged.
    current.set(Map.of("t0k3n-bob", "bob", "t0k3n-carol", "mallory"));
    assertEquals(2, reloading.refresh());
    for (EmbeddedChannel revoked : List.of(alice, carol)) {
      revoked.runPendingTasks();
      String close = Outbound.written(revoked);
      assertEquals("\u0088" + (char) (2 + BearerTokens.REVOKED_REASON.length()) + "\u0003\u00f0"
          + BearerTokens.REVOKED_REASON, close, "an unmasked Close 1008 with its reason");
      assertFalse(revoked.isOpen());
      assertEquals(1008, revoked.attr(ControlFrameHandler.CLOSE_SENT).get());
    }
    bob.runPendingTasks();
    assertEquals("", Outbound.written(bob));
    assertTrue(bob.isOpen());
    assertEquals(0, reloading.refresh(), "each tunnel is closed once");
    assertEquals(401, upgrade(reloading, "t0k3n-alice", tunnel()).status());
    bob.close();
    assertTrue(Outbound.written(bob).startsWith("\u0088\u0002\u0003\u00e9"), "a normal close is 1001");
  }

  @Test
  void anEmptyTokenMapRefusesEveryoneAndClosesEveryTunnel() {
    AtomicReference<Map<String, String>> current = new AtomicReference<>(Map.of("t0k3n-alice", "alice"));
    BearerTokens reloading = BearerTokens.from(current::get);
    EmbeddedChannel alice = tunnel();
    assertTrue(upgrade(reloading, "t0k3n-alice", alice).accepted());
    current.set(Map.of());
    // The next upgrade notices the change by itself, and closes the old tunnels too.
    assertEquals(401, upgrade(reloading, "t0k3n-alice", tunnel()).status());
    alice.runPendingTasks();
    assertTrue(Outbound.written(alice).startsWith("\u0088"));
    assertFalse(alice.isOpen());
  }

  @Test
  void closedTunnelsAreForgotten() {
    AtomicReference<Map<String, String>> current = new AtomicReference<>(Map.of("t0k3n-alice", "alice"));
    BearerTokens reloading = BearerTokens.from(current::get);
    EmbeddedChannel alice = tunnel();
    assertTrue(upgrade(reloading, "t0k3n-alice", alice).accepted());
    alice.close();
    Outbound.written(alice);
    current.set(Map.of());
    assertEquals(0, reloading.refresh());
  }

  @Test
  void aConnectionAuthenticatedAtEachRequestGetsOneCloseListener() {
    // A browser's kept-alive gRPC-Web connection is authenticated again at each request; each used to add a listener
    // to the connection's close future, held until the connection closed.
    AtomicReference<Map<String, String>> current = new AtomicReference<>(Map.of("t0k3n-alice", "alice"));
    BearerTokens reloading = BearerTokens.from(current::get);
    CloseListenerCounting connection = new CloseListenerCounting();
    for (int i = 0; i < 1_000; i++) {
      assertTrue(upgrade(reloading, "t0k3n-alice", connection).accepted());
    }
    assertEquals(1, connection.added.get());
    connection.close();
    current.set(Map.of());
    assertEquals(0, reloading.refresh(), "the closed connection is forgotten");
  }

  /** A connection that counts the listeners added to its close future. */
  private static final class CloseListenerCounting extends EmbeddedChannel {
    final AtomicInteger added = new AtomicInteger();
    private final ChannelPromise counted = new DefaultChannelPromise(this, ImmediateEventExecutor.INSTANCE) {
      @Override
      public ChannelPromise addListener(GenericFutureListener<? extends Future<? super Void>> listener) {
        added.incrementAndGet();
        return super.addListener(listener);
      }
    };

    CloseListenerCounting() {
      super.closeFuture().addListener(f -> counted.trySuccess());
    }

    @Override
    public ChannelFuture closeFuture() {
      return counted == null ? super.closeFuture() : counted; // null while EmbeddedChannel's constructor runs
    }
  }

  @Test
  void clientCertificateAuthenticatorRefusesPlainConnections() {
    AuthDecision d = TunnelAuthenticator.CLIENT_CERTIFICATE.authenticate(request(new DefaultHttpHeaders(), List.of()));
    assertEquals(403, d.status());
    assertEquals("expected a TLS client certificate but the connection is not TLS", d.reason());
  }

  @Test
  void upgradeRequestToStringShowsHeaderNamesOnly() {
    String s = request(authorization("Bearer t0k3n-alice"), List.of()).toString();
    assertTrue(s.contains("Authorization"), s);
    assertFalse(s.contains("t0k3n"), s);
  }
}
