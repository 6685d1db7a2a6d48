package dev.wsgrpc.client;

import dev.wsgrpc.core.internal.OptionValues;
import io.grpc.ChannelLogger;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
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
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

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
    return new Dialer(options, group, blocking);
  }

  /** The URL as errors show it: a query, which may carry a token, is redacted. */
  public static String safeUrl(WebSocketClientOptions options) {
    return options.safeUrl();
  }

  /**
   * Opens raw tunnels: DNS (every address of the host, tried in order), TCP, the HTTP CONNECT proxy that channels
   * would use (Netty's {@code HttpProxyHandler}, as grpc-netty runs it), then the client handshake of channels
   * ({@code ClientTlsHandler}, {@code ClientUpgradeHandler}: the same limits, deadline, refusal bodies and error
   * texts) and {@code FramePipeline.switchToFrames}. The tunnel's byte stream reaches a handler of the caller's.
   */
  public static final class Dialer {

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

    private Dialer(WebSocketClientOptions options, EventLoopGroup group, Executor blocking) throws IOException {
      this.options = options;
      this.group = group;
      this.blocking = blocking;
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
     * or fails with a {@link StepFailure}; {@code steps} hears each step that succeeded, with its duration. When the
     * dialer's executor refuses the lookup (a bounded one, full while the name server is slow), the dial fails at
     * once at the DNS step, with the executor's words.
     */
    public Future<Channel> dial(ChannelHandler tail, StepListener steps) {
      Promise<Channel> result = group.next().newPromise();
      try {
        blocking.execute(() -> resolve(tail, steps, result));
      } catch (RejectedExecutionException e) {
        result.tryFailure(new StepFailure(Step.DNS, "cannot resolve " + dialHost() + " now: "
            + (e.getMessage() != null ? e.getMessage() : "the lookup was refused"), null, e));
      }
      return result;
    }

    /** The host dialed: the proxy's, else the connect-to host, else the URL's. */
    private String dialHost() {
      return proxy != null ? proxy.host : options.connectToHost() != null ? options.connectToHost() : options.host();
    }

    private int dialPort() {
      return proxy != null ? proxy.port : options.connectToHost() != null ? options.connectToPort() : options.port();
    }

    private void resolve(ChannelHandler tail, StepListener steps, Promise<Channel> result) {
      long start = System.nanoTime();
      InetAddress[] addresses;
      try {
        addresses = InetAddress.getAllByName(dialHost());
      } catch (UnknownHostException e) {
        result.tryFailure(new StepFailure(Step.DNS, "cannot resolve " + dialHost()
            + (proxy != null ? " (the host of " + proxy.describe() + ")" : ""), null, e));
        return;
      }
      List<String> shown = new ArrayList<>();
      for (InetAddress a : addresses) {
        shown.add(a.getHostAddress());
      }
      steps.stepDone(Step.DNS, System.nanoTime() - start, dialHost() + " -> " + String.join(", ", shown));
      connect(addresses, 0, new ArrayList<>(), tail, steps, result);
    }

    /** Connects to {@code addresses[index]}; when that fails, to the next, as grpc's {@code pick_first} does. */
    private void connect(InetAddress[] addresses, int index, List<String> failed, ChannelHandler tail,
        StepListener steps, Promise<Channel> result) {
      InetSocketAddress address = new InetSocketAddress(addresses[index], dialPort());
      String where = OptionValues.hostAndPort(address.getAddress().getHostAddress(), address.getPort());
      DialProgressHandler progress = new DialProgressHandler(options, proxy, where, steps, result);
      ChannelHandler handshake = WebSocketClientNegotiator.handshake(options, sslContext, tail, progress, QUIET,
          false);
      ChannelHandler first = proxy != null ? new ProxyConnectStep(handshake, address, proxy,
          options.settings().handshakeTimeout().toMillis(), QUIET) : handshake;
      Bootstrap bootstrap = new Bootstrap()
          .group(group)
          .channel(NioSocketChannel.class)
          .option(ChannelOption.TCP_NODELAY, true)
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) options.settings().handshakeTimeout().toMillis())
          .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(64 * 1024, 256 * 1024))
          .handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              ch.pipeline().addLast(first, progress);
              // What grpc-netty does for a new transport: the setup chain starts with this event.
              ch.pipeline().fireUserEventTriggered(InternalProtocolNegotiationEvent.getDefault());
            }
          });
      InetSocketAddress remote = address;
      if (proxy != null) {
        // The CONNECT names the target, which the proxy resolves.
        bootstrap.resolver(NoopAddressResolverGroup.INSTANCE);
        remote = options.connectToHost() != null
            ? InetSocketAddress.createUnresolved(options.connectToHost(), options.connectToPort())
            : InetSocketAddress.createUnresolved(options.host(), options.port());
      }
      bootstrap.connect(remote).addListener(f -> {
        if (f.isSuccess() || result.isDone()) {
          return;
        }
        String reason = f.cause().getMessage() != null ? f.cause().getMessage() : f.cause().toString();
        // Netty appends the address to the JDK's reason ("Connection refused: /127.0.0.1:1"): once is enough.
        int annotated = reason.lastIndexOf(": /");
        if (annotated > 0) {
          reason = reason.substring(0, annotated);
        }
        failed.add(where + (proxy != null ? " (" + proxy.describe() + ")" : "") + ": " + reason);
        if (index + 1 < addresses.length) {
          connect(addresses, index + 1, failed, tail, steps, result);
          return;
        }
        result.tryFailure(new StepFailure(Step.TCP, "cannot connect to " + String.join("; ", failed),
            addresses.length == 1 ? where : "every address of " + dialHost(), f.cause()));
      });
    }
  }

  private InternalWebSocketClient() {}
}
