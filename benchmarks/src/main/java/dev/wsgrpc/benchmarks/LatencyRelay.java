package dev.wsgrpc.benchmarks;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A TCP relay on loopback that delays every chunk it reads by a fixed time in each direction, in user space (this
 * kernel has no netem): a path with latency in front of a server, for {@link FirstCall}. Each chunk is passed on
 * {@code delay} after it was read, in order (one event loop thread, delays scheduled first in, first out); at most
 * {@link #HIGH_WATER} bytes per direction wait or sit unwritten, above which the relay stops reading that side until
 * they drop below {@link #LOW_WATER}. The TCP handshake itself is not delayed (the kernel accepts the connection).
 *
 * <p>Each connection also counts the <em>round trips</em> its client waits for, independently of timing: every chunk
 * gets a depth. A chunk from the client is one deeper than the deepest chunk delivered to the client before it was
 * read (the first chunks have depth 1); a chunk from the server has the depth of the deepest chunk delivered to the
 * server before it was read (0 for what the server sends unprompted, e.g. its HTTP/2 SETTINGS at accept). {@link
 * Connection#turns} is the deepest chunk delivered to the client so far: read when a call has completed, the round
 * trips the call took from connecting. A TLS handshake, an HTTP upgrade and a request each add one where the client
 * must wait for the answer before it goes on; what a peer sends unprompted or without waiting (acknowledgements)
 * adds nothing. A step slower than the delay can only make a count higher (its answer may leave after a later
 * delivery), never lower.
 */
final class LatencyRelay implements AutoCloseable {

  /** Bytes per direction that may wait in the relay before it stops reading that side. */
  static final int HIGH_WATER = 4 << 20;
  static final int LOW_WATER = 1 << 20;

  /** One relayed connection's counts; read from any thread. */
  static final class Connection {
    private volatile int turns;
    // Written and read on the relay's event loop only.
    private int deliveredToClient;
    private int deliveredToServer;

    /** The first {@link #LOGGED} chunks, e.g. {@code "c>s 70 @0 depth 1"}; guarded by itself. */
    private final List<String> log = new java.util.ArrayList<>();
    private final long started = System.nanoTime();
    private static final int LOGGED = 40;

    /** The deepest chunk delivered to the client so far: after a call, the round trips it took (class comment). */
    int turns() {
      return turns;
    }

    private void log(String event, int bytes, int depth) {
      synchronized (log) {
        if (log.size() < LOGGED) {
          log.add(event + " " + bytes + " @" + (System.nanoTime() - started) / 1_000_000 + " depth " + depth);
        }
      }
    }

    /** What flowed so far, chunk by chunk (the first few), for messages. */
    @Override
    public String toString() {
      synchronized (log) {
        return "turns " + turns + ": " + String.join(", ", log);
      }
    }
  }

  private final EventLoopGroup group;
  private final Channel listener;
  private final long delayNanos;
  private final List<Connection> connections = new CopyOnWriteArrayList<>();
  private final ChannelGroup channels;

  private LatencyRelay(EventLoopGroup group, Channel listener, long delayNanos) {
    this.group = group;
    this.listener = listener;
    this.delayNanos = delayNanos;
    this.channels = new DefaultChannelGroup(group.next());
  }

  /** Starts a relay on a free loopback port that passes connections on to {@code target}, {@code delay} each way. */
  static LatencyRelay start(InetSocketAddress target, Duration delay) throws InterruptedException {
    boolean epoll = Epoll.isAvailable();
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("latency-relay", true),
        epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    LatencyRelay[] self = new LatencyRelay[1];
    try {
      Channel listener = new ServerBootstrap().group(group)
          .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
          .childOption(ChannelOption.AUTO_READ, false)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel client) {
              self[0].accept(client, target, epoll);
            }
          })
          .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
      self[0] = new LatencyRelay(group, listener, delay.toNanos());
      return self[0];
    } catch (InterruptedException | RuntimeException e) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw e;
    }
  }

  int port() {
    return ((InetSocketAddress) listener.localAddress()).getPort();
  }

  /** The connections relayed so far, oldest first. */
  List<Connection> connections() {
    return connections;
  }

  /** The connection relayed last, or null. */
  Connection last() {
    return connections.isEmpty() ? null : connections.get(connections.size() - 1);
  }

  private void accept(Channel client, InetSocketAddress target, boolean epoll) {
    Connection connection = new Connection();
    connections.add(connection);
    channels.add(client);
    new Bootstrap().group(client.eventLoop())
        .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
        .option(ChannelOption.TCP_NODELAY, true)
        .option(ChannelOption.AUTO_READ, false)
        .handler(new ChannelInboundHandlerAdapter())
        .connect(target).addListener((ChannelFutureListener) f -> {
          if (!f.isSuccess()) {
            client.close();
            return;
          }
          Channel server = f.channel();
          channels.add(server);
          client.pipeline().addLast(new Delay(server, connection, true));
          server.pipeline().addLast(new Delay(client, connection, false));
          client.config().setAutoRead(true);
          server.config().setAutoRead(true);
        });
  }

  /** Reads one side and writes to the other, {@link #delayNanos} later; one instance per direction. */
  private final class Delay extends ChannelInboundHandlerAdapter {
    private final Channel peer;
    private final Connection connection;
    private final boolean toServer;
    private long pending;

    Delay(Channel peer, Connection connection, boolean toServer) {
      this.peer = peer;
      this.connection = connection;
      this.toServer = toServer;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (!(msg instanceof ByteBuf buf)) {
        ReferenceCountUtil.release(msg);
        return;
      }
      int depth;
      if (toServer) {
        depth = connection.deliveredToClient + 1;
      } else {
        depth = connection.deliveredToServer;
      }
      int bytes = buf.readableBytes();
      connection.log(toServer ? "c>s" : "s>c", bytes, depth);
      pending += bytes;
      if (pending > HIGH_WATER) {
        ctx.channel().config().setAutoRead(false);
      }
      Channel source = ctx.channel();
      ctx.executor().schedule(() -> {
        if (toServer) {
          connection.deliveredToServer = Math.max(connection.deliveredToServer, depth);
        } else {
          connection.deliveredToClient = Math.max(connection.deliveredToClient, depth);
          connection.turns = connection.deliveredToClient;
        }
        connection.log(toServer ? "delivered c>s" : "delivered s>c", bytes, depth);
        peer.writeAndFlush(buf).addListener(f -> {
          pending -= bytes;
          if (pending < LOW_WATER && !source.config().isAutoRead() && source.isActive()) {
            source.config().setAutoRead(true);
          }
          if (!f.isSuccess()) {
            source.close();
          }
        });
      }, delayNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      // After what was read before it, like the data: an end of stream takes the same time.
      ctx.executor().schedule(() -> {
        peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
      }, delayNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  /**
   * Closes every connection and stops, once every chunk already read has been passed on or dropped (shutting the
   * loop down at once would cancel the delayed writes and lose their buffers).
   */
  @Override
  public void close() {
    listener.close().syncUninterruptibly();
    channels.close().syncUninterruptibly();
    // Delayed tasks run in deadline order: this one runs after every delayed write and close scheduled before it.
    group.next().schedule(() -> { }, delayNanos + TimeUnit.MILLISECONDS.toNanos(1), TimeUnit.NANOSECONDS)
        .syncUninterruptibly();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
