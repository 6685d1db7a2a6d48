package dev.wsgrpc.okhttp.android;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import com.google.protobuf.ByteString;
import dev.wsgrpc.okhttp.OkHttpWebSocketChannels;
import dev.wsgrpc.okhttp.OkHttpWebSocketOptions;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.annotation.Config;
import org.robolectric.annotation.ConscryptMode;

/**
 * grpc-android's {@code AndroidChannelBuilder} around this project's OkHttp tunnel channel builder, on the Android
 * framework (SDK 34, where it watches the default network through {@code registerDefaultNetworkCallback}), against
 * a real tunnel server on loopback: a network change takes a channel out of a long reconnect backoff at once.
 */
@RunWith(RobolectricTestRunner.class)
@Config(sdk = 34)
// Conscrypt (Robolectric's default security provider) is loaded outside the sandbox and initialises the framework
// classes there; the tunnels here are ws://, so the JDK's providers are enough.
@ConscryptMode(ConscryptMode.Mode.OFF)
public class AndroidChannelBuilderTest {

  /**
   * grpc's reconnect backoff starts at 1 s and grows 1.6 times per failure, with 20 % jitter: after the 6th failed
   * connect the channel waits 1.6^5 s = 10.5 s, at least 8.3 s (the first five took about 16 s).
   */
  private static final int FAILED_CONNECTS = 6;
  /** Far below the shortest backoff left after {@link #FAILED_CONNECTS} failures, far above a loopback connect. */
  private static final long RECONNECT_BOUND_MS = 6_000;

  private final List<Server> servers = new ArrayList<>();
  private ManagedChannel channel;

