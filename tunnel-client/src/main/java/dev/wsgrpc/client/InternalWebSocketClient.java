package dev.wsgrpc.client;

import dev.wsgrpc.core.internal.OptionValues;
import io.grpc.ChannelLogger;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.resolver.NoopAddressResolverGroup;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * wsgrpc's own tools' way into the client: the command-line tool's {@code probe} and {@code forward} open raw
 * tunnels (bytes, no gRPC) with a {@link Dialer}, which runs the very handshake channels run and reports each step.
 * Not API: it may change in any release.
 */
public final class InternalWebSocketClient {

  /** A step of opening a tunnel, in order; {@link #label()} is how {@code probe} prints it. */
  public enum Step {
    DNS, TCP, PROXY, TLS, UPGRADE;

    /** {@code "dns"}, {@code "tcp"}, {@code "proxy"}, {@code "tls"} or {@code "upgrade"}. */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Hears each finished step. DNS is reported on the dialing executor, the others on the channel's event loop. */
  public interface StepListener {
    /**
     * {@code step} succeeded after {@code nanos}; {@code detail} says what it found, e.g. {@code "101 Switching
     * Protocols, subprotocol wsgrpc.v1, Server: nginx/1.22.1"}.
     */
    void stepDone(Step step, long nanos, String detail);
  }

  /** A step failed: the words channels use for it, and which hop said so. */
  public static final class StepFailure extends IOException {
    private static final long serialVersionUID = 1L;
    private final Step step;
    private final String hop;

    StepFailure(Step step, String message, String hop, Throwable cause) {
      super(message, cause);
      this.step = step;
      this.hop = hop;
    }

    /** The step that failed. */
    public Step step() {
      return step;
    }

    /** The hop that failed or answered, e.g. {@code "nginx/1.22.1 at 127.0.0.1:8443"}, or null. */
    public String hop() {
      return hop;
    }

    /** {@code "upgrade: expected HTTP 101 but was ... [hop: nginx/1.22.1 at 127.0.0.1:8443]"}. */
    public String oneLine() {
      return step.label() + ": " + getMessage() + (hop != null ? " [hop: " + hop + "]" : "");
    }
  }

  /**
   * A dialer for {@code options} whose channels run on {@code group}; DNS lookups block a thread of
   * {@code blocking}. It decides TLS and the proxy once, here, exactly as channels do.
   *
   * @throws IOException when the proxy option or the standard settings name a proxy that cannot be used
   */
  public static Dialer newDialer(WebSocketClientOptions options, EventLoopGroup group, Executor blocking)
      throws IOException {
    return new Dialer(options, group, blocking, InetAddress::getAllByName);
  }

  /** As {@link #newDialer(WebSocketClientOptions, EventLoopGroup, Executor)}, with names looked up by {@code dns}. */
  static Dialer newDialer(WebSocketClientOptions options, EventLoopGroup group, Executor blocking, Dns dns)
      throws IOException {
    return new Dialer(options, group, blocking, dns);
  }

  /** A name's addresses, in the order to try them ({@link InetAddress#getAllByName} outside tests). */
  interface Dns {
    InetAddress[] lookUp(String host) throws UnknownHostException;
  }

  /** The URL as errors show it: a query, which may carry a token, is redacted. */
  public static String safeUrl(WebSocketClientOptions options) {
    return options.safeUrl();
  }

  /**
   * Opens raw tunnels: DNS, TCP (every address of the host, in order, an address that has not answered within
   * {@link #ATTEMPT_DELAY_MILLIS} joined by the next: RFC 8305), the HTTP CONNECT proxy that channels
   * would use (Netty's {@code HttpProxyHandler}, as grpc-netty runs it), then the client handshake of channels
   * ({@code ClientTlsHandler}, {@code ClientUpgradeHandler}: the same limits, deadline, refusal bodies and error
   * texts) and {@code FramePipeline.switchToFrames}. The tunnel's byte stream reaches a handler of the caller's.
   */
  public static final class Dialer {

    /**
     * How long an address has to accept the TCP connection before the next one is tried beside it: RFC 8305's
     * Connection Attempt Delay, as the gateway's relay mode uses for its upstreams.
     */
    static final long ATTEMPT_DELAY_MILLIS = 250;

