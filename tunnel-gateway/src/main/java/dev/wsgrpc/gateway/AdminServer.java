package dev.wsgrpc.gateway;

import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.server.PlainHttpHandler;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DuplexChannel;
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
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The gateway's admin listener ({@code --admin-port}): plain HTTP/1.1 with keep-alive that answers
 * {@code GET /healthz} and {@code GET /metrics} (through the same {@link HealthAndMetrics} as the public port) and
 * 404 to everything else. It carries no tunnels, no gRPC and no TLS: bind it to loopback (the default) or to a network
 * only monitoring reaches. Requests are bounded (4 KiB request line, 8 KiB headers, 1 KiB body: 413, and an
 * unknown {@code Expect} 417, each then closing the connection), a request must arrive whole within {@value
 * #REQUEST_SECONDS} s of its first byte (else 408 and the connection closes, as the public port answers a request
 * trickled in slower than its handshake timeout), a connection that sends nothing for {@value #IDLE_SECONDS} s is
 * closed, and requests sent one after the other without waiting (pipelined) are answered one at a time: the next is
 * read once the last answer has left, and nothing is read while an answer waits unread (the 413 and 417 included),
 * so a client that sends but does not read makes the listener queue no answers; nothing it does is logged. At most
 * {@value #MAX_CONNECTIONS} connections are open at once: one more is answered 503 at once, without its request being
 * parsed, and closed.
 *
 * <p>It answers only requests whose {@code Host} names it as a machine, not a site: an IP address (IPv4, or IPv6 in
 * brackets), {@code localhost} or a name under {@code .localhost}, or one of the names it was given
 * ({@code --admin-hosts} and {@code --admin-address}), with or without a port. A web page can make its visitor's
 * browser send requests to the listener through a name of its own re-resolved to a loopback or intranet address (DNS
 * rebinding), and read the answers, since they are then of the page's own origin; such a request carries the page's
 * name in {@code Host}, and gets 421 Misdirected Request instead. A request without {@code Host} is answered over
 * HTTP/1.0 (no browser sends one) and 400 over HTTP/1.1, which requires it.
 */
final class AdminServer implements AutoCloseable {

  static final int IDLE_SECONDS = 60;
  /** How long a request may take to arrive whole from its first byte: the public port's default handshake timeout. */
  static final int REQUEST_SECONDS = 10;
  /** The most one read of a connection takes from its socket. */
  static final int READ_BYTES = 4096;
  /** Connections open at once; monitoring needs a few. */
  static final int MAX_CONNECTIONS = 64;
  /** How long a connection past {@link #MAX_CONNECTIONS} is kept to deliver its 503. */
  static final int REFUSAL_MILLIS = 1000;

  private final EventLoopGroup group;
  private final Channel channel;
  private final AtomicBoolean closed = new AtomicBoolean();

  private AdminServer(EventLoopGroup group, Channel channel) {
    this.group = group;
    this.channel = channel;
  }

  /**
   * Binds {@code address} and serves {@code http} there until {@link #close()}, to requests whose {@code Host} is an
   * IP address, localhost, or one of {@code hosts} (lower-case names, without port).
   */
  static AdminServer start(InetSocketAddress address, PlainHttpHandler http, Set<String> hosts) throws IOException {
    EventLoopGroup group = GatewayTransport.newGroup(1, "wsgrpc-admin");
    AtomicInteger open = new AtomicInteger();
    boolean started = false;
    try {
      ChannelFuture bound = new ServerBootstrap()
          .group(group)
          .channel(GatewayTransport.serverChannelType())
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childOption(ChannelOption.AUTO_READ, false) // Answer reads: one request at a time
          // Requests are small: a read of at most 4 KiB decodes a few dozen pipelined ones, not thousands.
          .childOption(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(READ_BYTES))
          .childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              // Connections refused are not counted: a client opening them as fast as they are refused must not
              // keep monitoring out once the ones served are fewer.
              if (open.get() >= MAX_CONNECTIONS) {
                ch.pipeline().addLast(new Refusal());
              } else {
                open.incrementAndGet();
                ch.closeFuture().addListener(f -> open.decrementAndGet());
                addHandlers(ch.pipeline(), http, hosts);
              }
            }
          })
          .bind(address).awaitUninterruptibly();
      if (!bound.isSuccess()) {
        Throwable cause = bound.cause();
        throw new IOException("cannot listen on " + address + ": "
            + (cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName()), cause);
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
  static void addHandlers(ChannelPipeline p, PlainHttpHandler http, Set<String> hosts) {
    RequestDeadline deadline = new RequestDeadline();
    p.addLast(deadline);
    p.addLast(new ReadTimeoutHandler(IDLE_SECONDS, TimeUnit.SECONDS));
    p.addLast(new HttpServerCodec(4096, 8192, 8192));
    p.addLast(new HttpServerKeepAliveHandler());
    // Answers 417 to an Expect it does not know, and 413 to an Expect: 100-continue whose body is over the limit, by
    // itself (Answer never sees those requests); with `true` the connection then closes once that answer has left,
    // instead of reading on. (A body over the limit without Expect closes it anyway: this channel does not auto-read.)
    p.addLast(new HttpObjectAggregator(1024, true));
    // One read of the socket can hold many pipelined requests: they wait here, and Answer takes one per read().
    p.addLast(new FlowControlHandler());
    p.addLast(new Answer(http, hosts, deadline));
  }

  /**
   * Answers a connection past {@value #MAX_CONNECTIONS} 503 as soon as it is accepted, and closes it: every connection
   * holds a file descriptor, which the public port's tunnels need too. Once the answer has left, the output is shut
   * down and whatever the client sent is read and dropped until it closes its side, for at most {@value
   * #REFUSAL_MILLIS} ms: closing with its request unread would reset the connection, which can discard the answer
   * before the client reads it.
   */
  private static final class Refusal extends ChannelInboundHandlerAdapter {
    static final String BODY = "too many connections to the admin listener (expected: at most " + MAX_CONNECTIONS
        + " open at once)\n";
    static final byte[] ANSWER = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + "Connection: close\r\nContent-Length: " + BODY.length() + "\r\n\r\n" + BODY)
        .getBytes(StandardCharsets.US_ASCII);

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ScheduledFuture<?> deadline = ctx.executor().schedule(() -> ctx.close(), REFUSAL_MILLIS, TimeUnit.MILLISECONDS);
      ctx.channel().closeFuture().addListener(f -> deadline.cancel(false));
      ctx.writeAndFlush(Unpooled.wrappedBuffer(ANSWER)).addListener(f -> {
        if (f.isSuccess() && ctx.channel() instanceof DuplexChannel) {
          ((DuplexChannel) ctx.channel()).shutdownOutput();
          ctx.channel().config().setAutoRead(true); // the channel closes when the client's side ends
        } else {
          ctx.close();
        }
      });
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ReferenceCountUtil.release(msg);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close(); // resets and the like: quietly, as everything here
    }
  }

  /**
   * Times each request from its first byte, before the HTTP/1.1 codec: a request not whole within
   * {@value #REQUEST_SECONDS} s has {@link Answer} answer 408 and close. The idle timeout alone let a client that
   * sends a byte now and then hold a connection for ever with a request it never finishes.
   */
  private static final class RequestDeadline extends ChannelInboundHandlerAdapter {
    /** The event that tells {@link Answer} the request in progress is late. */
    static final Object EXPIRED = new Object();

    private ScheduledFuture<?> timer;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (timer == null && msg instanceof ByteBuf && ((ByteBuf) msg).isReadable()) {
        timer = ctx.executor().schedule(() -> ctx.fireUserEventTriggered(EXPIRED), REQUEST_SECONDS,
            TimeUnit.SECONDS);
      }
      ctx.fireChannelRead(msg);
    }

    /** A whole request arrived: the clock stops, and the next byte read starts it for the next request. */
    void requestArrived() {
      if (timer != null) {
        timer.cancel(false);
        timer = null;
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      requestArrived();
      ctx.fireChannelInactive();
    }
  }

  /**
   * Why a request with these {@code Host} headers is malformed (400), or null: HTTP/1.1 requires exactly one, and
   * HTTP/1.0 none or one.
   */
  static String hostHeaderProblem(List<String> host, HttpVersion version) {
    if (host.isEmpty()) {
      return version.equals(HttpVersion.HTTP_1_0) ? null : "expected a Host header (HTTP/1.1 requires one)";
    }
    return host.size() == 1 ? null : "expected one Host header but there were " + host.size();
  }

  /**
   * Why the listener does not answer a request for {@code host} (421), or null when it does: an IP address (IPv6 in
   * brackets), {@code localhost}, a name under {@code .localhost} or one of {@code hosts} (lower-case), with or
   * without a port. The reason reads {@code "expected a Host that is an IP address, localhost or a name
   * --admin-hosts lists but was 'rebind.example:9090'"}, the value printable and at most 64 characters.
   */
  static String hostRefusal(String host, Set<String> hosts) {
    String value = host.trim();
    String name = null;
    if (value.startsWith("[")) { // [IPv6] or [IPv6]:port
      int close = value.indexOf(']');
      if (close > 0 && NetUtil.isValidIpV6Address(value.substring(1, close))
          && portOrNothing(value.substring(close + 1))) {
        return null;
      }
    } else {
      int colon = value.lastIndexOf(':');
      if (colon < 0 || portOrNothing(value.substring(colon))) {
        name = (colon < 0 ? value : value.substring(0, colon)).toLowerCase(Locale.ROOT);
      }
    }
    if (name != null && (NetUtil.isValidIpV4Address(name) || name.equals("localhost") || name.endsWith(".localhost")
        || hosts.contains(name))) {
      return null;
    }
    return "expected a Host that is an IP address, localhost or a name --admin-hosts lists but was '"
        + Http11Tokens.printable(value) + "'";
  }

  /** Whether {@code rest} is empty or {@code :} and a port number. */
  private static boolean portOrNothing(String rest) {
    return rest.isEmpty() || rest.matches(":[0-9]{1,5}");
  }

  /** The address bound, with the port picked when 0 was asked for. */
  InetSocketAddress address() {
    return (InetSocketAddress) channel.localAddress();
  }

  /** Closes the listener and its connections; a second call does nothing. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return; // its event loop has gone: closing the channel again would be refused
    }
    channel.close().syncUninterruptibly();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /**
   * Answers each request with {@link PlainHttpHandler#answer} (when it completes, without blocking), 404 when it has
   * no answer, 400 when unreadable or without the Host HTTP/1.1 requires, 421 when its Host is not this machine's
   * ({@link #hostRefusal}), and asks for the next request once the answer has left.
   */
  private static final class Answer extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final PlainHttpHandler http;
    private final Set<String> hosts;
    private final RequestDeadline deadline;
    /** An answer is on its way out: the next request waits for it. */
    private boolean answering;

    Answer(PlainHttpHandler http, Set<String> hosts, RequestDeadline deadline) {
      this.http = http;
      this.hosts = hosts;
      this.deadline = deadline;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ctx.read();
      ctx.fireChannelActive();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      if (!answering && ctx.channel().isWritable()) {
        ctx.read(); // the read held no whole request (part of one, or a body being discarded): read on
      }
      ctx.fireChannelReadComplete();
    }

    /**
     * Answers the codec steps wrote by themselves (the aggregator's 417 and 413) wait unread: no more is read until
     * they have left, so that a client that sends such requests and reads nothing queues no more than the channel's
     * high water mark of them (the idle timeout then ends the connection, as nothing is read).
     */
    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (!answering && ctx.channel().isWritable()) {
        ctx.read();
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
      deadline.requestArrived();
      FullHttpResponse response = null;
      String refusal;
      boolean keepAlive = HttpUtil.isKeepAlive(request);
      boolean head = HttpMethod.HEAD.equals(request.method());
      if (request.decoderResult().isFailure()) {
        response = text(HttpResponseStatus.BAD_REQUEST, "expected an HTTP/1.1 GET of /healthz or /metrics\n");
        keepAlive = false;
      } else if ((refusal = hostHeaderProblem(request.headers().getAll(HttpHeaderNames.HOST),
          request.protocolVersion())) != null) {
        response = text(HttpResponseStatus.BAD_REQUEST, refusal + "\n");
      } else if (request.headers().contains(HttpHeaderNames.HOST)
          && (refusal = hostRefusal(request.headers().get(HttpHeaderNames.HOST), hosts)) != null) {
        // Not logged, as nothing a client does here is.
        response = text(HttpResponseStatus.MISDIRECTED_REQUEST, refusal + "\n");
      }
      answering = true; // no request is read until this one is answered
      if (response != null) {
        send(ctx, response, head, keepAlive);
        return;
      }
      boolean alive = keepAlive;
      // /metrics is rendered on its own thread: this one waits for it without blocking, then answers.
      http.answer(request, ctx.channel().remoteAddress(), ctx.alloc()).whenComplete((answer, failure) -> {
        try {
          ctx.executor().execute(() -> answered(ctx, answer, failure, head, alive));
        } catch (java.util.concurrent.RejectedExecutionException e) {
          ReferenceCountUtil.release(answer); // the listener is closing
        }
      });
    }

    private void answered(ChannelHandlerContext ctx, FullHttpResponse answer, Throwable failure, boolean head,
        boolean keepAlive) {
      if (!ctx.channel().isActive()) {
        ReferenceCountUtil.release(answer);
        return;
      }
      FullHttpResponse response = answer;
      if (failure != null) {
        ReferenceCountUtil.release(answer);
        response = text(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error\n");
        keepAlive = false;
      } else if (response == null) {
        response = text(HttpResponseStatus.NOT_FOUND, "not found: this admin port serves GET /healthz and "
            + "GET /metrics\n");
      } else if (!HttpUtil.isKeepAlive(response)) {
        keepAlive = false; // the answer ends the connection (a gateway shutting down)
      }
      send(ctx, response, head, keepAlive);
    }

    private void send(ChannelHandlerContext ctx, FullHttpResponse response, boolean head, boolean keepAlive) {
      HttpUtil.setContentLength(response, response.content().readableBytes());
      if (head) {
        // The length of what GET would send, without the body.
        FullHttpResponse headOnly = response.replace(Unpooled.EMPTY_BUFFER);
        response.release();
        response = headOnly;
      }
      if (!keepAlive) {
        response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
      } else {
        ctx.writeAndFlush(response).addListener(f -> {
          answering = false;
          if (f.isSuccess() && ctx.channel().isWritable()) {
            ctx.read();
          }
        });
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt != RequestDeadline.EXPIRED) {
        ctx.fireUserEventTriggered(evt);
      } else if (answering) {
        ctx.close(); // not read while answering, so not expected; never an answer out of order
      } else {
        answering = true;
        send(ctx, text(HttpResponseStatus.REQUEST_TIMEOUT, "expected a complete request within "
            + TimeUnit.SECONDS.toMillis(REQUEST_SECONDS) + " ms\n"), false, false);
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
