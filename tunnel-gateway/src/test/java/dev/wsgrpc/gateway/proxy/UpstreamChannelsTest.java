package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.UnansweredPort;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Per-loop upstream channels on real sockets: the proxy's server runs on two event loops, each with its own upstream
 * channel, and every call goes upstream over the connection of its caller's loop. The upstream answers each call with
 * the address its call came from (the gateway's upstream connection): one upstream connection per loop, the same one
 * for every call of a connection.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UpstreamChannelsTest {

  private static final MethodDescriptor<byte[], byte[]> WHO = OpaqueBytes.method("test.Who/Am").toBuilder()
      .setType(MethodDescriptor.MethodType.UNARY).build();

  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  @Test
  void eachConnectionsCallsGoUpstreamOverItsOwnLoopsChannel() throws Exception {
    Server upstream = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerServiceDefinition.builder("test.Who").addMethod(WHO, (call, headers) -> {
          call.request(1);
          return new ServerCall.Listener<byte[]>() {
            @Override
            public void onHalfClose() {
              String from = String.valueOf(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
              call.sendHeaders(new Metadata());
              call.sendMessage(from.getBytes(StandardCharsets.UTF_8));
              call.close(Status.OK, new Metadata());
            }
          };
        }).build())
        .build().start();
    closeables.add(() -> upstream.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));

    EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    EventLoopGroup workers = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    closeables.add(() -> boss.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly());
    closeables.add(() -> workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly());
    UpstreamOptions options = UpstreamOptions.newBuilder()
        .upstreams(List.of("127.0.0.1:" + ((InetSocketAddress) upstream.getListenSockets().get(0)).getPort()))
        .healthCheckService(null)
        .build();
    UpstreamChannels channels = UpstreamChannel.createPerLoop(options, workers, NioSocketChannel.class,
        new UpstreamProblems(new PrometheusRegistry()));
    closeables.add(() -> channels.shutdownNow(10_000));
    assertEquals(2, channels.size());
    // The loop-of-this-thread lookup: off every loop, the first channel.
    assertEquals(channels.first(), channels.current());

    Server proxy = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .bossEventLoopGroup(boss)
        .workerEventLoopGroup(workers)
        .channelType(NioServerSocketChannel.class)
        .directExecutor()
        .fallbackHandlerRegistry(new ForwardingRegistry(channels, false))
        .build().start();
    closeables.add(() -> proxy.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));

    // Netty gives accepted connections its loops in turn: two connections, two loops.
    Set<String> upstreamConnections = new HashSet<>();
    for (int c = 0; c < 2; c++) {
      ManagedChannel caller = NettyChannelBuilder.forAddress((InetSocketAddress) proxy.getListenSockets().get(0))
          .usePlaintext().build();
      closeables.add(() -> caller.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
      Set<String> seen = new HashSet<>();
      for (int i = 0; i < 20; i++) {
        seen.add(new String(ClientCalls.blockingUnaryCall(caller, WHO, CallOptions.DEFAULT.withDeadlineAfter(
            20, TimeUnit.SECONDS), new byte[0]), StandardCharsets.UTF_8));
      }
      assertEquals(1, seen.size(), "every call of one connection over its loop's upstream connection: " + seen);
      upstreamConnections.addAll(seen);
    }
    assertEquals(2, upstreamConnections.size(), "one upstream connection per loop: " + upstreamConnections);
  }

  private static Server whoUpstream(int port) throws java.io.IOException {
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
        .addService(ServerServiceDefinition.builder("test.Who").addMethod(WHO, (call, headers) -> {
          call.request(1);
          return new ServerCall.Listener<byte[]>() {
            @Override
            public void onHalfClose() {
              call.sendHeaders(new Metadata());
              call.sendMessage(new byte[] {1});
              call.close(Status.OK, new Metadata());
            }
          };
        }).build())
        .build().start();
  }

  @Test
  void aConnectToAnUpstreamThatGetsNoAnswerFailsAfterTenSecondsAsInRelayMode() throws Exception {
    UnansweredPort unanswered = new UnansweredPort();
    closeables.add(unanswered);
    EventLoopGroup loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    closeables.add(() -> loops.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly());
    UpstreamChannels channels = UpstreamChannel.createPerLoop(UpstreamOptions.newBuilder()
        .upstreams(List.of("127.0.0.1:" + unanswered.port())).healthCheckService(null).build(), loops,
        NioSocketChannel.class, new UpstreamProblems(new PrometheusRegistry()));
    closeables.add(() -> channels.shutdownNow(10_000));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(
        channels.first(), WHO, CallOptions.DEFAULT.withDeadlineAfter(50, TimeUnit.SECONDS), new byte[0]));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
    assertEquals("connection timed out after 10000 ms: /127.0.0.1:" + unanswered.port(),
        e.getStatus().getCause().getMessage());
  }

  private static byte[] who(ManagedChannel caller) {
    return ClientCalls.blockingUnaryCall(caller, WHO, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS),
        new byte[0]);
  }

  @Test
  void anUpstreamBackAfterAnOutageTakesCallsAtOnceNotAfterTheGrownBackoff() throws Exception {
    Server first = whoUpstream(0);
    int port = ((InetSocketAddress) first.getListenSockets().get(0)).getPort();
    EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    EventLoopGroup workers = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    closeables.add(() -> boss.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly());
    closeables.add(() -> workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly());
    UpstreamChannels channels = UpstreamChannel.createPerLoop(UpstreamOptions.newBuilder()
        .upstreams(List.of("127.0.0.1:" + port)).healthCheckService(null).build(), workers, NioSocketChannel.class,
        new UpstreamProblems(new PrometheusRegistry()));
    closeables.add(() -> channels.shutdownNow(10_000));
    Server proxy = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .bossEventLoopGroup(boss).workerEventLoopGroup(workers).channelType(NioServerSocketChannel.class)
        .directExecutor().fallbackHandlerRegistry(new ForwardingRegistry(channels, false))
        .build().start();
    closeables.add(() -> proxy.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    ManagedChannel caller = NettyChannelBuilder.forAddress((InetSocketAddress) proxy.getListenSockets().get(0))
        .usePlaintext().build();
    closeables.add(() -> caller.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    who(caller);

    first.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    // 30 s of calls to no upstream: grpc-java's backoff alone would have grown to about 17 s between attempts
    // (1 s, then 1.6 times longer each time), so a returning upstream would wait seconds for the next one.
    long outageEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < outageEnd) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> who(caller));
      assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
      Thread.sleep(100); // the pace of a caller retrying ten times a second, not a wait for an event
    }
    Server back = whoUpstream(port);
    closeables.add(() -> back.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    // A failed call cuts the backoff short at most once a second: within a few calls a new connection is up.
    int failures = 0;
    while (true) {
      try {
        who(caller);
        break;
      } catch (StatusRuntimeException e) {
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
        failures++;
        assertTrue(failures < 30, "the upstream is back, but calls still fail after " + failures + " tries");
        Thread.sleep(100);
      }
    }
  }
}