    /** Setup steps log nothing of their own here: every failure reaches the caller as a {@link StepFailure}. */
    private static final ChannelLogger QUIET = new ChannelLogger() {
      @Override
      public void log(ChannelLogLevel level, String message) {}

      @Override
      public void log(ChannelLogLevel level, String messageFormat, Object... args) {}
    };

    private final WebSocketClientOptions options;
    private final EventLoopGroup group;
    private final Executor blocking;
    private final SslContext sslContext;
    private final WebSocketProxyDetector.Choice proxy;
    private final Dns dns;
    /** The lookup under way, which every dial that starts meanwhile waits for too; null when none is. */
    private CompletableFuture<InetAddress[]> lookup;

    private Dialer(WebSocketClientOptions options, EventLoopGroup group, Executor blocking, Dns dns)
        throws IOException {
      this.options = options;
      this.group = group;
      this.blocking = blocking;
      this.dns = dns;
      this.sslContext = options.isSecure() ? WebSocketChannelCredentials.sslContextFor(options) : null;
      this.proxy = new WebSocketProxyDetector(options).choose();
    }

    /** The proxy tunnels go through, as errors name it ({@code "HTTP proxy host:3128 (from HTTPS_PROXY)"}), or null. */
    public String proxy() {
      return proxy == null ? null : proxy.describe();
    }

    /**
     * Opens a tunnel whose byte stream reaches {@code tail}, which must pass user events on (as
     * {@code ChannelInboundHandlerAdapter} does). The future completes with the channel once the upgrade is done,
     * or fails with a {@link StepFailure}; {@code steps} hears each step that succeeded, with its duration. Dials
     * that start while a lookup of the (one) host is under way wait for that lookup rather than queue their own: the
     * JDK makes concurrent lookups of one name wait for each other anyway, so a burst of dials took a thread and a
     * place in the executor's queue each, and failed once the queue was full, however fast the name server. When
     * the dialer's executor refuses the lookup (a bounded one, full), the dials waiting for it fail at once at the
     * DNS step, with the executor's words.
     */
    public Future<Channel> dial(ChannelHandler tail, StepListener steps) {
      return dial(tail, steps, group.next());
    }

    /**
     * As {@link #dial(ChannelHandler, StepListener)}, the tunnel's channel on {@code loop} (one of the dialer's
     * group): a relay whose two channels share a loop hands nothing between threads.
     */
    public Future<Channel> dial(ChannelHandler tail, StepListener steps, EventLoop loop) {
      Promise<Channel> result = loop.newPromise();
      long start = System.nanoTime();
      // The JDK's lookup has no time limit of its own (a resolver that does not answer takes tens of seconds): the
      // dial fails at the handshake timeout, and a lookup that ends later is of use to the dials after it.
      long timeout = options.settings().handshakeTimeout().toMillis();
      ScheduledFuture<?> lookupDeadline = loop.schedule(() -> result.tryFailure(new StepFailure(Step.DNS,
          "cannot resolve " + dialHost() + ": no answer within " + timeout + " ms", null, null)), timeout,
          TimeUnit.MILLISECONDS);
      lookUp().whenComplete((addresses, failure) -> {
        lookupDeadline.cancel(false);
        if (result.isDone()) {
          return; // timed out meanwhile
        }
        try {
          if (failure != null) {
            result.tryFailure(failure instanceof RejectedExecutionException
                ? new StepFailure(Step.DNS, "cannot resolve " + dialHost() + " now: "
                    + (failure.getMessage() != null ? failure.getMessage() : "the lookup was refused"), null, failure)
                : new StepFailure(Step.DNS, "cannot resolve " + dialHost()
                    + (proxy != null ? " (the host of " + proxy.describe() + ")" : ""), null, failure));
            return;
          }
          resolved(addresses, System.nanoTime() - start, tail, steps, result, loop);
        } catch (Throwable t) {
          // Thrown here it would be lost (a loop shutting down, a listener that failed): the dial fails instead.
          result.tryFailure(new StepFailure(Step.DNS, "cannot go on after resolving " + dialHost() + ": " + t, null,
              t));
        }
      });
      return result;
    }

