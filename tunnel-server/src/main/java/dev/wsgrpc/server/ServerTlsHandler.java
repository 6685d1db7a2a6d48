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
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import java.util.function.Supplier;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The TLS step of a wss connection: runs the handshake, records the session, hands over to the upgrade step. */
final class ServerTlsHandler extends InternalProtocolNegotiators.ProtocolNegotiationHandler {

  private static final Logger logger = LoggerFactory.getLogger(ServerTlsHandler.class);

  private final Supplier<SslContext> sslContext;

  ServerTlsHandler(ChannelHandler next, Supplier<SslContext> sslContext, ChannelLogger channelLogger) {
    super(next, "WebSocketServerTls", channelLogger);
    this.sslContext = sslContext;
  }

  @Override
  protected void protocolNegotiationEventTriggered(ChannelHandlerContext ctx) {
    // Asked per connection, so that a rotated certificate applies to new connections without a restart.
    ctx.pipeline().addBefore(ctx.name(), "wsgrpc-tls", sslContext.get().newHandler(ctx.alloc()));
  }

  @Override
  protected void userEventTriggered0(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (!(evt instanceof SslHandshakeCompletionEvent)) {
      super.userEventTriggered0(ctx, evt);
      return;
    }
    SslHandshakeCompletionEvent done = (SslHandshakeCompletionEvent) evt;
    if (!done.isSuccess()) {
      logger.debug("TLS handshake with {} failed: {}", ctx.channel().remoteAddress(), done.cause().toString());
      ctx.close();
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
