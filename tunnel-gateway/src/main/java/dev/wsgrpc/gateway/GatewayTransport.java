package dev.wsgrpc.gateway;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

/** The socket transport of gateway mode: native epoll where available, NIO otherwise. */
final class GatewayTransport {

  static boolean epoll() {
    return Epoll.isAvailable();
  }

  /**
   * Why gateway mode runs on NIO, or null when it runs on epoll: the jar carries epoll for Linux x86_64 and aarch64,
   * so this names the platform or the load failure (e.g. a {@code noexec} temporary directory).
   */
  static String nioReason() {
    if (epoll()) {
      return null;
    }
    Throwable cause = Epoll.unavailabilityCause();
    return System.getProperty("os.name") + "/" + System.getProperty("os.arch") + ": "
        + (cause == null ? "unknown" : cause.getClass().getSimpleName() + ": " + cause.getMessage());
  }

  static EventLoopGroup newGroup(int threads, String name) {
    IoHandlerFactory io = epoll() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    return new MultiThreadIoEventLoopGroup(threads, new io.netty.util.concurrent.DefaultThreadFactory(name, true), io);
  }

  static Class<? extends ServerChannel> serverChannelType() {
    return epoll() ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
  }

  /** The client socket type that matches {@link #newGroup}'s event loops. */
  static Class<? extends Channel> clientChannelType() {
    return epoll() ? EpollSocketChannel.class : NioSocketChannel.class;
  }

  /** The client socket type that matches {@code accepted}'s event loop. */
  static Class<? extends Channel> clientChannelType(Channel accepted) {
    return accepted instanceof EpollSocketChannel ? EpollSocketChannel.class : NioSocketChannel.class;
  }

  private GatewayTransport() {}
}
