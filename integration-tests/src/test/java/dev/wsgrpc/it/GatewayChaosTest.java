package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.it.UpstreamReplicas.JavaReplica;
import dev.wsgrpc.it.UpstreamReplicas.PythonReplica;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.FaultInjectingRelay;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.io.File;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Chaos in gateway mode, in both modes ({@code --mode proxy}: the jar ends each tunnel's HTTP/2 and forwards calls;
 * {@code --mode relay}: it relays each tunnel's bytes to one upstream), against real upstreams: grpc-java replicas in
 * this JVM and Python grpcio replicas as processes. An upstream killed under load, an upstream black-holed by a
 * fault-injecting relay, and the jar's certificate replaced while tunnels are open.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class GatewayChaosTest {

  private final Closer closer = new Closer();
  private final ExecutorService pool = Executors.newCachedThreadPool();

  @AfterEach
  void stop() throws Exception {
    pool.shutdownNow();
    closer.close();
  }

  private ManagedChannel channel(String url) {
    return channel(WebSocketClientOptions.newBuilder(url).build());
  }

  private ManagedChannel channel(WebSocketClientOptions options) {
    return closer.add(WebSocketChannels.newChannelBuilder(options).build());
  }

  private TunnelServerJar jar(String mode, String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of("--port", "0", "--bind", "127.0.0.1", "--mode", mode));
    all.addAll(List.of(args));
    TunnelServerJar jar = closer.add(TunnelServerJar.start(all.toArray(new String[0])));
    jar.awaitUrl();
    return jar;
  }

  /** A call that waits up to {@code timeoutMillis}; returns its status, and its replica in {@code replica}. */
  private static Status call(ManagedChannel channel, int delayMs, long timeoutMillis, AtomicReference<String> replica) {
    AtomicReference<Status> status = new AtomicReference<>();
    io.grpc.Metadata trailers = UpstreamReplicas.call(channel,
        EchoService.payload(8).toBuilder().setDelayMs(delayMs).build(), timeoutMillis, status);
    if (replica != null) {
      replica.set(trailers.get(UpstreamReplicas.REPLICA));
    }
    return status.get();
  }

  @ParameterizedTest(name = "--mode {0}")
  @ValueSource(strings = {"proxy", "relay"})
  void anUpstreamKilledUnderLoadFailsItsCallsWithinTwoSecondsAndTheRestGoToTheOther(String mode) throws Exception {
    JavaReplica java = closer.add(new JavaReplica("java"));
    PythonReplica python = closer.add(new PythonReplica("python"));
    TunnelServerJar jar = jar(mode, "--upstream", java.address() + "," + python.address());
    String url = jar.awaitUrl();

    // Load: eight tunnels (in relay mode each is bound to one upstream, in turn), each with slow calls in flight.
    List<ManagedChannel> tunnels = new ArrayList<>();
    Map<String, Integer> reached = new HashMap<>();
    for (int i = 0; i < 8; i++) {
      ManagedChannel c = channel(url);
      tunnels.add(c);
      for (int k = 0; k < 2; k++) {
        AtomicReference<String> replica = new AtomicReference<>();
        assertEquals(Status.Code.OK, call(c, 0, 30_000, replica).getCode());
        reached.merge(replica.get(), 1, Integer::sum);
      }
    }
    assertEquals(2, reached.size(), "both upstreams carry calls before the kill: " + reached);
    List<CompletableFuture<Status>> inFlight = new ArrayList<>();
    List<CompletableFuture<Long>> endedAt = new ArrayList<>();
    for (ManagedChannel c : tunnels) {
      for (int k = 0; k < 2; k++) {
        CompletableFuture<Long> end = new CompletableFuture<>();
        endedAt.add(end);
        inFlight.add(CompletableFuture.supplyAsync(() -> {
          Status s = call(c, 5_000, 60_000, null);
          end.complete(System.nanoTime());
          return s;
        }, pool));
      }
    }
    python.awaitCallsStarted(python.callsStarted.get() + 1);
    long killedAt = System.nanoTime();
    python.kill();

    int unavailable = 0;
    for (int i = 0; i < inFlight.size(); i++) {
      Status status = inFlight.get(i).get(90, TimeUnit.SECONDS); // nothing hangs
      if (status.getCode() == Status.Code.UNAVAILABLE) {
        unavailable++;
        long ms = TimeUnit.NANOSECONDS.toMillis(endedAt.get(i).get() - killedAt);
        assertTrue(ms <= 2_000, "a call on the killed upstream failed after " + ms + " ms (expected <= 2 s): "
            + status);
      } else {
        assertEquals(Status.Code.OK, status.getCode(), status.toString());
      }
    }
    assertTrue(unavailable >= 1, "no call was in flight on the killed upstream");

    // From now on every call, on the old tunnels (which reconnect in relay mode) and on new ones, reaches java.
    List<ManagedChannel> after = new ArrayList<>(tunnels);
    for (int i = 0; i < 4; i++) {
      after.add(channel(url));
    }
    for (ManagedChannel c : after) {
      for (int k = 0; k < 3; k++) {
        AtomicReference<String> replica = new AtomicReference<>();
        Status status = callWaitingForReady(c, replica);
        assertEquals(Status.Code.OK, status.getCode(), status.toString());
        assertEquals("java", replica.get());
      }
    }
  }

  /**
   * A call on a channel that may be reconnecting after its tunnel ended: waits for the channel to be ready (the
   * first attempt on a tunnel the gateway just closed may fail UNAVAILABLE once, as a reconnect does), then calls.
   */
  private static Status callWaitingForReady(ManagedChannel c, AtomicReference<String> replica) {
    Status status = call(c, 0, 30_000, replica);
    if (status.getCode() == Status.Code.UNAVAILABLE) {
      status = call(c, 0, 30_000, replica);
    }
    return status;
  }

  @ParameterizedTest(name = "--mode {0}")
  @ValueSource(strings = {"proxy", "relay"})
  void aBlackHoledUpstreamIsNoticedAndCallsSucceedAgain(String mode) throws Exception {
    JavaReplica healthy = closer.add(new JavaReplica("healthy"));
    JavaReplica victim = closer.add(new JavaReplica("victim"));
    FaultInjectingRelay hole = closer.add(new FaultInjectingRelay(
        new InetSocketAddress("127.0.0.1", Integer.parseInt(victim.address().replaceAll(".*:", "")))));
    // Short keepalive on the upstream connections (grpc-java's shortest time, 10 s, in proxy mode; the replicas permit
    // it): the black hole is noticed by the gateway's own PING, in both modes, well within the minute allowed below.
    TunnelServerJar jar = jar(mode, "--upstream", healthy.address() + ",127.0.0.1:" + hole.port(),
        "--upstream-keepalive", "10s", "--upstream-keepalive-timeout", "2s");
    String url = jar.awaitUrl();
    List<ManagedChannel> tunnels = new ArrayList<>();
    Map<String, Integer> reached = new HashMap<>();
    // New tunnels until both upstreams have carried a call (at least 6). In proxy mode each event loop of the gateway
    // has its own upstream channel, whose round robin starts with whichever upstream connected first.
    for (int i = 0; i < 6 || reached.size() < 2 && i < 60; i++) {
      ManagedChannel c = channel(url);
      tunnels.add(c);
      AtomicReference<String> replica = new AtomicReference<>();
      assertEquals(Status.Code.OK, call(c, 0, 30_000, replica).getCode());
      reached.merge(replica.get(), 1, Integer::sum);
    }
    assertEquals(2, reached.size(), "both upstreams carry calls before the black hole: " + reached);

    hole.stallCurrentConnections();
    long stalledAt = System.nanoTime();
    // Calls keep coming; each ends by its own 5 s deadline at the latest (nothing hangs), and within a minute the
    // black hole is noticed: then 20 calls in a row succeed (on the healthy upstream, or on the victim over a new
    // connection: the relay black-holes only the connections it had).
    int inARow = 0;
    int calls = 0;
    List<String> failures = new ArrayList<>();
    while (inARow < 20) {
      assertTrue(System.nanoTime() - stalledAt < TimeUnit.SECONDS.toNanos(60), "the black-holed upstream was "
          + "not noticed within 60 s; failures: " + failures);
      ManagedChannel c = tunnels.get(calls++ % tunnels.size());
      AtomicReference<String> replica = new AtomicReference<>();
      long started = System.nanoTime();
      Status status = call(c, 0, 5_000, replica);
      assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(8), "a call outlived its deadline");
      if (status.isOk()) {
        inARow++;
      } else {
        inARow = 0;
        failures.add(status.getCode().toString());
      }
    }
  }

  @ParameterizedTest(name = "--mode {0}")
  @ValueSource(strings = {"proxy", "relay"})
  void aRenewedCertificateServesNewTunnelsWhileOpenTunnelsCarryOn(String mode) throws Exception {
    JavaReplica upstream = closer.add(new JavaReplica("upstream"));
    TestCertificates first = TestCertificates.create();
    TestCertificates second = TestCertificates.create();
    File dir = Files.createTempDirectory("rotation").toFile();
    File cert = new File(dir, "cert.pem");
    File key = new File(dir, "key.pem");
    first.renew(cert, key);
    File bothCas = new File(dir, "cas.pem");
    Files.write(bothCas.toPath(), (Files.readString(first.caPem().toPath()) + Files.readString(
        second.caPem().toPath())).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    TunnelServerJar jar = jar(mode, "--upstream", upstream.address(), "--tls-cert", cert.getPath(), "--tls-key",
        key.getPath());
    String url = jar.awaitUrl();

    // Open tunnels, calling throughout; their channels must never leave READY (no reconnect).
    List<ManagedChannel> open = new ArrayList<>();
    AtomicBoolean stopCalling = new AtomicBoolean();
    // However the test ends: a failure below once left the loops calling the closed channels, which fail at once,
    // for the rest of the run (four threads spinning on two cores under every later test).
    closer.add(() -> stopCalling.set(true));
    AtomicInteger failed = new AtomicInteger();
    AtomicInteger succeeded = new AtomicInteger();
    AtomicReference<String> leftReady = new AtomicReference<>();
    List<CompletableFuture<Void>> loops = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      ManagedChannel c = channel(WebSocketClientOptions.newBuilder(url).tls(ClientTls.trusting(bothCas)).build());
      open.add(c);
      assertEquals(Status.Code.OK, call(c, 0, 30_000, null).getCode());
      watchReady(c, leftReady);
      loops.add(CompletableFuture.runAsync(() -> {
        while (!stopCalling.get()) {
          if (call(c, 20, 30_000, null).isOk()) {
            succeeded.incrementAndGet();
          } else {
            failed.incrementAndGet();
          }
        }
      }, pool));
    }

    // Renew the way certbot does: new files moved into place.
    second.renew(cert, key);
    jar.awaitLog("Loaded the new TLS certificate");

    ManagedChannel renewed = channel(WebSocketClientOptions.newBuilder(url).tls(ClientTls.trusting(second.caPem()))
        .build());
    assertEquals(Status.Code.OK, call(renewed, 0, 30_000, null).getCode(), "a new tunnel gets the new certificate");
    ManagedChannel stale = channel(WebSocketClientOptions.newBuilder(url).tls(ClientTls.trusting(first.caPem()))
        .build());
    assertEquals(Status.Code.UNAVAILABLE, call(stale, 0, 30_000, null).getCode(), "the old one is no longer served");
    // Forty more calls on the open tunnels after the renewal (a poll with a deadline: a loop that failed every call
    // would otherwise spin here until the class timeout, and then say nothing of why).
    int before = succeeded.get();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (succeeded.get() < before + 40) {
      assertTrue(System.nanoTime() < deadline, (succeeded.get() - before) + " of 40 calls succeeded on the open "
          + "tunnels within 60 s of the renewal (" + failed.get() + " failed)");
      Thread.sleep(10);
    }
    stopCalling.set(true);
    for (CompletableFuture<Void> loop : loops) {
      loop.get(60, TimeUnit.SECONDS);
    }
    assertEquals(0, failed.get(), "calls failed on the open tunnels, of " + (succeeded.get() + failed.get()));
    assertEquals(null, leftReady.get(), "an open tunnel was lost across the renewal");
    for (ManagedChannel c : open) {
      assertEquals(ConnectivityState.READY, c.getState(false));
    }
  }

  /** Records in {@code leftReady} the first time {@code c} leaves READY. */
  private static void watchReady(ManagedChannel c, AtomicReference<String> leftReady) {
    ConnectivityState now = c.getState(false);
    if (now != ConnectivityState.READY) {
      leftReady.compareAndSet(null, "a channel was " + now);
      return;
    }
    c.notifyWhenStateChanged(now, () -> {
      ConnectivityState next = c.getState(false);
      if (next != ConnectivityState.READY && next != ConnectivityState.SHUTDOWN) {
        leftReady.compareAndSet(null, "a channel went " + next);
      } else if (next == ConnectivityState.READY) {
        watchReady(c, leftReady);
      }
    });
  }
}
