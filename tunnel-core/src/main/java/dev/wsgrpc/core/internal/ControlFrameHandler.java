package dev.wsgrpc.core.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns a tunnel's WebSocket control traffic and its end: answers pings, drops pongs, runs the close handshake,
 * and is the one path for protocol errors.
 *
 * <ul>
 *   <li>A received Close is echoed with the same code and the connection closed; gRPC sees
 *       {@link TunnelStatus#closedByPeer} (in-flight RPCs fail, the channel reconnects).</li>
 *   <li>A protocol error (a corrupt frame from the decoder, a text frame, an invalid close frame) sends Close with
 *       the matching code, then closes; gRPC sees {@link TunnelStatus#closedHere}.</li>
 *   <li>A peer that stays silent after a Ping ({@link KeepaliveHandler}), or a server after its 101 (the Netty
 *       client's wait for its first bytes), gets Close 1001 and the same treatment as a protocol error: gRPC sees
 *       UNAVAILABLE.</li>
 *   <li>When gRPC closes the channel, a Close with this side's normal code goes out first, so the peer can tell a
 *       clean end from a cut; unless the HTTP/2 connection inside ended in an error ({@link #http2Error}), which
 *       the Close then names like a protocol error. Once a Close is sent, outbound data is dropped and inbound data
 *       ignored.</li>
 * </ul>
 */
public final class ControlFrameHandler extends ChannelDuplexHandler {

  private static final Logger logger = LoggerFactory.getLogger(ControlFrameHandler.class);
  /** Peers decide how often these happen: a few lines, then counts (the metrics count every close). */
  private static final RateLimitedLog TOO_BIG = new RateLimitedLog(logger, RateLimitedLog.Level.INFO);
  private static final RateLimitedLog SILENT = new RateLimitedLog(logger, RateLimitedLog.Level.INFO);

  /** The close code of a close handshake this side began, for logs and metrics (unset otherwise). */
  public static final AttributeKey<Integer> CLOSE_SENT = AttributeKey.valueOf("wsgrpc.closeSent");
  /** The close code of a close handshake the peer began, -1 for a Close without a code (unset otherwise). */
  public static final AttributeKey<Integer> CLOSE_RECEIVED = AttributeKey.valueOf("wsgrpc.closeReceived");
  /**
   * How long what is queued ahead of a sent Close, and the Close, may go without any of it leaving before the
   * connection is cut anyway: a peer that has stopped reading. One still reading, however slowly, gets it all (in
   * relay mode, a tunnel's Close follows what the upstream sent last, often a stream's end and gRPC's trailers).
   */
  static final long CLOSE_FLUSH_TIMEOUT_MILLIS = FlushThenClose.TIMEOUT_MILLIS;
  /**
   * After a Close sent for a protocol error (an oversized frame, most often), how long the connection stays open,
   * discarding what arrives, for the peer to read the Close and hang up first. Closing a socket with unread input
   * sends a TCP reset, which can destroy the Close in the peer's receive buffer: the peer would see "connection
   * reset" instead of 1009.
   */
  static final long ERROR_LINGER_MILLIS = 2_000;
  /** The largest reason text that fits in a close frame (125 bytes minus the two-byte code). */
  private static final int MAX_REASON_BYTES = 123;
  /** HTTP/2's error codes by value (RFC 9113 section 7); this module has no HTTP/2 codec to take them from. */
  private static final List<String> HTTP2_ERRORS = List.of("NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR",
      "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
      "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED");
  private static final int HTTP2_INTERNAL_ERROR = 0x2;
  private static final int HTTP2_ENHANCE_YOUR_CALM = 0xb;

  private final String peer;
  private final WebSocketCloseStatus normalClose;
  private final boolean reportStatus;
  private final long closeFlushTimeoutMillis;
  private boolean closeSent;
  /** The payload of the latest ping not yet answered; null when none. */
  private ByteBuf latestPing;
  /** Whether {@link #answerLatestPing} is on its way, once the current read is handled. */
  private boolean pongScheduled;
  /** Completes when the Close this side sent has reached the socket (or failed, or timed out). */
  private ChannelPromise closeWritten;
  /** After a protocol error: completes when the peer has hung up or the linger time is over. */
  private ChannelPromise lingerEnded;

  /** The HTTP/2 connection error the tunnel ends in, as the Close that names it ({@link #http2Error}), or null. */
  private CorruptedWebSocketFrameException http2Error;

  /** Whether text frames go on to the next handler (else they fail the connection). */
  private boolean passText;

  /**
   * Passes text frames on instead of failing the connection with 1003: for a protocol that speaks text (the server's
   * JSON over WebSocket). Call on the event loop before frames arrive.
   */
  public void passTextFrames() {
    passText = true;
  }

  /**
   * The HTTP/2 connection inside the tunnel is ending in an error that its codec has answered with a GOAWAY carrying
   * {@code errorCode} and {@code debugText} (RFC 9113 section 6.8): when the connection is closed, the Close says so
   * instead of this side's normal code, for a peer that reads no GOAWAY (a generic WebSocket client), through the
   * one path for protocol errors. The code: 1008 (Policy Violation) for ENHANCE_YOUR_CALM, 1011 (Internal Error) for
   * INTERNAL_ERROR, else 1002 (Protocol Error); the reason, e.g. {@code "HTTP/2 PROTOCOL_ERROR: Frame of type 0 must
   * be associated with a stream."}, cut to fit a Close. NO_ERROR (a graceful shutdown's GOAWAY) changes nothing, and
   * the first error counts. Call on the event loop, before the close.
   */
  public void http2Error(long errorCode, String debugText) {
    if (errorCode == 0 || http2Error != null || closeSent) {
      return;
    }
    String name = errorCode < HTTP2_ERRORS.size() ? HTTP2_ERRORS.get((int) errorCode)
        : "error 0x" + Long.toHexString(errorCode);
    WebSocketCloseStatus status = errorCode == HTTP2_ENHANCE_YOUR_CALM ? WebSocketCloseStatus.POLICY_VIOLATION
        : errorCode == HTTP2_INTERNAL_ERROR ? WebSocketCloseStatus.INTERNAL_SERVER_ERROR
        : WebSocketCloseStatus.PROTOCOL_ERROR;
    http2Error = new CorruptedWebSocketFrameException(status,
        "HTTP/2 " + name + (debugText == null || debugText.isEmpty() ? "" : ": " + debugText));
  }

  /**
   * Creates the handler for one tunnel.
   *
   * @param peer how errors name the other side, e.g. {@code "ws://host:8080/grpc"} or {@code "client 10.0.0.7:5512"}
   * @param normalClose the code sent when gRPC closes the connection: 1000 on clients, 1001 on servers
   * @param reportStatus whether a close or protocol error is reported to gRPC as a mapped {@code Status} (clients:
   *     in-flight RPCs fail with it). Servers simply close: gRPC cancels their calls, and its server transport
   *     would log every reported status at INFO, which a normal client close must not cause.
   */
  public ControlFrameHandler(String peer, WebSocketCloseStatus normalClose, boolean reportStatus) {
    this(peer, normalClose, reportStatus, CLOSE_FLUSH_TIMEOUT_MILLIS);
  }

  /** With another {@link #CLOSE_FLUSH_TIMEOUT_MILLIS}, for tests. */
  ControlFrameHandler(String peer, WebSocketCloseStatus normalClose, boolean reportStatus,
      long closeFlushTimeoutMillis) {
    this.peer = Preconditions.checkNotNull(peer, "peer");
    this.normalClose = Preconditions.checkNotNull(normalClose, "normalClose");
    this.reportStatus = reportStatus;
    this.closeFlushTimeoutMillis = closeFlushTimeoutMillis;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (closeSent) {
      ReferenceCountUtil.release(msg);
    } else if (msg instanceof PingWebSocketFrame) {
      // Of the pings one read brings, only the latest is answered, once the read is handled (RFC 6455 5.5.3 lets an
      // endpoint answer only the most recent): a read full of pings (10,000 in 64 KiB) costs one pong and one write
      // to the socket, not one each.
      if (latestPing != null) {
        latestPing.release();
      }
      latestPing = ((PingWebSocketFrame) msg).content();
      if (!pongScheduled) {
        pongScheduled = true;
        ctx.executor().execute(() -> answerLatestPing(ctx));
      }
    } else if (msg instanceof PongWebSocketFrame) {
      ((PongWebSocketFrame) msg).release();
    } else if (msg instanceof CloseWebSocketFrame) {
      onClose(ctx, (CloseWebSocketFrame) msg);
    } else if (msg instanceof TextWebSocketFrame && !passText) {
      ((TextWebSocketFrame) msg).release();
      failConnection(ctx, WebSocketCloseStatus.INVALID_MESSAGE_TYPE,
          "expected binary frames but was a text frame", null);
    } else {
      ctx.fireChannelRead(msg);
    }
  }

  private void answerLatestPing(ChannelHandlerContext ctx) {
    pongScheduled = false;
    ByteBuf payload = latestPing;
    latestPing = null;
    if (payload == null) {
      return;
    }
    if (!closeSent && ctx.channel().isActive() && ctx.channel().isWritable()) {
      ctx.writeAndFlush(new PongWebSocketFrame(payload));
    } else {
      // After our Close no frame may follow it; and a peer that pings but does not read must not make us queue
      // pongs without bound: its next ping gets its pong.
      payload.release();
    }
  }

  private void onClose(ChannelHandlerContext ctx, CloseWebSocketFrame frame) {
    int code = frame.statusCode();
    if (!closeSent) {
      // The peer began the close handshake (the Close answering ours is not recorded).
      ctx.channel().attr(CLOSE_RECEIVED).set(code);
    }
    String reason = frame.reasonText();
    frame.release();
    logger.debug("{} closed the tunnel with {}", peer, TunnelStatus.describe(code));
    // Echo first, so that what gRPC writes while it winds down (GOAWAY) is dropped rather than sent after a Close;
    // then tell gRPC, so that in-flight RPCs fail with the peer's code rather than "connection closed". The echo
    // itself is written once this read is handled: a peer that hung up right after its Close (as clients of ours
    // do) has then been seen to, and gets no echo, which it could not read (written, it would only draw a reset).
    sendClose(ctx, code < 0 ? WebSocketCloseStatus.NORMAL_CLOSURE : new WebSocketCloseStatus(code, "echo"), null,
        false, true);
    if (reportStatus) {
      ctx.fireExceptionCaught(TunnelStatus.closedByPeer(peer, code, reason));
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof CorruptedWebSocketFrameException) {
      CorruptedWebSocketFrameException corrupt = (CorruptedWebSocketFrameException) cause;
      WebSocketCloseStatus status = corrupt.closeStatus() != null
          ? corrupt.closeStatus() : WebSocketCloseStatus.PROTOCOL_ERROR;
      failConnection(ctx, status, String.valueOf(corrupt.getMessage()), cause);
    } else if (cause instanceof KeepaliveHandler.PingTimeoutException) {
      // A silent peer ends the tunnel like any failure: Close (which it may never read), status, TCP close.
      failConnection(ctx, WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, cause.getMessage(), cause);
    } else {
      ctx.fireExceptionCaught(cause);
    }
  }

  /** The one path for protocol errors: send Close with {@code status}, tell gRPC, close. */
  private void failConnection(ChannelHandlerContext ctx, WebSocketCloseStatus status, String problem,
      Throwable cause) {
    if (closeSent) {
      return;
    }
    if (status.code() == WebSocketCloseStatus.MESSAGE_TOO_BIG.code()) {
      TOO_BIG.log("Closing tunnel with {}: {} ({}) - raise the frame limit on this side or lower it on the other",
          peer, problem, TunnelStatus.describe(status.code()));
    } else if (cause instanceof KeepaliveHandler.PingTimeoutException) {
      SILENT.log("Closing tunnel with {}: {}", peer, problem);
    } else {
      logger.debug("Closing tunnel with {}: {} ({})", peer, problem, TunnelStatus.describe(status.code()));
    }
    // A silent peer will not hang up: close at once. Anyone else gets a moment to read the Close.
    sendClose(ctx, status, problem, !(cause instanceof KeepaliveHandler.PingTimeoutException), false);
    if (reportStatus) {
      ctx.fireExceptionCaught(TunnelStatus.closedHere(peer, status, problem, cause));
    }
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (closeSent) {
      ReferenceCountUtil.release(msg);
      promise.tryFailure(TunnelStatus.closedBeforeWrite());
    } else if (msg instanceof CloseWebSocketFrame) {
      // A Close chosen by a handler after this one (a gateway that cannot reach its upstream): it is the Close.
      // Whoever wrote it closes the connection once it has left; a peer that does not read would keep it from
      // leaving, and the connection open, so it is cut after the same wait as a Close of this handler's own.
      closeSent = true;
      ctx.channel().attr(CLOSE_SENT).setIfAbsent(((CloseWebSocketFrame) msg).statusCode());
      closeWritten = ctx.newPromise();
      OutboundStall cut = OutboundStall.start(ctx.channel(), closeFlushTimeoutMillis, () -> {
        if (closeWritten.trySuccess()) {
          ctx.close();
        }
      });
      ctx.write(msg, promise).addListener(f -> {
        cut.stop();
        closeWritten.trySuccess();
      });
    } else {
      ctx.write(msg, promise);
    }
  }

  @Override
  public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
    if (!closeSent && ctx.channel().isActive()) {
      if (http2Error != null) {
        failConnection(ctx, http2Error.closeStatus(), http2Error.getMessage(), http2Error);
      } else {
        sendClose(ctx, normalClose, null, false, false);
      }
    }
    ChannelPromise pending = lingerEnded != null ? lingerEnded : closeWritten;
    if (pending != null && !pending.isDone()) {
      // Flush, then close: cutting the connection before the last frames leave would lose gRPC's trailers.
      pending.addListener(f -> ctx.close(promise));
    } else {
      ctx.close(promise);
    }
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (latestPing != null) { // the connection ended before the read that brought it was handled
      latestPing.release();
      latestPing = null;
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (lingerEnded != null) {
      lingerEnded.trySuccess();
    }
    ctx.fireChannelInactive();
  }

  /**
   * Sends Close once; the connection is closed once it has been written (or once nothing queued has left for
   * {@link #CLOSE_FLUSH_TIMEOUT_MILLIS}), or with {@code linger}, once the peer has hung up or
   * {@link #ERROR_LINGER_MILLIS} later. With {@code afterRead}, the Close is written by a task of the event loop,
   * which runs once the read under way is handled: if the peer hung up in that read, the connection is closed by then
   * and nothing is written. Either way no write of anyone else goes out after this call.
   */
  private void sendClose(ChannelHandlerContext ctx, WebSocketCloseStatus status, String reason, boolean linger,
      boolean afterRead) {
    if (closeSent) {
      return;
    }
    closeSent = true;
    if (!ctx.channel().hasAttr(CLOSE_RECEIVED)) {
      // This side began the close handshake (an echo of the peer's Close is not recorded).
      ctx.channel().attr(CLOSE_SENT).set(status.code());
    }
    if (!ctx.channel().isActive()) {
      return;
    }
    closeWritten = ctx.newPromise();
    OutboundStall timeout = OutboundStall.start(ctx.channel(), closeFlushTimeoutMillis, closeWritten::trySuccess);
    if (linger) {
      lingerEnded = ctx.newPromise();
      closeWritten.addListener(f -> {
        timeout.stop();
        ScheduledFuture<?> lingerTimer = ctx.executor().schedule(
            () -> lingerEnded.trySuccess(), ERROR_LINGER_MILLIS, TimeUnit.MILLISECONDS);
        lingerEnded.addListener(g -> {
          lingerTimer.cancel(false);
          ctx.close();
        });
      });
    } else {
      closeWritten.addListener(f -> {
        timeout.stop();
        ctx.close();
      });
    }
    if (afterRead) {
      try {
        ctx.executor().execute(() -> writeClose(ctx, status, reason));
      } catch (RejectedExecutionException e) {
        closeWritten.trySuccess(); // the event loop is shutting down, and its connections with it
      }
    } else {
      writeClose(ctx, status, reason);
    }
  }

  private void writeClose(ChannelHandlerContext ctx, WebSocketCloseStatus status, String reason) {
    if (!ctx.channel().isActive()) {
      closeWritten.trySuccess(); // the peer hung up: nothing to write, and nobody to read it
      return;
    }
    ctx.writeAndFlush(new CloseWebSocketFrame(status.code(), truncate(reason)))
        .addListener(f -> closeWritten.trySuccess());
  }

  private static String truncate(String reason) {
    if (reason == null) {
      return null;
    }
    byte[] bytes = reason.getBytes(StandardCharsets.UTF_8);
    if (bytes.length <= MAX_REASON_BYTES) {
      return reason;
    }
    // Cut on a character boundary, never between the two halves of a surrogate pair.
    int end = reason.length();
    while (reason.substring(0, end).getBytes(StandardCharsets.UTF_8).length > MAX_REASON_BYTES
        || (end > 0 && Character.isHighSurrogate(reason.charAt(end - 1)))) {
      end--;
    }
    return reason.substring(0, end);
  }
}