    /** The lookup under way, or a new one on the executor; it completes on the executor's thread. */
    private CompletableFuture<InetAddress[]> lookUp() {
      CompletableFuture<InetAddress[]> mine;
      synchronized (this) {
        if (lookup != null) {
          return lookup;
        }
        mine = new CompletableFuture<>();
        lookup = mine;
      }
      try {
        blocking.execute(() -> {
          InetAddress[] addresses = null;
          Throwable failed = null;
          try {
            addresses = dns.lookUp(dialHost());
          } catch (Throwable e) { // not only UnknownHostException: every dial waiting for it must end
            failed = e;
          } finally {
            endLookup(mine);
          }
          if (failed != null) {
            mine.completeExceptionally(failed);
          } else {
            mine.complete(addresses);
          }
        });
      } catch (RejectedExecutionException e) {
        endLookup(mine);
        mine.completeExceptionally(e);
      }
      return mine;
    }

    /** The next dial looks the host up again (the JDK's cache answers it while fresh). */
    private synchronized void endLookup(CompletableFuture<InetAddress[]> ended) {
      if (lookup == ended) {
        lookup = null;
      }
    }

    /** The host dialed: the proxy's, else the connect-to host, else the URL's. */
    private String dialHost() {
      return proxy != null ? proxy.host : options.connectToHost() != null ? options.connectToHost() : options.host();
    }

    private int dialPort() {
      return proxy != null ? proxy.port : options.connectToHost() != null ? options.connectToPort() : options.port();
    }

    private void resolved(InetAddress[] addresses, long nanos, ChannelHandler tail, StepListener steps,
        Promise<Channel> result, EventLoop loop) {
      List<String> shown = new ArrayList<>();
      for (InetAddress a : addresses) {
        shown.add(a.getHostAddress());
      }
      steps.stepDone(Step.DNS, nanos, dialHost() + " -> " + String.join(", ", shown));
      new Attempts(addresses, tail, steps, result, loop).start();
    }

    /**
     * Tries {@code addresses} as RFC 8305 (Happy Eyeballs) does: one at a time, in order, but an address that has
     * not accepted the TCP connection after {@link #ATTEMPT_DELAY_MILLIS} gets the next address tried beside it,
     * and one that refuses gets it tried at once; the first connection made goes on to the handshake and the
     * others are closed. The TCP step takes at most the handshake timeout in all, not that much per address.
     * Confined to one event loop, on which every attempt's channel runs.
     */
    private final class Attempts {
      private final InetAddress[] addresses;
      private final ChannelHandler tail;
      private final StepListener steps;
      private final Promise<Channel> result;
      private final EventLoop loop;
      /** Connections under way, with the address each is to: more than one once an attempt waited. */
      private final Map<Channel, String> pending = new LinkedHashMap<>();
      private final List<String> failed = new ArrayList<>();
      private int next;
      /** A connection was made, or the step failed: nothing more is tried. */
      private boolean decided;
      private ScheduledFuture<?> nextAttempt;
      private ScheduledFuture<?> deadline;

      Attempts(InetAddress[] addresses, ChannelHandler tail, StepListener steps, Promise<Channel> result,
          EventLoop loop) {
        this.addresses = addresses;
        this.tail = tail;
        this.steps = steps;
        this.result = result;
        this.loop = loop;
      }

      void start() {
        loop.execute(() -> {
          if (result.isDone()) {
            return; // the DNS step's deadline passed first: decided on this loop, so no connection is made
          }
          long timeout = options.settings().handshakeTimeout().toMillis();
          deadline = loop.schedule(this::timedOut, timeout, TimeUnit.MILLISECONDS);
          attempt();
        });
      }

      private String where(InetAddress address) {
        return OptionValues.hostAndPort(address.getHostAddress(), dialPort());
      }

