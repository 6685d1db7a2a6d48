package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.FaultInjectingRelay;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * When the tunnel drops under load — the proxy restarted, the server killed, the connection cut — streams in flight
 * fail UNAVAILABLE within 2 s, no call hangs, and the channel reconnects with gRPC's backoff so that new calls
 * succeed. Each case runs with both clients (the Netty client and the OkHttp client for Android).
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class ReconnectTest {

  /** How soon after the break every stream in flight must have failed. */
  private static final long FAIL_WITHIN_MILLIS = 2_000;

  private final Closer closer = new Closer();
  private ManagedChannel channel;
  private Load load;

  @AfterEach
  void stop() throws Exception {
    if (load != null) {
      load.stop();
    }
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    closer.close();
  }

  /**
   * Unary calls from a few threads in a loop, each with a deadline so that a hang would show, plus long-lived
   * streams whose end is timed.
   */
  private static final class Load {
    final Set<Status.Code> failures = ConcurrentHashMap.newKeySet();
    final AtomicInteger successes = new AtomicInteger();
    final List<LinkedBlockingQueue<Object>> streams = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean running = true;
    private volatile CountDownLatch nextSuccesses = new CountDownLatch(0);

    Load(ManagedChannel channel, int threadCount, int streamCount) throws InterruptedException {
      for (int i = 0; i < streamCount; i++) {
        LinkedBlockingQueue<Object> events = new LinkedBlockingQueue<>();
        StreamObserver<EchoRequest> requests = EchoGrpc.newStub(channel).bidi(new StreamObserver<EchoResponse>() {
          @Override
          public void onNext(EchoResponse value) {
            events.add(value);
          }

          @Override
          public void onError(Throwable t) {
            events.add(new Object[] {t, System.nanoTime()});
          }

          @Override
          public void onCompleted() {
            events.add("completed");
          }
        });
        requests.onNext(EchoService.payload(100));
        assertInstanceOf(EchoResponse.class, events.poll(30, TimeUnit.SECONDS), "the stream is open");
        streams.add(events);
      }
      for (int i = 0; i < threadCount; i++) {
        Thread t = new Thread(() -> {
          EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(channel);
          while (running) {
            try {
              stub.withDeadlineAfter(10, TimeUnit.SECONDS).unary(EchoService.payload(1000));
              successes.incrementAndGet();
              nextSuccesses.countDown();
            } catch (StatusRuntimeException e) {
              failures.add(e.getStatus().getCode());
              try {
                // Load generation, not a wait: keeps a thread from spinning while the channel backs off.
                Thread.sleep(20);
              } catch (InterruptedException ie) {
                return;
              }
            }
          }
        }, "load-" + i);
        t.setDaemon(true);
        t.start();
        threads.add(t);
      }
    }

    /** Waits until the load threads have completed {@code n} more calls successfully. */
    void awaitSuccesses(int n, long seconds) throws InterruptedException {
      CountDownLatch latch = new CountDownLatch(n);
      nextSuccesses = latch;
      assertTrue(latch.await(seconds, TimeUnit.SECONDS), "the load's calls did not succeed again; failures: "
          + failures);
    }

    /** Checks that every open stream failed UNAVAILABLE within {@link #FAIL_WITHIN_MILLIS} of {@code brokeAt}. */
    void assertStreamsFailedFast(long brokeAt) throws InterruptedException {
      for (LinkedBlockingQueue<Object> events : streams) {
        Object event = events.poll(30, TimeUnit.SECONDS);
        Object[] failure = assertInstanceOf(Object[].class, event, "expected the stream to fail but was " + event);
        Status status = Status.fromThrowable((Throwable) failure[0]);
        assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
        long millis = TimeUnit.NANOSECONDS.toMillis((Long) failure[1] - brokeAt);
        assertTrue(millis <= FAIL_WITHIN_MILLIS, "a stream failed " + millis + " ms after the break: " + status);
      }
    }

    void stop() throws InterruptedException {
      running = false;
      for (Thread t : threads) {
        t.join(15_000);
      }
    }
  }

  private void assertNewCallsSucceed() throws InterruptedException {
    // waitForReady: the call waits while the channel reconnects with its backoff.
    assertEquals(5, EchoGrpc.newBlockingStub(channel).withWaitForReady().withDeadlineAfter(60, TimeUnit.SECONDS)
        .unary(EchoService.payload(5)).getPayload().size());
    load.awaitSuccesses(20, 60);
    assertEquals(Set.of(), without(load.failures, Status.Code.UNAVAILABLE),
        "calls during the outage fail UNAVAILABLE, none hangs");
  }

  private static Set<Status.Code> without(Set<Status.Code> codes, Status.Code code) {
    Set<Status.Code> rest = ConcurrentHashMap.newKeySet();
    rest.addAll(codes);
    rest.remove(code);
    return rest;
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(TunnelClient.class)
  void restartingNginxUnderLoad(TunnelClient client) throws Exception {
    ProxiedTunnelSetup setup = ProxiedTunnelSetup.nginx(false).client(client);
    closer.add(setup);
    EchoService service = new EchoService();
    closer.add(service::shutdown);
    setup.start(service.bindService());
    channel = setup.newChannel();
    load = new Load(channel, 4, 3);
    load.awaitSuccesses(20, 30);

    long brokeAt = System.nanoTime();
    setup.proxy().restart();
    load.assertStreamsFailedFast(brokeAt);
    assertNewCallsSucceed();
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(TunnelClient.class)
  void killingTheServerUnderLoad(TunnelClient client) throws Exception {
    ReverseProxy.Kind.NGINX.require();
    int serverPort = ExternalProgram.freePort();
    ExternalProgram server = ExternalProgram.start("echo-server", EchoServerMain.command(serverPort))
        .awaitListening(serverPort, Duration.ofSeconds(60));
    closer.add(() -> closeQuietly(server));
    ReverseProxy nginx = ReverseProxy.nginxTunnel(serverPort, null, "1h").start();
    closer.add(nginx);
    channel = client.newChannel("ws://127.0.0.1:" + nginx.port() + "/grpc");
    load = new Load(channel, 4, 3);
    load.awaitSuccesses(20, 30);

    long brokeAt = System.nanoTime();
    server.process().destroyForcibly();
    load.assertStreamsFailedFast(brokeAt);
    // Meanwhile nginx answers 502 to the channel's reconnection attempts; then the server is back.
    ExternalProgram restarted = ExternalProgram.start("echo-server", EchoServerMain.command(serverPort))
        .awaitListening(serverPort, Duration.ofSeconds(60));
    closer.add(() -> closeQuietly(restarted));
    assertNewCallsSucceed();
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(TunnelClient.class)
  void connectionCutByARelayUnderLoad(TunnelClient client) throws Exception {
    int port = startServer();
    FaultInjectingRelay relay = new FaultInjectingRelay(new InetSocketAddress("127.0.0.1", port));
    closer.add(relay);
    channel = client.newChannel(new TunnelClient.Target("ws://127.0.0.1:" + port + "/grpc")
        .connectTo("127.0.0.1", relay.port()));
    load = new Load(channel, 4, 3);
    load.awaitSuccesses(20, 30);

    long brokeAt = System.nanoTime();
    relay.cutCurrentConnections();
    load.assertStreamsFailedFast(brokeAt);
    assertNewCallsSucceed();
    assertTrue(relay.connectionsAccepted() >= 2, "the channel reconnected through the relay");
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(TunnelClient.class)
  void blackHoledPathIsNoticedThroughPings(TunnelClient client) throws Exception {
    int port = startServer();
    FaultInjectingRelay relay = new FaultInjectingRelay(new InetSocketAddress("127.0.0.1", port));
    closer.add(relay);
    channel = client.newChannel(new TunnelClient.Target("ws://127.0.0.1:" + port + "/grpc")
        .connectTo("127.0.0.1", relay.port()).pingInterval(Duration.ofMillis(500)));
    load = new Load(channel, 2, 2);
    load.awaitSuccesses(10, 30);

    // Nothing is closed: bytes just stop arriving, as when a NAT forgets the connection or a cable is pulled. Only
    // the WebSocket Pings (gRPC keepalive is 30 s) can notice, within about two ping intervals.
    long brokeAt = System.nanoTime();
    relay.stallCurrentConnections();
    load.assertStreamsFailedFast(brokeAt);
    assertNewCallsSucceed();
  }

  /**
   * With the default keepalive (Pings every 30 s, a 15 s timeout; gRPC keepalive 30 s / 10 s), a call started on a
   * path that went silent fails UNAVAILABLE within the ping timeout of its start: the write into the quiet tunnel
   * sends a Ping at once. Before, it waited for the next timed Ping, up to 45 s, and such calls ended
   * DEADLINE_EXCEEDED. The Netty client only: OkHttp has no public way to send a Ping (docs/ANDROID.md).
   */
  @Test
  void aCallIntoASilentlyDeadPathFailsUnavailableWithinThePingTimeout() throws Exception {
    TunnelClient client = TunnelClient.NETTY;
    int port = startServer();
    FaultInjectingRelay relay = new FaultInjectingRelay(new InetSocketAddress("127.0.0.1", port));
    closer.add(relay);
    channel = client.newChannel(new TunnelClient.Target("ws://127.0.0.1:" + port + "/grpc")
        .connectTo("127.0.0.1", relay.port()));
    EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(channel);
    assertEquals(10, stub.withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(10)).getPayload().size());

    relay.stallCurrentConnections();
    // Sent right after the last read, this one cannot tell the path died: it runs into its deadline. Its 3 s are
    // also the quiet time after which the next write pings.
    StatusRuntimeException early = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> stub.withDeadlineAfter(3, TimeUnit.SECONDS).unary(EchoService.payload(10)));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, early.getStatus().getCode());

    long start = System.nanoTime();
    StatusRuntimeException failed = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> stub.withDeadlineAfter(25, TimeUnit.SECONDS).unary(EchoService.payload(10)));
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals(Status.Code.UNAVAILABLE, failed.getStatus().getCode(), failed.getStatus().toString());
    assertTrue(millis <= 15_000 + 3_000, "failed " + millis + " ms after it started: " + failed.getStatus());

    // The channel dials a new tunnel through the relay, which relays new connections normally.
    assertEquals(5, stub.withWaitForReady().withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(5))
        .getPayload().size());
    assertTrue(relay.connectionsAccepted() >= 2, "a new tunnel");
  }

  /** A tunnel server on a loopback port, closed after the test; returns the port. */
  private int startServer() throws Exception {
    EchoService service = new EchoService();
    closer.add(service::shutdown);
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.DEFAULT).addService(service).build().start();
    closer.add(server);
    return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  private static void closeQuietly(ExternalProgram program) throws InterruptedException {
    program.process().destroyForcibly().waitFor(10, TimeUnit.SECONDS);
  }
}
