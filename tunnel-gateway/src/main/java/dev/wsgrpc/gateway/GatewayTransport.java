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

  static EventLoopGroup newGroup(int threads, String name) {
    IoHandlerFactory io = epoll() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    return new MultiThreadIoEventLoopGroup(threads, new io.netty.util.concurrent.DefaultThreadFactory(name, true), io);
  }

  static Class<? extends ServerChannel> serverChannelType() {
    return epoll() ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
  }

  /** The client socket type that matches {@code accepted}'s event loop. */
  static Class<? extends Channel> clientChannelType(Channel accepted) {
    return accepted instanceof EpollSocketChannel ? EpollSocketChannel.class : NioSocketChannel.class;
  }

  private GatewayTransport() {}
}
