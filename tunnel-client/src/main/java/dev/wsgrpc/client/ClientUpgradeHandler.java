package dev.wsgrpc.client;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import dev.wsgrpc.core.internal.FramePipeline;
import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.Http2PrefaceCheck;
import dev.wsgrpc.core.internal.WsgrpcVersion;
import dev.wsgrpc.core.internal.TunnelStatus;
import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.Status;
import io.grpc.internal.GrpcAttributes;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.ProtocolNegotiationEvent;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

/**
 * The upgrade step: sends the RFC 6455 opening handshake, checks the server's answer, installs the frame handlers
 * ({@link FramePipeline}) and removes itself and its HTTP codec, handing the connection to gRPC's HTTP/2 handler.
 * Bytes the server sent right after its 101 reach the frame decoder. The handshake deadline ends at the 101; the
 * server's first bytes in the tunnel then have their own wait ({@link FirstBytesWait}, the ping timeout).
 *
 * <p>Every failure becomes UNAVAILABLE with a description naming the URL and what came back, e.g. {@code "expected
 * HTTP 101 but was 403 Forbidden from wss://host/grpc (Server: nginx)"}.
 */
final class ClientUpgradeHandler extends InternalProtocolNegotiators.ProtocolNegotiationHandler {

  static final String HTTP_CODEC = "wsgrpc-http-codec";
  private static final int MAX_INITIAL_LINE = 4096;
  private static final int MAX_HEADER_SIZE = 16 * 1024;
  private static final int MAX_QUOTED_BODY = 200;

  private final WebSocketClientOptions options;
  private final HandshakeDeadline deadline;
  private final HandshakeProgress progress;
  private final boolean checkServerPreface;
  private String key;
  private String subprotocol;
  private boolean accepted;
  private boolean finished;
  /** A refusal whose plain-text body is being read, to quote it. */
  private String refusal;
  private final StringBuilder refusalBody = new StringBuilder();

  /** The upgrade step of a gRPC channel: the server's first bytes in the tunnel must be HTTP/2's SETTINGS. */
  ClientUpgradeHandler(ChannelHandler next, WebSocketClientOptions options, HandshakeDeadline deadline,
      HandshakeProgress progress, ChannelLogger logger) {
    this(next, options, deadline, progress, logger, true);
  }

  /**
   * @param checkServerPreface whether {@link Http2PrefaceCheck#serverPreface} goes ahead of {@code next}; not for a
   *     raw tunnel, which carries whatever its caller's peers say
   */
  ClientUpgradeHandler(ChannelHandler next, WebSocketClientOptions options, HandshakeDeadline deadline,
      HandshakeProgress progress, ChannelLogger logger, boolean checkServerPreface) {
    super(next, "WebSocketUpgrade", logger);
    this.options = options;
    this.deadline = deadline;
    this.progress = progress;
    this.checkServerPreface = checkServerPreface;
  }

  @Override
  protected void protocolNegotiationEventTriggered(ChannelHandlerContext ctx) {
    deadline.start(ctx.channel(), () -> "waiting for the answer to the upgrade request");
    FullHttpRequest request;
    try {
      request = newRequest();
    } catch (RuntimeException e) {
      fail(ctx, "could not build the upgrade request for " + options.safeUrl() + ": " + e.getMessage(), e);
      return;
    }
    ctx.pipeline().addBefore(ctx.name(), HTTP_CODEC,
        new HttpClientCodec(MAX_INITIAL_LINE, MAX_HEADER_SIZE, MAX_HEADER_SIZE));
    FramePipeline.addFlushConsolidation(ctx.pipeline(), HTTP_CODEC);
    ctx.writeAndFlush(request).addListener(f -> {
      if (!f.isSuccess()) {
        fail(ctx, "could not send the upgrade request to " + options.safeUrl() + ": " + f.cause(), f.cause());
      }
    });
  }

