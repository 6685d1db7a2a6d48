package dev.wsgrpc.cli;

import dev.wsgrpc.client.InternalWebSocketClient;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.internal.FramePipeline;
import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.WsgrpcVersion;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.proxy.HttpProxyHandler;
import io.netty.handler.proxy.ProxyConnectException;
import io.netty.handler.proxy.ProxyConnectionEvent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.resolver.NoopAddressResolverGroup;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;

/**
 * Opens a raw tunnel, without gRPC: DNS, TCP, an HTTP CONNECT proxy if one applies, TLS for wss, the upgrade; then
 * the frame handlers carry bytes. Each step is reported with its duration, so {@code probe} can print them and
 * {@code forward} can relay bytes over the result. Decides TLS and proxies exactly as the library's channels do.
 */
final class TunnelDialer {

  /** The steps of opening a tunnel, as {@code probe} names them. */
  enum Step {
    DNS("dns"), TCP("tcp"), PROXY("proxy"), TLS("tls"), UPGRADE("upgrade");

    final String label;

    Step(String label) {
      this.label = label;
    }
  }

  /** Hears about each finished step. Called on the dialing thread (dns) or the channel's event loop. */
  interface Steps {
    void done(Step step, long nanos, String detail);
  }

  /** A step failed: what happened and which hop said so. */
  static final class StepFailure extends IOException {
    private static final long serialVersionUID = 1L;
    final Step step;
    final String hop;

    StepFailure(Step step, String message, String hop, Throwable cause) {
      super(message, cause);
      this.step = step;
      this.hop = hop;
    }

    /** {@code "upgrade: expected HTTP 101 but was ... [hop: nginx/1.22.1 at 127.0.0.1:8080]"}. */
    String oneLine() {
      return step.label + ": " + getMessage() + (hop != null ? " [hop: " + hop + "]" : "");
    }
  }

  private static final String HTTP_CODEC = "cli-http-codec";
  private static final String STEPS = "cli-steps";

  private final WebSocketClientOptions options;
  private final EventLoopGroup group;
  private final Executor blocking;
  private final SslContext sslContext;
  private final InternalWebSocketClient.Proxy proxy;
  private final String url;

  /**
   * A dialer for {@code options} whose channels run on {@code group}; DNS lookups run on {@code blocking}.
   *
   * @throws IOException when the standard settings name a proxy that cannot be used
   */
  TunnelDialer(WebSocketClientOptions options, EventLoopGroup group, Executor blocking) throws IOException {
    this.options = options;
    this.group = group;
    this.blocking = blocking;
    this.sslContext = options.isSecure() ? InternalWebSocketClient.sslContext(options) : null;
    this.proxy = InternalWebSocketClient.proxyFor(options);
    this.url = InternalWebSocketClient.safeUrl(options);
  }

  InternalWebSocketClient.Proxy proxy() {
    return proxy;
  }

  /** The host dialed: the proxy's, else the connect-to host, else the URL's. */
  private String dialHost() {
    return proxy != null ? proxy.host() : options.connectToHost() != null ? options.connectToHost() : options.host();
  }

  private int dialPort() {
    return proxy != null ? proxy.port() : options.connectToHost() != null ? options.connectToPort() : options.port();
  }

  /** The target of CONNECT: the connect-to address, else the URL's. */
  private InetSocketAddress target() {
    return options.connectToHost() != null
        ? InetSocketAddress.createUnresolved(options.connectToHost(), options.connectToPort())
        : InetSocketAddress.createUnresolved(options.host(), options.port());
  }

  /**
   * Opens a tunnel whose byte stream reaches {@code tail}, the last handler of the new channel. The promise
   * completes with the channel once the upgrade is done, or fails with a {@link StepFailure}.
   */
  Promise<Channel> dial(ChannelHandler tail, Steps steps) {
    Promise<Channel> result = group.next().newPromise();
    blocking.execute(() -> {
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
      steps.done(Step.DNS, System.nanoTime() - start, dialHost() + " -> " + String.join(", ", shown));
      connect(new InetSocketAddress(addresses[0], dialPort()), tail, steps, result);
    });
    return result;
  }

