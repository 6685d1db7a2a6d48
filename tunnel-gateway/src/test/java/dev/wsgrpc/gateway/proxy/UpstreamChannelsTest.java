package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
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
        .fallbackHandlerRegistry(new ForwardingRegistry(channels))
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
}