  private FullHttpRequest newRequest() {
    key = Http11Tokens.newKey();
    return ClientHandshake.newRequest(options, key, WsgrpcVersion.userAgent("wsgrpc-java"));
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (finished) {
        return;
      }
      if (refusal != null && msg instanceof HttpContent) {
        collectRefusalBody(ctx, (HttpContent) msg);
        return;
      }
      if (msg instanceof HttpResponse && !accepted && isInterim((HttpResponse) msg)) {
        // RFC 9110 15.2: a client reads past 1xx answers to the final one (a CDN's 103 Early Hints, a 100
        // Continue), as OkHttp does; each has no body, and its end (a LastHttpContent) is passed over below.
        return;
      }
      if (msg instanceof HttpResponse) {
        HttpResponse response = (HttpResponse) msg;
        progress.upgradeAnswered(response);
        String problem = ClientHandshake.check(options, key, response);
        if (problem != null) {
          if (!response.decoderResult().isFailure() && isPlainText(response)
              && !(msg instanceof LastHttpContent)) {
            // A short plain-text body usually says what the refusing hop wanted (our server's always does).
            refusal = problem;
            deadline.start(ctx.channel(), () -> "reading the body of the answer: " + refusal);
            return;
          }
          fail(ctx, problem, response.decoderResult().cause());
          return;
        }
        subprotocol = ClientHandshake.subprotocol(response);
        accepted = true;
      }
      if (accepted && msg instanceof LastHttpContent) {
        complete(ctx);
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  /** An interim answer: 1xx but not the 101 that ends the upgrade, well formed. */
  private static boolean isInterim(HttpResponse response) {
    int code = response.status().code();
    return code >= 100 && code < 200 && code != 101 && !response.decoderResult().isFailure();
  }

  private static boolean isPlainText(HttpResponse response) {
    String type = response.headers().get(HttpHeaderNames.CONTENT_TYPE);
    return type != null && type.toLowerCase(java.util.Locale.ROOT).startsWith("text/plain");
  }

  /** Adds a refusal's body to the failure, up to its first line or {@value #MAX_QUOTED_BODY} characters. */
  private void collectRefusalBody(ChannelHandlerContext ctx, HttpContent content) {
    ByteBuf bytes = content.content();
    boolean lineEnded = false;
    while (bytes.isReadable() && !lineEnded && refusalBody.length() < MAX_QUOTED_BODY) {
      char c = (char) (bytes.readByte() & 0xff);
      if (c == '\n' || c == '\r') {
        lineEnded = refusalBody.length() > 0;
      } else {
        refusalBody.append(c >= 0x20 && c < 0x7f ? c : '?');
      }
    }
    if (lineEnded || refusalBody.length() >= MAX_QUOTED_BODY || content instanceof LastHttpContent) {
      failRefused(ctx);
    }
  }

  private void failRefused(ChannelHandlerContext ctx) {
    String body = refusalBody.toString().trim();
    fail(ctx, body.isEmpty() ? refusal : refusal + "; it said: \"" + body + "\"", null);
  }

  private void complete(ChannelHandlerContext ctx) {
    finished = true;
    deadline.finish();
    ProtocolNegotiationEvent pne = getProtocolNegotiationEvent();
    Attributes attrs = InternalProtocolNegotiationEvent.getAttributes(pne);
    if (attrs.get(GrpcAttributes.ATTR_AUTHORITY_VERIFIER) == null) {
      // ws: plaintext, any authority is fine.
      attrs = attrs.toBuilder().set(GrpcAttributes.ATTR_AUTHORITY_VERIFIER, authority -> Status.OK).build();
      replaceProtocolNegotiationEvent(InternalProtocolNegotiationEvent.withAttributes(pne, attrs));
    }
    // fireProtocolNegotiationEvent replaces this handler with gRPC's, which sends the HTTP/2 preface through the
    // frame handlers.
    FramePipeline.switchToFrames(ctx, HTTP_CODEC, FramePipeline.Role.CLIENT, options.settings(),
        options.safeUrl(), new TunnelEstablishedEvent(options.requestTarget(), subprotocol,
            ctx.channel().remoteAddress(), null), () -> {
          if (checkServerPreface) {
            ctx.pipeline().addBefore(ctx.name(), Http2PrefaceCheck.NAME, Http2PrefaceCheck.serverPreface());
          }
          // After the check where there is one: a server that sent part of a frame header and stopped is waited
          // for no longer than a silent one.
          ctx.pipeline().addBefore(ctx.name(), FirstBytesWait.NAME,
              new FirstBytesWait(options.settings().pingTimeout()));
          fireProtocolNegotiationEvent(ctx);
        });
  }

  private void fail(ChannelHandlerContext ctx, String message, Throwable cause) {
    if (finished) {
      return;
    }
    finished = true;
    deadline.finish();
    ctx.fireExceptionCaught(TunnelStatus.handshakeFailed(message, cause));
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (refusal != null) {
      failRefused(ctx);
    }
    fail(ctx, "connection to " + options.safeUrl() + " closed before the WebSocket upgrade completed", null);
    super.channelInactive(ctx);
  }
}
