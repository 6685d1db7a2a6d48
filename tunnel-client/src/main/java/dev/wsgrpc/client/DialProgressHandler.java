package dev.wsgrpc.client;

import dev.wsgrpc.client.InternalWebSocketClient.Step;
import dev.wsgrpc.client.InternalWebSocketClient.StepFailure;
import dev.wsgrpc.client.InternalWebSocketClient.StepListener;
import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.OptionValues;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.ProtocolNegotiationEvent;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.proxy.ProxyConnectException;
import io.netty.handler.proxy.ProxyConnectionEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Promise;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.ZoneOffset;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The last handler of a {@link InternalWebSocketClient.Dialer}'s connection while the handshake runs: it times each
 * step (TCP from {@code channelActive}, the proxy from Netty's {@link ProxyConnectionEvent}, TLS and the upgrade
 * from {@link HandshakeProgress}), turns the first failure that reaches it (in the library's words) into a
 * {@link StepFailure} naming the hop, and completes the dial when grpc's negotiation event says the connection
 * carries frames; then it removes itself.
 */
final class DialProgressHandler extends ChannelInboundHandlerAdapter implements HandshakeProgress {

  private final WebSocketClientOptions options;
  private final WebSocketProxyDetector.Choice proxy;
  private final String peer;
  private final StepListener steps;
  private final Promise<Channel> result;
  private long stepStart = System.nanoTime();
  private Step current = Step.TCP;
  private HttpResponse answer;

  DialProgressHandler(WebSocketClientOptions options, WebSocketProxyDetector.Choice proxy, String peer,
      StepListener steps, Promise<Channel> result) {
    this.options = options;
    this.proxy = proxy;
    this.peer = peer;
    this.steps = steps;
    this.result = result;
  }

  private void finish(Step step, String detail, Step next) {
    long now = System.nanoTime();
    current = next;
    steps.stepDone(step, now - stepStart, detail);
    stepStart = now;
  }

  private Step afterConnect() {
    return options.isSecure() ? Step.TLS : Step.UPGRADE;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    finish(Step.TCP, "connected to " + peer + (proxy != null ? " (" + proxy.describe() + ")" : ""),
        proxy != null ? Step.PROXY : afterConnect());
    ctx.fireChannelActive();
  }

  @Override
  public void tlsDone(SslHandler ssl) {
    finish(Step.TLS, describe(ssl.engine().getSession(), ssl.applicationProtocol()), Step.UPGRADE);
  }

  @Override
  public void upgradeAnswered(HttpResponse answer) {
    this.answer = answer;
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof ProxyConnectionEvent) {
      finish(Step.PROXY, "CONNECT " + target() + " through " + proxy.describe() + ": established", afterConnect());
      return;
    }
    if (evt instanceof ProtocolNegotiationEvent) {
      // The upgrade step handed over: the frame handlers and the caller's handler are in place.
      String server = ClientHandshake.shownServer(answer.headers());
      String subprotocol = ClientHandshake.subprotocol(answer);
      finish(Step.UPGRADE, ClientHandshake.shownStatus(answer) + ", subprotocol "
          + (subprotocol != null ? Http11Tokens.shownSubprotocol(subprotocol) : "none")
          + (server != null ? ", Server: " + server : ""), null);
      ctx.pipeline().remove(this);
      if (!result.trySuccess(ctx.channel())) {
        ctx.close(); // the dial ended meanwhile (its deadline): a tunnel nobody would own
      }
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof ProxyConnectException) {
      fail(ctx, Step.PROXY, ConnectErrorInterceptor.describeProxyFailure((ProxyConnectException) cause, proxy),
          cause);
    } else if (cause instanceof StatusRuntimeException) {
      // The TLS and upgrade steps and their deadline fail with the status channels would report.
      Status status = ((StatusRuntimeException) cause).getStatus();
      fail(ctx, current, status.getDescription(), status.getCause());
    } else {
      fail(ctx, current, cause.getMessage() != null ? cause.getMessage() : cause.toString(), cause);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    fail(ctx, current, "the connection was closed during the " + current.label() + " step", null);
    ctx.fireChannelInactive();
  }

  private void fail(ChannelHandlerContext ctx, Step step, String message, Throwable cause) {
    result.tryFailure(new StepFailure(step, message, hop(step), cause));
    ctx.close(); // failed here or ended before: either way this connection is no one's
  }

  /** Who failed or answered: the proxy, the upgrade's {@code Server} at the address, or the address. */
  private String hop(Step step) {
    if (step == Step.PROXY) {
      return proxy.describe();
    }
    String server = step == Step.UPGRADE && answer != null ? ClientHandshake.shownServer(answer.headers()) : null;
    if (server != null) {
      return server + " at " + peer;
    }
    return peer + (proxy != null && step != Step.UPGRADE ? " (via " + proxy.describe() + ")" : "");
  }

  /** The target of the CONNECT: the connect-to address, else the URL's. */
  private String target() {
    return options.connectToHost() != null
        ? OptionValues.hostAndPort(options.connectToHost(), options.connectToPort())
        : OptionValues.hostAndPort(options.host(), options.port());
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
    } catch (SSLPeerUnverifiedException e) {
      b.append(", no peer certificate");
    }
    return b.toString();
  }
}