  @After
  public void closeAll() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    for (Server server : servers) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private Server startServer(int port) throws Exception {
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", port),
            WebSocketServerOptions.newBuilder().build())
        .addService(new Echo())
        .build()
        .start();
    servers.add(server);
    return server;
  }

  private static int port(Server server) {
    return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  /** {@code AndroidChannelBuilder.usingBuilder(OkHttpWebSocketChannels.newChannelBuilder(options))}. */
  private ManagedChannel androidChannel(int port) {
    return AndroidFramework.androidChannel(OkHttpWebSocketChannels.newChannelBuilder(
        OkHttpWebSocketOptions.newBuilder("ws://127.0.0.1:" + port + "/grpc").build()));
  }

  private static String unary(ManagedChannel channel, String text, boolean waitForReady, long timeoutMs) {
    EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(channel)
        .withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS);
    if (waitForReady) {
      stub = stub.withWaitForReady();
    }
    return stub.unary(EchoRequest.newBuilder().setPayload(ByteString.copyFromUtf8(text)).build())
        .getPayload().toStringUtf8();
  }

  /** Every state the channel enters from now on, in order. */
  private static BlockingQueue<ConnectivityState> watchStates(ManagedChannel channel) {
    BlockingQueue<ConnectivityState> states = new LinkedBlockingQueue<>();
    watch(channel, channel.getState(false), states);
    return states;
  }

  private static void watch(ManagedChannel channel, ConnectivityState from, BlockingQueue<ConnectivityState> into) {
    channel.notifyWhenStateChanged(from, () -> {
      ConnectivityState now = channel.getState(false);
      into.add(now);
      watch(channel, now, into);
    });
  }

  private static ConnectivityState next(BlockingQueue<ConnectivityState> states) throws InterruptedException {
    ConnectivityState state = states.poll(60, TimeUnit.SECONDS);
    assertTrue("no channel state change within 60 s", state != null);
    return state;
  }

  @Test
  public void watchesTheDefaultNetworkThroughConnectivityManager() throws Exception {
    // The framework jar came from Maven (robolectric.dependency.dir); Robolectric may not fetch one at run time.
    assertEquals("true", System.getProperty("robolectric.offline"));
    assertTrue(new java.io.File(System.getProperty("robolectric.dependency.dir"),
        "android-all-instrumented-14-robolectric-10818077-i7.jar").isFile());
    assertEquals(34, AndroidFramework.sdkInt());
    assertEquals(0, AndroidFramework.networkCallbacks());

    Server server = startServer(0);
    channel = androidChannel(port(server));
    assertEquals("one default-network callback, registered by AndroidChannelBuilder", 1,
        AndroidFramework.networkCallbacks());
    assertEquals("hello", unary(channel, "hello", false, 30_000));

    channel.shutdown();
    assertTrue("the callback is unregistered when the channel shuts down", AndroidFramework.networkCallbacks() == 0);
  }

  @Test
  public void aNetworkChangeEndsTheReconnectBackoffAndTheNextCallGoesThroughANewTunnelAtOnce() throws Exception {
    Server first = startServer(0);
    int port = port(first);
    channel = androidChannel(port);
    assertEquals("before", unary(channel, "before", false, 30_000));

    // The server goes away; in its place a listener that accepts each connection and closes it at once, so every
    // reconnect fails (before the WebSocket upgrade) and is counted. grpc backs off longer after each failure.
    BlockingQueue<ConnectivityState> states = watchStates(channel);
    first.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    try (ClosingListener down = new ClosingListener(port)) {
      assertEquals("the tunnel's end leaves the channel idle", ConnectivityState.IDLE, next(states));
      channel.getState(true);
      for (int i = 1; i <= FAILED_CONNECTS; i++) {
        assertTrue("connect attempt " + i + " within 60 s", down.accepted.tryAcquire(60, TimeUnit.SECONDS));
      }
      assertTrue(states.contains(ConnectivityState.TRANSIENT_FAILURE));
    }

    // The server is back on the same port; without a network change the channel waits out its backoff (a call that
    // does not wait for ready fails at once; one that does waits the backoff out: seen with the change left out).
    startServer(port);
    StatusRuntimeException backingOff = assertThrows(StatusRuntimeException.class,
        () -> unary(channel, "during the backoff", false, 30_000));
    assertEquals(Status.Code.UNAVAILABLE, backingOff.getStatus().getCode());
    states.clear();
    long changedAt = System.nanoTime();
    AndroidFramework.newDefaultNetwork(2);
    assertEquals("the network change puts the channel in idle, ending the backoff", ConnectivityState.IDLE,
        next(states));

    // A wait-for-ready call: without the change it would wait for the backoff's end, at least 8 s from now.
    assertEquals("after", unary(channel, "after", true, RECONNECT_BOUND_MS));
    long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - changedAt);
    assertTrue("reconnected in " + tookMs + " ms", tookMs < RECONNECT_BOUND_MS);
    assertEquals(ConnectivityState.READY, channel.getState(false));
    assertFalse(states.contains(ConnectivityState.TRANSIENT_FAILURE));
  }

  /** Accepts connections on a port and closes each at once, releasing a permit per connection. */
  private static final class ClosingListener implements AutoCloseable {
    final Semaphore accepted = new Semaphore(0);
    private final ServerSocket socket;
    private final Thread acceptor;

    ClosingListener(int port) throws IOException {
      socket = new ServerSocket();
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress("127.0.0.1", port));
      acceptor = new Thread(() -> {
        while (!socket.isClosed()) {
          try (Socket connection = socket.accept()) {
            accepted.release();
          } catch (IOException e) {
            return; // closed
          }
        }
      }, "closing-listener");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    @Override
    public void close() throws Exception {
      socket.close();
      acceptor.join(10_000);
    }
  }

  /** Echoes a unary call's payload. */
  private static final class Echo extends EchoGrpc.EchoImplBase {
    @Override
    public void unary(EchoRequest request, StreamObserver<EchoResponse> out) {
      out.onNext(EchoResponse.newBuilder().setPayload(request.getPayload()).build());
      out.onCompleted();
    }
  }
}