  private void connect(InetSocketAddress address, ChannelHandler tail, Steps steps, Promise<Channel> result) {
    Bootstrap bootstrap = new Bootstrap()
        .group(group)
        .channel(NioSocketChannel.class)
        .option(ChannelOption.TCP_NODELAY, true)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) options.settings().handshakeTimeout().toMillis())
        .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(64 * 1024, 256 * 1024))
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            if (proxy != null) {
              HttpProxyHandler connect = proxy.username() != null
                  ? new HttpProxyHandler(address, proxy.username(), proxy.password())
                  : new HttpProxyHandler(address);
              connect.setConnectTimeoutMillis(options.settings().handshakeTimeout().toMillis());
              ch.pipeline().addLast("cli-proxy", connect);
            }
            ch.pipeline().addLast(STEPS, new StepHandler(address, steps, result));
            ch.pipeline().addLast(tail);
          }
        });
    SocketAddress remote = address;
    if (proxy != null) {
      // The proxy handler connects to the proxy and asks it for the target, which the proxy resolves.
      bootstrap.resolver(NoopAddressResolverGroup.INSTANCE);
      remote = target();
    }
    ChannelFuture connected = bootstrap.connect(remote);
    connected.addListener(f -> {
      if (!f.isSuccess() && !result.isDone()) {
        String where = address.getAddress().getHostAddress() + ":" + address.getPort();
        String reason = f.cause().getMessage() != null ? f.cause().getMessage() : f.cause().toString();
        // Netty appends the address to the JDK's reason ("Connection refused: /127.0.0.1:1"): once is enough.
        int annotated = reason.lastIndexOf(": /");
        if (annotated > 0) {
          reason = reason.substring(0, annotated);
        }
        result.tryFailure(new StepFailure(Step.TCP, "cannot connect to " + where
            + (proxy != null ? " (" + proxy.describe() + ")" : "") + ": " + reason, where, f.cause()));
      }
    });
  }

  /** Runs TCP -> [proxy] -> [TLS] -> upgrade in order, then installs the frame handlers and removes itself. */
  private final class StepHandler extends ChannelInboundHandlerAdapter {
    private final InetSocketAddress address;
    private final Steps steps;
    private final Promise<Channel> result;
    private final long start = System.nanoTime();
    private long stepStart;
    private Step current = Step.TCP;
    private ScheduledFuture<?> deadline;
    private String key;
    private HttpResponse response;
    private String server;

    StepHandler(InetSocketAddress address, Steps steps, Promise<Channel> result) {
      this.address = address;
      this.steps = steps;
      this.result = result;
    }

    private String peer() {
      return address.getAddress().getHostAddress() + ":" + address.getPort();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      stepStart = start;
      deadline = ctx.executor().schedule(() -> fail(ctx, current, "no progress within "
          + options.settings().handshakeTimeout().toMillis() + " ms (waiting for " + current.label + ")", hop(), null),
          options.settings().handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }

    private String hop() {
      switch (current) {
        case PROXY:
          return proxy.describe();
        case UPGRADE:
          return server != null ? server + " at " + peer() : peer();
        default:
          return peer() + (proxy != null ? " (via " + proxy.describe() + ")" : "");
      }
    }

    private void finish(Step step, String detail) {
      long now = System.nanoTime();
      steps.done(step, now - stepStart, detail);
      stepStart = now;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      finish(Step.TCP, "connected to " + peer() + (proxy != null ? " (" + proxy.describe() + ")" : ""));
      if (proxy != null) {
        current = Step.PROXY;
      } else {
        afterConnect(ctx);
      }
      ctx.fireChannelActive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof ProxyConnectionEvent) {
        finish(Step.PROXY, "CONNECT " + hostPort(target()) + " through " + proxy.describe() + ": established");
        afterConnect(ctx);
        return;
      }
      if (evt instanceof SslHandshakeCompletionEvent) {
        SslHandshakeCompletionEvent done = (SslHandshakeCompletionEvent) evt;
        if (!done.isSuccess()) {
          Throwable cause = done.cause();
          fail(ctx, Step.TLS, "TLS handshake with " + url + " failed: "
              + (cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName()), hop(), cause);
          return;
        }
        SslHandler ssl = ctx.pipeline().get(SslHandler.class);
        finish(Step.TLS, describe(ssl.engine().getSession(), ssl.applicationProtocol()));
        startUpgrade(ctx);
        return;
      }
      ctx.fireUserEventTriggered(evt);
    }

    private void afterConnect(ChannelHandlerContext ctx) {
      if (sslContext != null) {
        current = Step.TLS;
        SSLEngine engine = sslContext.newEngine(ctx.alloc(), options.host(), options.port());
        SSLParameters params = engine.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        engine.setSSLParameters(params);
        ctx.pipeline().addBefore(ctx.name(), "cli-tls", new SslHandler(engine));
      } else {
        startUpgrade(ctx);
      }
    }

    private void startUpgrade(ChannelHandlerContext ctx) {
      current = Step.UPGRADE;
      ctx.pipeline().addBefore(ctx.name(), HTTP_CODEC, new HttpClientCodec());
      key = Http11Tokens.newKey();
      ctx.writeAndFlush(InternalWebSocketClient.newUpgradeRequest(options, key, WsgrpcVersion.userAgent("wsgrpc-cli")));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (result.isDone()) {
        ReferenceCountUtil.release(msg);
        return;
      }
      try {
        if (msg instanceof HttpResponse) {
          response = (HttpResponse) msg;
          server = response.headers().get(HttpHeaderNames.SERVER);
          String problem = InternalWebSocketClient.checkUpgradeResponse(options, key, response);
          if (problem != null) {
            fail(ctx, Step.UPGRADE, problem, hop(), null);
            return;
          }
        }
        if (response != null && msg instanceof LastHttpContent) {
          complete(ctx);
        } else if (!(msg instanceof HttpResponse) && !(msg instanceof HttpContent)) {
          fail(ctx, current, "unexpected " + msg.getClass().getSimpleName() + " before the upgrade", hop(), null);
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    private void complete(ChannelHandlerContext ctx) {
      String subprotocol = InternalWebSocketClient.upgradeSubprotocol(response);
      deadline.cancel(false);
      ChannelPipeline pipeline = ctx.pipeline();
      FramePipeline.switchToFrames(ctx, HTTP_CODEC, FramePipeline.Role.CLIENT, options.settings(), url, null, () -> {
        finish(Step.UPGRADE, response.status() + ", subprotocol " + (subprotocol != null ? subprotocol : "none")
            + (server != null ? ", Server: " + server : ""));
        pipeline.remove(this);
        result.trySuccess(ctx.channel());
      });
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (cause instanceof ProxyConnectException) {
        fail(ctx, Step.PROXY, proxyFailure((ProxyConnectException) cause), hop(), cause);
        return;
      }
      String reason = cause.getMessage() != null ? cause.getMessage() : cause.toString();
      if (current == Step.TLS) {
        reason = "TLS handshake with " + url + " failed: " + reason;
      }
      fail(ctx, current, reason, hop(), cause);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      fail(ctx, current, "the connection was closed" + (current == Step.UPGRADE
          ? " before the answer to the upgrade request" : ""), hop(), null);
      ctx.fireChannelInactive();
    }

    private void fail(ChannelHandlerContext ctx, Step step, String message, String hop, Throwable cause) {
      if (deadline != null) {
        deadline.cancel(false);
      }
      if (result.tryFailure(new StepFailure(step, message, hop, cause))) {
        ctx.close();
      }
    }

    private String proxyFailure(ProxyConnectException e) {
      String message = e.getMessage() == null ? "" : e.getMessage();
      int status = message.indexOf("status: ");
      String proxyServer = e instanceof HttpProxyHandler.HttpProxyConnectException
          && ((HttpProxyHandler.HttpProxyConnectException) e).headers() != null
          ? ((HttpProxyHandler.HttpProxyConnectException) e).headers().get(HttpHeaderNames.SERVER) : null;
      if (status >= 0) {
        return proxy.describe() + " answered CONNECT " + hostPort(target()) + " with "
            + message.substring(status + "status: ".length()) + (proxyServer != null ? " (Server: " + proxyServer
            + ")" : "");
      }
      return proxy.describe() + " failed CONNECT " + hostPort(target()) + ": " + message;
    }
  }

  private static String hostPort(InetSocketAddress a) {
    return a.getHostString() + ":" + a.getPort();
  }

  /** {@code "TLSv1.3, TLS_AES_128_GCM_SHA256, ALPN http/1.1, certificate CN=localhost (issued by ...)"}. */
  private static String describe(SSLSession session, String alpn) {
    StringBuilder b = new StringBuilder(session.getProtocol()).append(", ").append(session.getCipherSuite())
        .append(", ALPN ").append(alpn != null ? alpn : "none");
    try {
      Certificate[] chain = session.getPeerCertificates();
      if (chain.length > 0 && chain[0] instanceof X509Certificate) {
        X509Certificate leaf = (X509Certificate) chain[0];
        b.append(", certificate ").append(leaf.getSubjectX500Principal().getName())
            .append(" (issued by ").append(leaf.getIssuerX500Principal().getName())
            .append(", valid until ").append(leaf.getNotAfter().toInstant().atOffset(ZoneOffset.UTC).toLocalDate())
            .append(")");
      }
    } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
      b.append(", no peer certificate");
    }
    return b.toString();
  }
}
