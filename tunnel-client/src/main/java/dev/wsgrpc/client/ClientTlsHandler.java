package dev.wsgrpc.client;

import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.TunnelStatus;
import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.Grpc;
import io.grpc.InternalChannelz;
import io.grpc.SecurityLevel;
import io.grpc.Status;
import io.grpc.internal.GrpcAttributes;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.ProtocolNegotiationEvent;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;

/**
 * The TLS step of a wss connection: adds an {@link SslHandler} that verifies the server's certificate against the
 * URL's host (which is also the SNI), waits for the handshake, records the session in the transport attributes and
 * hands over to the upgrade step. Unlike grpc's own TLS step it accepts a server that selects no ALPN protocol.
 */
final class ClientTlsHandler extends InternalProtocolNegotiators.ProtocolNegotiationHandler {

  private final SslContext sslContext;
  private final WebSocketClientOptions options;
  private final HandshakeDeadline deadline;
  private final HandshakeProgress progress;

  ClientTlsHandler(ChannelHandler next, SslContext sslContext, WebSocketClientOptions options,
      HandshakeDeadline deadline, HandshakeProgress progress, ChannelLogger logger) {
    super(next, "WebSocketTls", logger);
    this.sslContext = sslContext;
    this.options = options;
    this.deadline = deadline;
    this.progress = progress;
  }

  @Override
  protected void protocolNegotiationEventTriggered(ChannelHandlerContext ctx) {
    deadline.start(ctx.channel(), () -> "waiting for the TLS handshake");
    SSLEngine engine = sslContext.newEngine(ctx.alloc(), options.host(), options.port());
    SSLParameters params = engine.getSSLParameters();
    params.setEndpointIdentificationAlgorithm("HTTPS");
    engine.setSSLParameters(params);
    SslHandler tls = new SslHandler(engine);
    // The handshake deadline above bounds TLS and the upgrade together (handshakeTimeout); Netty's own 10 s would
    // cut a longer one short, in Netty's words.
    tls.setHandshakeTimeoutMillis(0);
    ctx.pipeline().addBefore(ctx.name(), "wsgrpc-tls", tls);
  }

  @Override
  protected void userEventTriggered0(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (!(evt instanceof SslHandshakeCompletionEvent)) {
      super.userEventTriggered0(ctx, evt);
      return;
    }
    SslHandshakeCompletionEvent done = (SslHandshakeCompletionEvent) evt;
    if (!done.isSuccess()) {
      deadline.finish();
      Throwable cause = done.cause();
      ctx.fireExceptionCaught(TunnelStatus.handshakeFailed("TLS handshake with " + options.safeUrl() + " failed: "
          + reason(cause), cause));
      return;
    }
    SslHandler ssl = ctx.pipeline().get(SslHandler.class);
    progress.tlsDone(ssl);
    SSLSession session = ssl.engine().getSession();
    ProtocolNegotiationEvent pne = getProtocolNegotiationEvent();
    Attributes attrs = InternalProtocolNegotiationEvent.getAttributes(pne).toBuilder()
        .set(GrpcAttributes.ATTR_SECURITY_LEVEL, SecurityLevel.PRIVACY_AND_INTEGRITY)
        .set(Grpc.TRANSPORT_ATTR_SSL_SESSION, session)
        .set(GrpcAttributes.ATTR_AUTHORITY_VERIFIER, authority -> authorityMatches(authority)
            ? Status.OK
            : Status.UNAVAILABLE.withDescription("authority " + authority + " differs from the wss URL's host "
                + options.host() + "; per-call authority overrides are not supported over wss"))
        .build();
    pne = InternalProtocolNegotiationEvent.withAttributes(pne, attrs);
    pne = InternalProtocolNegotiationEvent.withSecurity(pne,
        new InternalChannelz.Security(new InternalChannelz.Tls(session)));
    replaceProtocolNegotiationEvent(pne);
    fireProtocolNegotiationEvent(ctx);
  }

  /**
   * The TLS stack's reason, except for a close (whose reason would be Netty's class name) and for an answer that is
   * not TLS at all, whose reason would be a hex dump of it:
   * {@code expected a TLS record but the server answered in plain text: "HTTP/1.1 400 Bad Request" (a ws:// port?)},
   * quoting the answer's first line (at most 64 characters, as the other texts quoted from a server) when it is text.
   */
  static String reason(Throwable cause) {
    if (cause instanceof ClosedChannelException) {
      // Netty's words for a close during the handshake are its class's name, "StacklessClosedChannelException".
      return "the connection was closed before it completed";
    }
    if (!(cause instanceof NotSslRecordException)) {
      return cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
    }
    // Netty's text: "not an SSL/TLS record: " and the hex of the bytes received.
    String message = String.valueOf(cause.getMessage());
    String hex = message.substring(message.lastIndexOf(' ') + 1);
    String firstLine = "";
    if (hex.matches("([0-9a-fA-F]{2})+")) {
      String text = new String(ByteBufUtil.decodeHexDump(hex), StandardCharsets.ISO_8859_1);
      firstLine = text.split("[\\r\\n]", 2)[0];
    }
    if (firstLine.isEmpty() || !firstLine.equals(Http11Tokens.printable(firstLine, firstLine.length()))) {
      return "expected a TLS record but the server's answer was not TLS";
    }
    return "expected a TLS record but the server answered in plain text: \"" + Http11Tokens.printable(firstLine, 64)
        + "\" (a ws:// port?)";
  }

  private boolean authorityMatches(String authority) {
    int colon = authority.lastIndexOf(':');
    String host = colon > authority.lastIndexOf(']') && colon >= 0 ? authority.substring(0, colon) : authority;
    return host.equalsIgnoreCase(options.host());
  }
}
