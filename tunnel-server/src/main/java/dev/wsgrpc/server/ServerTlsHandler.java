package dev.wsgrpc.server;

import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.Grpc;
import io.grpc.InternalChannelz;
import io.grpc.SecurityLevel;
import io.grpc.internal.GrpcAttributes;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.ProtocolNegotiationEvent;
import dev.wsgrpc.core.internal.RateLimitedLog;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS step of a wss connection: runs the handshake within the handshake timeout, records the session, hands over
 * to the upgrade step. A failed or timed-out handshake closes the connection, is counted through the
 * {@link TunnelListener} ({@link RejectReason#TLS}) and logged in one rate-limited line
 * without a stack trace; one of a connection past {@link AccessPolicy#maxHandshakesPerClient()} is that limit's.
 */
final class ServerTlsHandler extends InternalProtocolNegotiators.ProtocolNegotiationHandler {

  private static final Logger logger = LoggerFactory.getLogger(ServerTlsHandler.class);

  /** Failed handshakes are the peer's doing (scanners, plain HTTP, clients that distrust us): a few lines, then counts. */
  private static final RateLimitedLog FAILED = new RateLimitedLog(logger, RateLimitedLog.Level.INFO);

  private final WebSocketServerOptions options;
  private boolean failed;

  ServerTlsHandler(ChannelHandler next, WebSocketServerOptions options, ChannelLogger channelLogger) {
    super(next, "WebSocketServerTls", channelLogger);
    this.options = options;
  }

  /**
   * The TLS handler for a new connection, from the current certificate (asked per connection, so that a rotated
   * certificate applies to new connections without a restart), that gives up after the handshake timeout instead of
   * Netty's fixed 10 s.
   */
  static SslHandler newSslHandler(WebSocketServerOptions options, ByteBufAllocator alloc) {
    SslHandler handler = options.sslContext().get().newHandler(alloc);
    handler.setHandshakeTimeoutMillis(options.settings().handshakeTimeout().toMillis());
    return handler;
  }

  /** Counts, logs (rate-limited, one line) and closes a connection whose TLS handshake failed or timed out. */
  static void handshakeFailed(ChannelHandlerContext ctx, WebSocketServerOptions options, Throwable cause) {
    if (TunnelCounter.pastHandshakeLimit(ctx.channel())) {
      ctx.close(); // cut by that limit, which reports it
      return;
    }
    FAILED.log("TLS handshake with {} failed: {}", ctx.channel().remoteAddress(), cause);
    options.listener().upgradeRejected(ctx.channel().remoteAddress(), 0, RejectReason.TLS);
    ctx.close();
  }

  @Override
  protected void protocolNegotiationEventTriggered(ChannelHandlerContext ctx) {
    ctx.pipeline().addBefore(ctx.name(), "wsgrpc-tls", newSslHandler(options, ctx.alloc()));
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
    if (failed) {
      return; // the handshake's own failure, already reported; it must not reach gRPC's transport log
    }
    super.exceptionCaught(ctx, cause);
  }

  @Override
  protected void userEventTriggered0(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (!(evt instanceof SslHandshakeCompletionEvent)) {
      super.userEventTriggered0(ctx, evt);
      return;
    }
    SslHandshakeCompletionEvent done = (SslHandshakeCompletionEvent) evt;
    if (!done.isSuccess()) {
      failed = true;
      handshakeFailed(ctx, options, done.cause());
      return;
    }
    SSLSession session = ctx.pipeline().get(SslHandler.class).engine().getSession();
    ProtocolNegotiationEvent pne = getProtocolNegotiationEvent();
    Attributes attrs = InternalProtocolNegotiationEvent.getAttributes(pne).toBuilder()
        .set(GrpcAttributes.ATTR_SECURITY_LEVEL, SecurityLevel.PRIVACY_AND_INTEGRITY)
        .set(Grpc.TRANSPORT_ATTR_SSL_SESSION, session)
        .build();
    pne = InternalProtocolNegotiationEvent.withAttributes(pne, attrs);
    pne = InternalProtocolNegotiationEvent.withSecurity(pne,
        new InternalChannelz.Security(new InternalChannelz.Tls(session)));
    replaceProtocolNegotiationEvent(pne);
    fireProtocolNegotiationEvent(ctx);
  }
}
