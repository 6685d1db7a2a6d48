package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.testing.FaultInjectingRelay;
import dev.wsgrpc.testing.Observers;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.Attributes;
import io.grpc.ManagedChannel;
import io.grpc.ServerTransportFilter;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Keepalive through a real nginx whose idle timeouts ({@code proxy_read_timeout}, {@code proxy_send_timeout}) are
 * 5 s, the way CDNs and load balancers drop quiet connections (60 s on nginx and AWS ALB, ~100 s on Cloudflare,
 * shortened here so the test is quick): the tunnel's WebSocket pings keep an idle stream open for many times that
 * timeout, and a path that goes silent is noticed within the ping timeout.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class KeepaliveThroughProxyTest {

  private static final String PROXY_IDLE_TIMEOUT = "5s";

  private ProxiedTunnelSetup setup;
  private ManagedChannel channel;
  private FaultInjectingRelay relay;
  private final EchoService service = new EchoService();
  private final AtomicInteger transports = new AtomicInteger();

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (relay != null) {
      relay.close();
    }
    if (setup != null) {
      setup.close();
    }
    service.shutdown();
  }

  /** A bidi stream whose responses and end land in a queue. */
  private static final class Stream {
    final LinkedBlockingQueue<Object> events = new LinkedBlockingQueue<>();
    final StreamObserver<EchoRequest> requests;

    Stream(ManagedChannel channel) {
      requests = EchoGrpc.newStub(channel).bidi(Observers.events(events));
    }

    /** Sends one message and waits for its echo. */
    void roundTrip(int size) throws InterruptedException {
      requests.onNext(EchoService.payload(size));
      Object event = events.poll(30, TimeUnit.SECONDS);
      EchoResponse echo = assertInstanceOf(EchoResponse.class, event, "expected an echo but was " + event);
      assertEquals(size, echo.getPayload().size());
    }
  }

  private void start(java.util.function.UnaryOperator<dev.wsgrpc.client.WebSocketClientOptions.Builder> options)
      throws Exception {
    setup = ProxiedTunnelSetup.nginx(false, PROXY_IDLE_TIMEOUT)
        .clientOptions(options)
        .serverConfig(b -> b.addTransportFilter(new ServerTransportFilter() {
          @Override
          public Attributes transportReady(Attributes attrs) {
            transports.incrementAndGet();
            return attrs;
          }
        }));
    setup.start(service.bindService());
  }

  @Test
  void idleStreamOutlivesTheProxyIdleTimeoutManyTimesAndRpcsWorkAfterwards() throws Exception {
    // Pings every 2 s keep nginx's 5 s timers from firing. gRPC keepalive runs at its 10 s minimum as well: a
    // grpc-java server with default settings answers its PINGs with GOAWAY too_many_pings about 20 s in (checked by
    // hand with permitKeepAliveTime(5 min)); 26 s of silence, five proxy timeouts, lies past that.
    start(b -> b.settings(TunnelSettings.newBuilder().pingInterval(Duration.ofSeconds(2)).build()));
    channel = WebSocketChannels.newChannelBuilder(setup.options().build())
        .keepAliveTime(10, TimeUnit.SECONDS)
        .build();
    Stream stream = new Stream(channel);
    stream.roundTrip(10);

    Object event = stream.events.poll(26, TimeUnit.SECONDS);
    assertNull(event, "the idle stream ended: " + event + "\nnginx:\n" + setup.proxy().output());

    stream.roundTrip(20);
    assertEquals(30, EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .unary(EchoService.payload(30)).getPayload().size());
    assertEquals(1, transports.get(), "one tunnel all along: no reconnect, no GOAWAY");
    stream.requests.onCompleted();
    assertEquals("completed", stream.events.poll(30, TimeUnit.SECONDS));
  }

  @Test
  void withoutPingsTheSameProxyCutsTheIdleStream() throws Exception {
    // The control experiment: the proxy really does drop quiet tunnels, so the test above proves the pings work.
    start(b -> b.settings(TunnelSettings.newBuilder().pingInterval(Duration.ZERO).build()));
    channel = WebSocketChannels.newChannelBuilder(setup.options().build()).build();
    Stream stream = new Stream(channel);
    long start = System.nanoTime(); // before the round trip: nginx's idle clock starts at its last byte, after this
    stream.roundTrip(10);
    Object event = stream.events.poll(60, TimeUnit.SECONDS);
    assertInstanceOf(Throwable.class, event, "expected the proxy to cut the idle stream");
    assertEquals(Status.Code.UNAVAILABLE, Status.fromThrowable((Throwable) event).getCode());
    long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
    assertTrue(seconds >= 4, "cut after " + seconds + " s, before nginx's 5 s idle timeout");
  }

  @Test
  void pathThatGoesSilentIsNoticedWithinThePingTimeout() throws Exception {
    // client -> relay -> nginx -> server; the relay then swallows every byte on the connection without closing it.
    start(b -> b);
    relay = new FaultInjectingRelay(new InetSocketAddress("127.0.0.1", setup.proxy().port()));
    channel = WebSocketChannels.newChannelBuilder(setup.options()
            .connectTo("127.0.0.1", relay.port())
            .settings(TunnelSettings.newBuilder().pingInterval(Duration.ofMillis(500))
                    .pingTimeout(Duration.ofSeconds(1)).build())
            .build())
        .build();
    Stream stream = new Stream(channel);
    stream.roundTrip(10);

    relay.stallCurrentConnections();
    long start = System.nanoTime();
    Object event = stream.events.poll(30, TimeUnit.SECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    Throwable error = assertInstanceOf(Throwable.class, event, "expected the stream to fail");
    Status status = Status.fromThrowable(error);
    assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    assertTrue(status.getDescription().startsWith("nothing arrived within 1000 ms of a WebSocket ping: the peer or a "
        + "hop on the path has gone silent (from " + setup.url() + "; sent close 1001 (Going Away))"),
        status.getDescription());
    // At most one interval until the next ping, then the timeout; generous slack for a busy machine.
    assertTrue(millis < 4_000, "noticed after " + millis + " ms");

    // The channel reconnects through the relay, which relays new connections normally.
    assertEquals(7, EchoGrpc.newBlockingStub(channel).withWaitForReady().withDeadlineAfter(30, TimeUnit.SECONDS)
        .unary(EchoService.payload(7)).getPayload().size());
    assertEquals(2, relay.connectionsAccepted());
  }
}
