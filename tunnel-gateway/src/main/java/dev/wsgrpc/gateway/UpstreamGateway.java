package dev.wsgrpc.gateway;

import dev.wsgrpc.server.InternalTunnelServer;
import dev.wsgrpc.server.WebSocketServerOptions;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Gateway mode: a plain Netty server whose connections answer the upgrade (or start native HTTP/2, or ask for
 * {@code /healthz} and {@code /metrics}) exactly as the library's server does, and then have their byte stream
 * relayed to an existing gRPC server by {@link UpstreamRelayHandler}. Native connections are admitted, counted
 * against the tunnel limits and refused while draining as tunnels are; their calls cannot be authenticated (the
 * bytes are relayed unread), so the gateway refuses to start relay mode with native gRPC and bearer tokens.
 */
final class UpstreamGateway implements AutoCloseable {

  private final WebSocketServerOptions options;
  private final Upstreams upstreams;
  private final UpstreamConnector connector;
  private final RelaySettings relaySettings;
  private final PendingBudget pendingBudget;
  private final TunnelTracker tracker;
  private final EventLoopGroup boss = GatewayTransport.newGroup(1, "gateway-accept");
  private final EventLoopGroup workers = GatewayTransport.newGroup(0, "gateway-io");
  private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
  private final Object tunnelCounter;
  private Channel listener;

  UpstreamGateway(WebSocketServerOptions options, Upstreams upstreams, SslContext upstreamTls,
      RelaySettings relaySettings, TunnelTracker tracker) {
    this.options = options;
    this.upstreams = upstreams;
    this.connector = UpstreamConnector.sockets(upstreamTls);
    this.relaySettings = relaySettings;
    this.pendingBudget = new PendingBudget(relaySettings.maxPendingBytes);
    this.tracker = tracker;
    this.tunnelCounter = InternalTunnelServer.newTunnelCounter(options);
  }

  /** The largest read of a relayed socket. */
  static final int MAX_READ_BYTES = 256 * 1024;

  /**
   * Reads of both sockets of a relayed connection: each buffer sized to what arrives, as Netty's default, but up to
   * {@link #MAX_READ_BYTES} rather than 64 KiB, and one read per readiness event rather than up to 16, so that a
   * stream moves in fewer reads and writes (each a system call and a pass through the pipeline) and one event adds
   * at most 256 KiB where it added up to 1 MiB. A read takes no more than the socket holds, and reading stops while
   * the other side cannot take more. Shared by every relayed socket: not to be changed.
   */
  static final RecvByteBufAllocator RELAY_READS =
      new AdaptiveRecvByteBufAllocator(64, 2048, MAX_READ_BYTES).maxMessagesPerRead(1);

  /** Binds and returns the address actually bound (port 0 picks one). */
  InetSocketAddress start(InetSocketAddress bind) throws InterruptedException {
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(boss, workers)
        .channel(GatewayTransport.serverChannelType())
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childOption(ChannelOption.RCVBUF_ALLOCATOR, RELAY_READS)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            connections.add(ch);
            ChannelPipeline p = ch.pipeline();
            p.addLast(InternalTunnelServer.newLifecycleHandler(options.listener()));
            InternalTunnelServer.handshakeStarted(ch, options, tunnelCounter);
            Supplier<SslContext> tls = options.sslContext();
            if (tls == null) {
              addTunnelSteps(p);
            } else {
              p.addLast(InternalTunnelServer.newTlsHandler(options, ch.alloc()));
              p.addLast(new ApplicationProtocolNegotiationHandler(ApplicationProtocolNames.HTTP_1_1) {
                /** The handshake has failed and been reported: once per connection, whichever way it came. */
                private boolean failed;
                private boolean succeeded;

                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
                  if (evt instanceof SslHandshakeCompletionEvent) {
                    SslHandshakeCompletionEvent done = (SslHandshakeCompletionEvent) evt;
                    if (done.isSuccess()) {
                      succeeded = true;
                    } else {
                      // Every failure, the handshake timeout's too: counted, one rate-limited line, closed.
                      handshakeFailed(ctx, done.cause());
                    }
                  }
                  super.userEventTriggered(ctx, evt);
                }

                /**
                 * Until the handshake has succeeded this handler is the last one, and what reaches it is the peer's
                 * doing: a record that is no TLS, or a reset passed on by SslHandler as an IOException. Netty's own
                 * would log a WARN with a stack trace and pass it on to the pipeline's tail for a second one, per
                 * connection. It ends as a failed handshake: counted, one rate-limited line, closed.
                 */
                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
                  if (succeeded) {
                    super.exceptionCaught(ctx, cause); // configurePipeline failed: ours, not the peer's
                    return;
                  }
                  handshakeFailed(ctx, cause);
                }

                private void handshakeFailed(ChannelHandlerContext ctx, Throwable cause) {
                  if (failed) {
                    ctx.close(); // the same failure again (its event, or the exception after it)
                    return;
                  }
                  failed = true;
                  InternalTunnelServer.tlsHandshakeFailed(ctx, options, cause);
                }

                @Override
                protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
                  // Native gRPC over TLS (ALPN h2) too: its preface is admitted, counted and timed as in the clear.
                  addTunnelSteps(ctx.pipeline());
                }
              });
            }
          }
        });
    listener = bootstrap.bind(bind).sync().channel();
    return (InetSocketAddress) listener.localAddress();
  }

  private void addTunnelSteps(ChannelPipeline p) {
    InternalTunnelServer.addUpgradeStep(p, options, tunnelCounter);
    p.addLast(newRelay());
  }

  private UpstreamRelayHandler newRelay() {
    return new UpstreamRelayHandler(upstreams, connector, tracker, relaySettings, pendingBudget);
  }

  /** The client connections open now (for tests). */
  Set<Channel> connections() {
    return Collections.unmodifiableSet(connections);
  }

  /**
   * Sends GOAWAY into every relayed connection (at an HTTP/2 frame boundary outside header blocks); new tunnels are
   * refused elsewhere. The future completes once every connection has started its drain.
   */
  CompletableFuture<Void> beginDrain() {
    List<CompletableFuture<Void>> started = new ArrayList<>();
    for (Channel ch : connections) {
      CompletableFuture<Void> one = new CompletableFuture<>();
      started.add(one);
      ch.eventLoop().execute(() -> {
        try {
          UpstreamRelayHandler relay = ch.pipeline().get(UpstreamRelayHandler.class);
          if (relay != null) {
            relay.drain();
          }
        } finally {
          one.complete(null);
        }
      });
    }
    return CompletableFuture.allOf(started.toArray(new CompletableFuture<?>[0]));
  }

  @Override
  public void close() {
    if (listener != null) {
      listener.close().syncUninterruptibly();
    }
    // Tunnels still open get WebSocket close 1001.
    connections.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    boss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    upstreams.close();
  }
}
