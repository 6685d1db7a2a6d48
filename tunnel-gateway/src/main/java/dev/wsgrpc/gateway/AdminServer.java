package dev.wsgrpc.gateway;

import dev.wsgrpc.server.PlainHttpHandler;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.flow.FlowControlHandler;
import io.netty.handler.timeout.ReadTimeoutHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The gateway's admin listener ({@code --admin-port}): plain HTTP/1.1 with keep-alive that answers
 * {@code GET /healthz} and {@code GET /metrics} (through the same {@link HealthAndMetrics} as the public port) and
 * 404 to everything else. It carries no tunnels, no gRPC and no TLS: bind it to loopback (the default) or to a network
 * only monitoring reaches. Requests are bounded (4 KiB request line, 8 KiB headers, 1 KiB body), a connection
 * that sends nothing for {@value #IDLE_SECONDS} s is closed, and requests sent one after the other without waiting
 * (pipelined) are answered one at a time: the next is read once the last answer has left, so a client that sends
 * but does not read makes the listener queue no answers; nothing it does is logged.
 */
final class AdminServer implements AutoCloseable {

  static final int IDLE_SECONDS = 60;

  private final EventLoopGroup group;
  private final Channel channel;

  private AdminServer(EventLoopGroup group, Channel channel) {
    this.group = group;
    this.channel = channel;
  }

  /** Binds {@code address} and serves {@code http} there until {@link #close()}. */
  static AdminServer start(InetSocketAddress address, PlainHttpHandler http) throws IOException {
    EventLoopGroup group = GatewayTransport.newGroup(1, "wsgrpc-admin");
    boolean started = false;
    try {
      ChannelFuture bound = new ServerBootstrap()
          .group(group)
          .channel(GatewayTransport.serverChannelType())
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childOption(ChannelOption.AUTO_READ, false) // Answer reads: one request at a time
          .childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              addHandlers(ch.pipeline(), http);
            }
          })
          .bind(address).awaitUninterruptibly();
      if (!bound.isSuccess()) {
        throw new IOException("cannot listen on " + address + ": " + bound.cause().getMessage(), bound.cause());
      }
      started = true;
      return new AdminServer(group, bound.channel());
    } finally {
      if (!started) {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      }
    }
  }

  /** The handlers of a connection to the listener, whose channel does not read by itself (no auto-read). */
  static void addHandlers(ChannelPipeline p, PlainHttpHandler http) {
    p.addLast(new ReadTimeoutHandler(IDLE_SECONDS, TimeUnit.SECONDS));
    p.addLast(new HttpServerCodec(4096, 8192, 8192));
    p.addLast(new HttpServerKeepAliveHandler());
    p.addLast(new HttpObjectAggregator(1024));
    // One read of the socket can hold many pipelined requests: they wait here, and Answer takes one per read().
    p.addLast(new FlowControlHandler());
    p.addLast(new Answer(http));
  }

  /** The address bound, with the port picked when 0 was asked for. */
  InetSocketAddress address() {
    return (InetSocketAddress) channel.localAddress();
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /**
   * Answers each request with {@link PlainHttpHandler#handle}, 404 when it has no answer, 400 when unreadable, and
   * asks for the next request once the answer has left.
   */
  private static final class Answer extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final PlainHttpHandler http;
    /** An answer is on its way out: the next request waits for it. */
    private boolean answering;

    Answer(PlainHttpHandler http) {
      this.http = http;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ctx.read();
      ctx.fireChannelActive();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      if (!answering) {
        ctx.read(); // the read held no whole request (part of one, or a body being discarded): read on
      }
      ctx.fireChannelReadComplete();
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
      FullHttpResponse response;
      boolean keepAlive = HttpUtil.isKeepAlive(request);
      if (request.decoderResult().isFailure()) {
        response = text(HttpResponseStatus.BAD_REQUEST, "expected an HTTP/1.1 GET of /healthz or /metrics\n");
        keepAlive = false;
      } else {
        response = http.handle(request, ctx.channel().remoteAddress(), ctx.alloc());
        if (response == null) {
          response = text(HttpResponseStatus.NOT_FOUND, "not found: this admin port serves GET /healthz and "
              + "GET /metrics\n");
        }
      }
      HttpUtil.setContentLength(response, response.content().readableBytes());
      if (HttpMethod.HEAD.equals(request.method())) {
        // The length of what GET would send, without the body.
        FullHttpResponse head = response.replace(Unpooled.EMPTY_BUFFER);
        response.release();
        response = head;
      }
      if (!keepAlive) {
        response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
      } else {
        answering = true;
        ctx.writeAndFlush(response).addListener(f -> {
          answering = false;
          if (f.isSuccess()) {
            ctx.read();
          }
        });
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      // Read timeouts, resets, oversized requests: the connection ends, quietly (a peer must not be able to log).
      ctx.close();
    }

    private static FullHttpResponse text(HttpResponseStatus status, String text) {
      FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
          Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
      response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
      return response;
    }
  }
}
