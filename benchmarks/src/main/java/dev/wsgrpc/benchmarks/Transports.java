package dev.wsgrpc.benchmarks;

import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The event loops of a JVM's setups: the native epoll transport where it loads, NIO otherwise. One group for the
 * servers and one for the clients, each with one thread per core; every setup of one JVM runs on the same threads.
 * Servers and clients run gRPC callbacks on the event loop ({@code directExecutor}): no thread hop hides the cost
 * of the transport. Buffers come from gRPC's pooled allocator, the same for every setup.
 */
final class Transports implements AutoCloseable {

  final boolean epoll;
  final EventLoopGroup boss;
  final EventLoopGroup serverWorkers;
  final EventLoopGroup clientWorkers;

  Transports(int threads) {
    epoll = Epoll.isAvailable();
    boss = group(1, "bench-boss");
    serverWorkers = group(threads, "bench-server");
    clientWorkers = group(threads, "bench-client");
  }

  private EventLoopGroup group(int threads, String name) {
    return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true),
        epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
  }

  /** What the event loops of this machine use, for the report, e.g. {@code "epoll (native)"}. */
  static String describeAvailable() {
    return Epoll.isAvailable() ? "epoll (native)" : "NIO (epoll unavailable: " + Epoll.unavailabilityCause() + ")";
  }

  NettyServerBuilder configure(NettyServerBuilder builder) {
    return builder
        .channelType(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
        .bossEventLoopGroup(boss)
        .workerEventLoopGroup(serverWorkers)
        .directExecutor();
  }

  NettyChannelBuilder configure(NettyChannelBuilder builder) {
    return builder
        .channelType(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
        .eventLoopGroup(clientWorkers)
        .directExecutor();
  }

  @Override
  public void close() {
    clientWorkers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    serverWorkers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }
}
