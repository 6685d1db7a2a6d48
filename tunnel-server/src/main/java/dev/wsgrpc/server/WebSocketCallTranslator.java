package dev.wsgrpc.server;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import io.grpc.Status;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * What the browser protocols with one WebSocket per call ({@code grpc-websockets}, {@code wsgrpc-json}) share: the
 * first message must come within a deadline and carries the credentials, the call is admitted and opened toward gRPC
 * once it came, a client that breaks the protocol has its call cancelled, and every end (a refusal, a reset, the
 * connection to gRPC ending) reaches the client as a status through {@link #refuse}.
 */
abstract class WebSocketCallTranslator extends BridgedCallTranslator {

  /** Decides on the call once its headers are known: the authenticator's answer, or null when there is none. */
  interface Admission {
    AuthDecision admit(HttpHeaders firstMessageHeaders);
  }

  final String path;
  private final String scheme;
  private final String authority;
  private final SocketAddress clientAddress;
  final long firstMessageTimeoutMillis;
  /**
   * Asks the authenticator about the first message; null once asked. Through it the upgrade's handler, with every
   * header of the upgrade request, stays reachable: some 25 times the request's bytes as objects (16 KB of empty
   * header lines held 390 KB), which a call would otherwise hold for as long as it lasts.
   */
  private Admission admission;
  private ScheduledFuture<?> firstMessageTimeout;
  /** Who the authenticator said the caller is, once admitted; null without one. */
  private Object principal;
  /** Whether the exchange ended (the status was sent). */
  boolean ended;

  WebSocketCallTranslator(String path, String scheme, String authority, SocketAddress clientAddress,
      long firstMessageTimeoutMillis, Admission admission) {
    this.path = path;
    this.scheme = scheme;
    this.authority = authority;
    this.clientAddress = clientAddress;
    this.firstMessageTimeoutMillis = firstMessageTimeoutMillis;
    this.admission = admission;
  }

  /** Whether the authenticator has yet to be asked (and the upgrade's headers are still held for it). */
  final boolean admissionPending() {
    return admission != null;
  }

  /** The subprotocol, as the call's {@link TunnelEstablishedEvent} names it. */
  abstract String subprotocol();

  /** What the first message is, for the timeout's status: e.g. "the request headers as the first message". */
  abstract String firstMessage();

  /** Ends the exchange with {@code status} (before or instead of gRPC's answer); nothing once it ended. */
  abstract void refuse(Status status);

  /** Releases what the subclass holds; called once the handler is removed or the connection ended. */
  abstract void releaseBuffers();

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    super.handlerAdded(ctx);
    firstMessageTimeout = ctx.executor().schedule(() -> refuse(Status.DEADLINE_EXCEEDED.withDescription(
        "expected " + firstMessage() + " within " + firstMessageTimeoutMillis + " ms")),
        firstMessageTimeoutMillis, TimeUnit.MILLISECONDS);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    release();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    // gRPC (if it took over) learns of the end of the connection first: the call is cancelled.
    ctx.fireChannelInactive();
    release();
  }

  private void release() {
    if (firstMessageTimeout != null) {
      firstMessageTimeout.cancel(false);
    }
    releaseBuffers();
    if (bridge != null) {
      bridge.close();
    }
  }

  /**
   * The first message arrived with {@code metadata}: admits the call and opens it toward gRPC; false (the client
   * was told why) when it was refused.
   */
  final boolean startCall(HttpHeaders metadata, String grpcContentType) {
    return admit(metadata) && openCall(metadata, grpcContentType);
  }

  /**
   * The first message arrived with {@code metadata}: asks the authenticator; false (the client was told why) when it
   * refused. The call is then opened with {@link #openCall}.
   */
  final boolean admit(HttpHeaders metadata) {
    firstMessageTimeout.cancel(false);
    AuthDecision decision = admission.admit(metadata);
    admission = null;
    if (decision != null && !decision.accepted()) {
      refuse(BrowserCalls.statusForHttp(decision.status(), decision.reason()));
      return false;
    }
    principal = decision == null ? null : decision.principal();
    return true;
  }

  /** Opens the admitted call toward gRPC, which takes over behind this handler; false when that failed. */
  final boolean openCall(HttpHeaders metadata, String grpcContentType) {
    ctx.fireUserEventTriggered(new TunnelEstablishedEvent(path, subprotocol(), clientAddress, principal));
    bridge.start();
    try {
      streamId = openStream(BrowserCalls.requestHeaders(path, scheme, authority, grpcContentType, metadata));
    } catch (Http2Exception e) {
      refuse(statusOfOpenFailure(e));
      return false;
    }
    return true;
  }

  /**
   * After the status: sends Close 1000, then closes the connection as {@link LingeringClose} does once the client
   * stops sending: closing at once with unread input makes the kernel answer with a reset, and a browser that gets a
   * reset may drop the status and the Close it had already received (it reports 1006).
   */
  final void closeAfterStatus() {
    LingeringClose.closeAfter(ctx, ctx.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.NORMAL_CLOSURE)),
        true);
  }

  /**
   * The call must end (the client broke the protocol, its bearer token was revoked): the call toward gRPC (if
   * started) is cancelled and the client told why.
   */
  final void fail(Status status) {
    if (streamId != -1) {
      bridge.cancel(streamId);
    }
    refuse(status);
  }

  @Override
  public void onReset(int id, Http2Error error) {
    if (id == streamId) {
      refuse(statusForReset(error));
    }
  }

  @Override
  public void onGoAway() {}

  @Override
  public void onClosed() {
    refuse(Status.UNAVAILABLE.withDescription("the server closed the connection"));
  }
}
