package dev.wsgrpc.cli;

import dev.wsgrpc.client.InternalWebSocketClient;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.internal.FlushThenClose;
import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.OptionValues;
import dev.wsgrpc.core.internal.Preconditions;
import dev.wsgrpc.core.internal.RateLimitedLog;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.helpers.NOPLogger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code forward --listen 127.0.0.1:50051 --to wss://host/grpc}: a local port for gRPC clients in any language. Each
 * accepted TCP connection becomes one tunnel, and the bytes are relayed both ways unchanged: the client speaks
 * plain h2c to the local port, exactly as the tunnel carries it.
 *
 * <p>Back-pressure: a side that cannot write fast enough stops reading the other (Netty's writability and
 * auto-read), so each connection holds at most a few hundred KiB, whatever the speeds; when one side ends, the other
 * gets what is left for it, however slowly it reads, and is closed once {@value Relay#FLUSH_BEFORE_CLOSE_MILLIS} ms
 * pass without any of it leaving (it has stopped reading).
 */
@Command(name = "forward", mixinStandardHelpOptions = true,
    description = "Accept gRPC (h2c) on a local port and carry each connection through its own tunnel.")
final class ForwardCommand implements Callable<Integer> {

  @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:50051",
      description = "Where to accept connections. Port 0 picks a free one. Default: ${DEFAULT-VALUE}.")
  String listen;

  /** The default of {@code --max-connections}. */
  static final int DEFAULT_MAX_CONNECTIONS = 1000;

  @Option(names = "--max-connections", paramLabel = "N", defaultValue = "" + DEFAULT_MAX_CONNECTIONS,
      description = "Most local connections carried at once (each holds two sockets: its own and its tunnel's); "
          + "one more is closed at once, with a line saying so. Default: ${DEFAULT-VALUE}.")
  int maxConnections;

  @Option(names = "--to", required = true, paramLabel = "URL", description = "The tunnel server's ws:// or wss:// URL.")
  String to;

  @Mixin
  ClientOptions client;

  @Spec
  CommandSpec spec;

  /**
   * A warning when {@code bound} is reachable from other hosts, or null on loopback: every connection to the port
   * calls through the tunnel with this command's credentials (headers, proxy credentials, a client certificate).
   */
  static String exposureWarning(InetSocketAddress bound) {
    if (bound.getAddress().isLoopbackAddress()) {
      return null;
    }
    return "forward: warning: " + OptionValues.hostAndPort(bound.getAddress().getHostAddress(), bound.getPort())
        + " is not a loopback address: anyone who reaches it calls through this tunnel with this command's "
        + "credentials (--header, --proxy-credentials, a client certificate); listen on 127.0.0.1 unless that is "
        + "meant";
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    WebSocketClientOptions options;
    InetSocketAddress listenAddress;
    try {
      Preconditions.checkArgument(maxConnections > 0, "--max-connections", maxConnections, "> 0");
      options = client.toOptions(to, "--to");
      listenAddress = OptionValues.parseHostAndPort(listen, "--listen", true);
    } catch (IllegalArgumentException e) {
      err.println("forward: " + e.getMessage());
      err.flush();
      return WsgrpcCli.USAGE;
    }
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(NioIoHandler.newFactory());
    ExecutorService dns = dnsExecutor();
    try {
      InternalWebSocketClient.Dialer dialer = InternalWebSocketClient.newDialer(options, group, dns);
      ConnectionLines lines = new ConnectionLines(out, err);
      AtomicInteger carried = new AtomicInteger();
      ChannelFuture bind = new ServerBootstrap()
          .group(group)
          .channel(NioServerSocketChannel.class)
          .childOption(ChannelOption.AUTO_READ, false)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(64 * 1024, 256 * 1024))
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel local) {
              if (admit(local, carried, maxConnections, lines)) {
                local.pipeline().addLast(new Opener(dialer, lines));
              }
            }
          })
          .bind(new InetSocketAddress(listenAddress.getHostString(), listenAddress.getPort())).await();
      if (!bind.isSuccess()) {
        // "Address already in use", "Cannot assign requested address": the JDK's words do not say which address.
        err.println("forward: cannot listen on " + OptionValues.hostAndPort(listenAddress.getHostString(),
            listenAddress.getPort()) + ": " + (bind.cause().getMessage() != null ? bind.cause().getMessage()
            : bind.cause() instanceof java.nio.channels.UnresolvedAddressException ? "the name did not resolve"
            : bind.cause().getClass().getSimpleName()));
        err.flush();
        return WsgrpcCli.FAILED;
      }
      Channel server = bind.channel();
      // After Netty's acceptor: an accept that fails (no file descriptor left) is one rate-limited line, not a WARN
      // with a stack trace each time the acceptor retries.
      server.pipeline().addLast(new AcceptFailures(lines));
      InetSocketAddress bound = (InetSocketAddress) server.localAddress();
      out.println("forward: listening on " + OptionValues.hostAndPort(bound.getAddress().getHostAddress(),
          bound.getPort()) + " -> "
          + InternalWebSocketClient.safeUrl(options)
          + (dialer.proxy() != null ? " through " + dialer.proxy() : ""));
      out.flush();
      String exposure = exposureWarning(bound);
      if (exposure != null) {
        err.println(exposure);
        err.flush();
      }
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        server.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
      }, "forward-shutdown"));
      server.closeFuture().sync();
      return WsgrpcCli.OK;
    } catch (java.io.IOException e) {
      err.println("forward: " + e.getMessage());
      err.flush();
      return WsgrpcCli.FAILED;
    } finally {
      group.shutdownGracefully(0, 5, TimeUnit.SECONDS);
      dns.shutdownNow();
    }
  }

  /**
   * Counts {@code local}, just accepted, among the connections carried, until it closes; or, when {@code max} are
   * carried already, closes it at once with a line saying so, and returns false.
   */
  static boolean admit(Channel local, AtomicInteger carried, int max, ConnectionLines lines) {
    if (carried.incrementAndGet() > max) {
      carried.decrementAndGet();
      lines.print(lines.err, lines.refused, "forward: " + local.remoteAddress() + ": refused: " + max
          + " connections carried already, the most --max-connections allows");
      local.close();
      return false;
    }
    local.closeFuture().addListener(f -> carried.decrementAndGet());
    return true;
  }

  /** Reports, rate-limited, an accept that failed (Netty's acceptor pauses accepting for a second after one). */
  static final class AcceptFailures extends ChannelInboundHandlerAdapter {
    private final ConnectionLines lines;

    AcceptFailures(ConnectionLines lines) {
      this.lines = lines;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      lines.print(lines.err, lines.acceptFailed, "forward: cannot accept a connection: "
          + Http11Tokens.printable(String.valueOf(cause.getMessage()), 200)
          + " (out of file descriptors? --max-connections bounds what forward holds; ulimit -n what it may)");
    }
  }

  /** Threads that look names up: as many dials resolve at once (each lookup blocks one), however slow DNS is. */
  static final int DNS_THREADS = 4;
  /** Dials that may wait for a resolver thread; a dial past them fails at once (its connection is closed). */
  static final int DNS_QUEUE = 64;

  /**
   * The executor of the dialer's name lookups: {@value #DNS_THREADS} threads, idle ones ending after 30 s, and up to
   * {@value #DNS_QUEUE} lookups waiting. The lookups are the JDK's ({@code InetAddress}, as gRPC's own name resolver
   * does, with the host's files and resolver settings), and each blocks its thread for as long as the name server
   * takes: without a bound, every connection accepted while DNS is slow held a thread of its own. A lookup past the
   * queue is refused, and its dial fails saying so.
   */
  static ThreadPoolExecutor dnsExecutor() {
    ThreadPoolExecutor pool = new ThreadPoolExecutor(DNS_THREADS, DNS_THREADS, 30, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(DNS_QUEUE), r -> {
          Thread t = new Thread(r, "forward-dns");
          t.setDaemon(true);
          return t;
        }, (task, full) -> {
          throw new RejectedExecutionException(DNS_THREADS + " name lookups under way and " + DNS_QUEUE
              + " waiting, the most forward allows (is the name server slow?)");
        });
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }

  /**
   * The lines printed per local connection, each kind held to {@link #BURST} in a row and then as many per
   * {@link #PERIOD}, with a count of those held back: any local program (or, listening on a public address, anyone)
   * can open connections, and a tunnel server can fail them, at any rate.
   *
   * <p>They are printed by a thread of their own, never by the event loops that call {@link #print}: a console or
   * pipe that is not read (a supervisor that never drains it, a paused terminal) blocks that thread only, not the
   * relays. At most {@value #QUEUED} lines wait for it; what comes past them is dropped, and counted in the next line
   * that is printed.
   */
  static final class ConnectionLines {
    static final int BURST = 10;
    static final Duration PERIOD = Duration.ofMinutes(1);
    /** Lines that may wait for the printing thread. */
    static final int QUEUED = 64;

    final PrintWriter out;
    final PrintWriter err;
    final RateLimitedLog failed = limit();
    final RateLimitedLog open = limit();
    final RateLimitedLog closed = limit();
    final RateLimitedLog refused = limit();
    final RateLimitedLog acceptFailed = limit();
    private final ThreadPoolExecutor printer = new ThreadPoolExecutor(1, 1, 30, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(QUEUED), r -> {
          Thread t = new Thread(r, "forward-lines");
          t.setDaemon(true);
          return t;
        });
    /** Lines dropped because {@link #QUEUED} waited already, since the last one printed. */
    private final AtomicLong dropped = new AtomicLong();

    ConnectionLines(PrintWriter out, PrintWriter err) {
      this.out = out;
      this.err = err;
      printer.allowCoreThreadTimeOut(true);
    }

    private static RateLimitedLog limit() {
      return new RateLimitedLog(NOPLogger.NOP_LOGGER, RateLimitedLog.Level.INFO, BURST, PERIOD, System::nanoTime);
    }

    /**
     * Has {@code line} printed to {@code to}, unless over {@code limit}'s rate; says how many lines were held back.
     * Returns at once.
     */
    void print(PrintWriter to, RateLimitedLog limit, String line) {
      long suppressed = limit.tryAcquire();
      if (suppressed < 0) {
        return;
      }
      String text = suppressed > 0 ? line + " (" + suppressed + " more like this suppressed)" : line;
      try {
        printer.execute(() -> {
          long lost = dropped.getAndSet(0);
          synchronized (to) {
            to.println(lost > 0 ? text + " (" + lost + " lines dropped: the output was not read)" : text);
            to.flush();
          }
        });
      } catch (RejectedExecutionException full) {
        dropped.incrementAndGet();
      }
    }
  }

  /**
   * On a new local connection: opens its tunnel, then relays; closes the connection if the tunnel fails, or if the
   * connection fails first (a write of the tunnel's first bytes to a client that has reset it, say), quietly: that
   * would otherwise reach the end of the pipeline, where Netty logs it with its stack trace, once per connection.
   */
  static final class Opener extends ChannelInboundHandlerAdapter {
    private final InternalWebSocketClient.Dialer dialer;
    private final ConnectionLines lines;

    Opener(InternalWebSocketClient.Dialer dialer, ConnectionLines lines) {
      this.dialer = dialer;
      this.lines = lines;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      Channel local = ctx.channel();
      String who = local.remoteAddress().toString();
      Relay fromTunnel = new Relay(local);
      // The tunnel on the local connection's loop: each relayed read is then a write on the same thread.
      dialer.dial(fromTunnel, (step, nanos, detail) -> { }, local.eventLoop()).addListener(f -> {
        if (!f.isSuccess()) {
          Throwable cause = f.cause();
          String reason = cause instanceof InternalWebSocketClient.StepFailure
              ? ((InternalWebSocketClient.StepFailure) cause).oneLine() : String.valueOf(cause);
          lines.print(lines.err, lines.failed,
              "forward: " + who + ": tunnel failed at " + Http11Tokens.printable(reason, 500));
          local.close();
          return;
        }
        Channel tunnel = (Channel) f.getNow();
        local.eventLoop().execute(() -> {
          if (!local.isActive()) {
            tunnel.close();
            return;
          }
          Relay.start(local, Opener.this, tunnel);
          lines.print(lines.out, lines.open, "forward: " + who + ": tunnel open");
          // Read once the task that closed the tunnel has run: a ping timeout closes it, then says why.
          tunnel.closeFuture().addListener(c -> tunnel.eventLoop().execute(() -> {
            String why = fromTunnel.endReason();
            lines.print(lines.out, lines.closed, "forward: " + who + ": tunnel closed"
                + (why != null ? ": " + Http11Tokens.printable(why, 500) : ""));
          }));
        });
      });
      ctx.fireChannelActive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  /**
   * Copies what one channel reads into the other, reading only while the other can take it. When one side ends, the
   * other is closed once its last bytes have left, or once {@value #FLUSH_BEFORE_CLOSE_MILLIS} ms pass without any of
   * them leaving: a side that has stopped reading must not keep its connection, and what waits for it, for good.
   */
  static final class Relay extends ChannelInboundHandlerAdapter {
    static final long FLUSH_BEFORE_CLOSE_MILLIS = FlushThenClose.TIMEOUT_MILLIS;

    private final Channel peer;
    /** Why this side ended, if it failed: the tunnel's close code and reason, a ping timeout, a reset. */
    private volatile String endReason;

    Relay(Channel peer) {
      this.peer = peer;
    }

    /** Why the channel this relay reads ended, when it ended with a failure (the first one); else null. */
    String endReason() {
      return endReason;
    }

    /**
     * Puts the relay to {@code tunnel} in {@code placeholder}'s place on {@code local} (the tunnel's relay to
     * {@code local} is in place already) and starts reading both: {@code local} from now on, and the tunnel again if
     * {@code local} can take what it reads. The tunnel's relay may have stopped reading it before this one was here
     * to hear {@code local} drain: a tunnel whose first frames, read with its 101, filled the local connection stayed
     * unread for good.
     */
    static void start(Channel local, ChannelHandler placeholder, Channel tunnel) {
      local.pipeline().replace(placeholder, "relay", new Relay(tunnel));
      local.config().setAutoRead(true);
      if (local.isWritable()) {
        tunnel.config().setAutoRead(true);
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (!peer.isActive()) {
        ReferenceCountUtil.release(msg);
        return;
      }
      peer.write(msg, peer.voidPromise());
      if (!peer.isWritable()) {
        ctx.channel().config().setAutoRead(false);
        if (peer.isWritable()) {
          // The peer drained on its own event loop in between, and its relay turned reading on before this turned it
          // off: nothing would turn it on again.
          ctx.channel().config().setAutoRead(true);
        }
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      peer.flush();
      ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (ctx.channel().isWritable()) {
        peer.config().setAutoRead(true);
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      closeAfterFlush(peer);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      // The tunnel's end (a close code, a dead peer) or a reset local connection: end both sides.
      if (endReason == null) {
        endReason = cause instanceof io.grpc.StatusRuntimeException
            ? ((io.grpc.StatusRuntimeException) cause).getStatus().getDescription()
            : cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
      }
      closeAfterFlush(ctx.channel());
      closeAfterFlush(peer);
    }

    private static void closeAfterFlush(Channel ch) {
      if (ch.isActive()) {
        FlushThenClose.close(ch, ch);
      }
    }
  }
}