      private void attempt() {
        InetAddress address = addresses[next++];
        String where = where(address);
        DialProgressHandler progress = new DialProgressHandler(options, proxy, where, steps, result);
        ChannelHandler handshake = WebSocketClientNegotiator.handshake(options, sslContext, tail, progress, QUIET,
            false);
        ChannelHandler first = proxy != null ? new ProxyConnectStep(handshake, new InetSocketAddress(address,
            dialPort()), proxy, options.settings().handshakeTimeout().toMillis(), QUIET) : handshake;
        Bootstrap bootstrap = new Bootstrap()
            .group(loop)
            .channel(NioSocketChannel.class)
            .option(ChannelOption.TCP_NODELAY, true)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) options.settings().handshakeTimeout().toMillis())
            .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(64 * 1024, 256 * 1024))
            .handler(new ChannelInitializer<Channel>() {
              @Override
              protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new FirstConnected(), first, progress);
                // What grpc-netty does for a new transport: the setup chain starts with this event.
                ch.pipeline().fireUserEventTriggered(InternalProtocolNegotiationEvent.getDefault());
              }
            });
        InetSocketAddress remote = new InetSocketAddress(address, dialPort());
        if (proxy != null) {
          // The CONNECT names the target, which the proxy resolves.
          bootstrap.resolver(NoopAddressResolverGroup.INSTANCE);
          remote = options.connectToHost() != null
              ? InetSocketAddress.createUnresolved(options.connectToHost(), options.connectToPort())
              : InetSocketAddress.createUnresolved(options.host(), options.port());
        }
        ChannelFuture connect = bootstrap.connect(remote);
        if (connect.isDone() && !connect.isSuccess() && !connect.channel().isRegistered()) {
          // Netty could not even make the channel (no file descriptor left): it never reached the loop, nor can it
          // be closed there.
          failedAt(where, connect.cause());
          return;
        }
        pending.put(connect.channel(), where);
        connect.addListener(f -> {
          // A channel Netty could not even make (no file descriptor left) fails on another thread: back to the loop.
          if (!loop.inEventLoop()) {
            loop.execute(() -> connectEnded(connect, where));
          } else {
            connectEnded(connect, where);
          }
        });
        if (next < addresses.length) {
          nextAttempt = loop.schedule(() -> {
            if (!decided && next < addresses.length) {
              attempt();
            }
          }, ATTEMPT_DELAY_MILLIS, TimeUnit.MILLISECONDS);
        }
      }

      private void connectEnded(ChannelFuture connect, String where) {
        pending.remove(connect.channel());
        if (!connect.isSuccess()) {
          failedAt(where, connect.cause());
        }
      }

      private void failedAt(String where, Throwable cause) {
        if (decided) {
          return;
        }
        String reason = cause.getMessage() != null ? cause.getMessage() : cause.toString();
        // Netty appends the address to the JDK's reason ("Connection refused: /127.0.0.1:1"): once is enough.
        int annotated = reason.lastIndexOf(": /");
        if (annotated > 0) {
          reason = reason.substring(0, annotated);
        }
        failed.add(where + (proxy != null ? " (" + proxy.describe() + ")" : "") + ": " + reason);
        if (next < addresses.length) {
          cancel(nextAttempt);
          attempt();
        } else if (pending.isEmpty()) {
          fail(cause);
        }
      }

      private void timedOut() {
        if (decided) {
          return;
        }
        long timeout = options.settings().handshakeTimeout().toMillis();
        for (String where : pending.values()) {
          failed.add(where + (proxy != null ? " (" + proxy.describe() + ")" : "") + ": no answer within " + timeout
              + " ms");
        }
        if (next < addresses.length) {
          failed.add((addresses.length - next) + " more address" + (addresses.length - next == 1 ? "" : "es")
              + " not tried in that time");
        }
        fail(null);
      }

      private void fail(Throwable cause) {
        decided = true;
        cancel(nextAttempt);
        cancel(deadline);
        for (Channel ch : new ArrayList<>(pending.keySet())) {
          ch.close();
        }
        result.tryFailure(new StepFailure(Step.TCP, "cannot connect to " + String.join("; ", failed),
            addresses.length == 1 ? where(addresses[0]) : "every address of " + dialHost(), cause));
      }

      private void cancel(ScheduledFuture<?> timer) {
        if (timer != null) {
          timer.cancel(false);
        }
      }

      /**
       * First in each attempt's pipeline: the first attempt to connect goes on (this handler leaves, and the
       * handshake hears {@code channelActive}), and closes the others; any later one is closed unheard.
       */
      private final class FirstConnected extends ChannelInboundHandlerAdapter {
        private boolean lost;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
          if (decided) {
            lost = true;
            ctx.close();
            return;
          }
          decided = true;
          cancel(nextAttempt);
          cancel(deadline);
          for (Channel other : new ArrayList<>(pending.keySet())) {
            if (other != ctx.channel()) {
              other.close();
            }
          }
          ctx.pipeline().remove(this);
          ctx.fireChannelActive();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
          if (!lost) {
            ctx.fireChannelInactive();
          }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
          if (!lost) {
            ctx.fireExceptionCaught(cause);
          }
        }
      }
    }
  }

  private InternalWebSocketClient() {}
}
