package dev.wsgrpc.gateway;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import dev.wsgrpc.server.InternalTunnelServer;
import dev.wsgrpc.server.NativeHttp2Event;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;
import java.util.Iterator;
import java.util.Queue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last handler of a gateway connection: once the connection is a tunnel (or native HTTP/2), it opens a
 * connection to an upstream gRPC server on the same event loop and relays bytes both ways, unchanged, until either
 * side ends. Reading stops on one side while the other cannot take more (back-pressure); at most
 * {@value #MAX_PENDING_BYTES} bytes wait for the upstream connection.
 *
 * <p>To drain, it does what a gRPC server does on shutdown, on the upstream's behalf: it inserts an HTTP/2 GOAWAY
 * between two of the upstream's frames (the client then starts no new calls), follows the frame headers both ways to
 * see when the last call in flight has ended, and then closes the tunnel (WebSocket close 1001).
 */
final class UpstreamRelayHandler extends ChannelInboundHandlerAdapter {

  private static final Logger logger = LoggerFactory.getLogger(UpstreamRelayHandler.class);
  static final int MAX_PENDING_BYTES = 1024 * 1024;

  private final Upstreams upstreams;
  private final UpstreamConnector connector;
  private final TunnelTracker tracker;
  private final FrameRateLimit resets;
  private final FrameRateLimit settingsFrames;
  private final FrameRateLimit pings;
  private final RelaySettings settings;
  /** Streams the client has opened and the upstream has not yet ended. */
  private final Set<Integer> openStreams = new HashSet<>();
  private final Http2FrameBoundaries toClient = new Http2FrameBoundaries(0, this::upstreamFrame);
  private final Http2FrameBoundaries toUpstream = new Http2FrameBoundaries(24, this::clientFrame);
  private final Queue<Object> pending = new ArrayDeque<>();
  private ChannelHandlerContext ctx;
  private Channel upstream;
  private boolean tunnel;
  private boolean started;
  private boolean goAwayPending;
  private boolean goAwaySent;
  private int pendingBytes;
  /** The highest stream the client has opened: the last stream id of a GOAWAY of ours. */
  private int lastClientStream;
  /** Why the client's bytes stopped being relayed (a limit it broke), or null. */
  private String abuse;

  UpstreamRelayHandler(Upstreams upstreams, UpstreamConnector connector, TunnelTracker tracker,
      RelaySettings settings) {
    this.upstreams = upstreams;
    this.connector = connector;
    this.tracker = tracker;
    long window = settings.window.toNanos();
    this.resets = new FrameRateLimit(settings.maxRstFrames, window);
    this.settingsFrames = new FrameRateLimit(settings.maxSettingsFrames, window);
    this.pings = new FrameRateLimit(settings.maxPingFrames, window);
    this.settings = settings;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof TunnelEstablishedEvent) {
      tunnel = true;
      InternalTunnelServer.tunnelEstablished(ctx.pipeline(), (TunnelEstablishedEvent) evt);
      start();
    } else if (evt instanceof NativeHttp2Event) {
      start();
    } else {
      ctx.fireUserEventTriggered(evt);
    }
  }

  private void start() {
    if (started) {
      return;
    }
    started = true;
    // Hold the client until the upstream is there; what already arrived waits in `pending`.
    ctx.channel().config().setAutoRead(false);
    connect(upstreams.rotation().iterator());
  }

  /** Tries each address in turn; a refusal moves on to the next. */
  private void connect(Iterator<Upstreams.Resolved> candidates) {
    if (!ctx.channel().isActive()) {
      return;
    }
    if (!candidates.hasNext()) {
      logger.warn("No upstream of {} accepted a connection for {}; check that the upstream servers are running",
          upstreams, ctx.channel().remoteAddress());
      fail(WebSocketCloseStatus.TRY_AGAIN_LATER, "no upstream gRPC server reachable");
      return;
    }
    Upstreams.Resolved target = candidates.next();
    connector.connect(target, ctx.channel(), new ToClient()).addListener((ChannelFutureListener) f -> {
      if (f.isSuccess()) {
        connected(f.channel());
      } else {
        tracker.upstreamConnectFailed();
        logger.debug("Upstream {} refused: {}", target, f.cause().toString());
        connect(candidates);
      }
    });
  }

  private void connected(Channel up) {
    if (!ctx.channel().isActive()) {
      up.close();
      return;
    }
    upstream = up;
    Object msg;
    while ((msg = pending.poll()) != null) {
      up.write(msg);
    }
    pendingBytes = 0;
    up.flush();
    up.config().setAutoRead(true);
    up.read();
    ctx.channel().config().setAutoRead(true);
    ctx.read();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf && started && abuse == null) {
      toUpstream.advanceAll((ByteBuf) msg);
    }
    if (abuse != null) {
      // Nothing of an abusive client's reaches the upstream, not even the rest of the read that broke the limit.
      ReferenceCountUtil.release(msg);
      return;
    }
    if (upstream != null) {
      upstream.write(msg);
    } else if (started && msg instanceof ByteBuf
        && pendingBytes + ((ByteBuf) msg).readableBytes() <= MAX_PENDING_BYTES) {
      pendingBytes += ((ByteBuf) msg).readableBytes();
      pending.add(msg);
    } else {
      ReferenceCountUtil.release(msg);
      if (started) {
        fail(WebSocketCloseStatus.MESSAGE_TOO_BIG, "more than " + MAX_PENDING_BYTES
            + " bytes arrived before the upstream connection was ready");
      }
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (upstream != null) {
      upstream.flush();
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    // The client is slow: stop reading from the upstream until its bytes have left.
    if (upstream != null) {
      upstream.config().setAutoRead(ctx.channel().isWritable());
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    Object msg;
    while ((msg = pending.poll()) != null) {
      ReferenceCountUtil.release(msg);
    }
    if (upstream != null) {
      upstream.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    logger.debug("Closing {} after {}", ctx.channel().remoteAddress(), cause.toString());
    ctx.close();
  }

  /** Ends the connection: for a tunnel with a close code saying why, else by closing the socket. */
  private void fail(WebSocketCloseStatus status, String reason) {
    if (tunnel) {
      ctx.writeAndFlush(new CloseWebSocketFrame(status.code(), reason)).addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.close();
    }
  }

  /**
   * Starts a drain: GOAWAY to the client at the next frame boundary of the upstream's stream. A connection that has
   * not heard from its upstream yet is simply closed. Runs on the event loop.
   */
  void drain() {
    if (upstream == null || !started) {
      ctx.close();
      return;
    }
    goAwayPending = true;
    if (toClient.atBoundary()) {
      sendGoAway();
      ctx.flush();
    }
  }

  private void sendGoAway() {
    goAwayPending = false;
    goAwaySent = true;
    ByteBuf frame = ctx.alloc().buffer(17);
    Http2FrameBoundaries.writeGracefulGoAway(frame);
    ctx.write(frame);
    closeIfDrained();
  }

  private void clientFrame(int type, int flags, int streamId) {
    if (type == Http2FrameBoundaries.HEADERS && streamId != 0) {
      openStreams.add(streamId);
      lastClientStream = Math.max(lastClientStream, streamId);
    } else if (type == Http2FrameBoundaries.RST_STREAM) {
      openStreams.remove(streamId);
      if (resets.exceeded(System.nanoTime())) {
        abusive("rst_stream", "more than " + settings.maxRstFrames + " RST_STREAM frames in " + window());
      }
    } else if (type == Http2FrameBoundaries.SETTINGS && (flags & Http2FrameBoundaries.FLAG_ACK) == 0) {
      if (settingsFrames.exceeded(System.nanoTime())) {
        abusive("settings", "more than " + settings.maxSettingsFrames + " SETTINGS frames in " + window());
      }
    } else if (type == Http2FrameBoundaries.PING && (flags & Http2FrameBoundaries.FLAG_ACK) == 0) {
      if (pings.exceeded(System.nanoTime())) {
        abusive("ping", "more than " + settings.maxPingFrames + " PING frames in " + window() + " without data in between");
      }
    }
  }

  private String window() {
    return settings.window.getSeconds() + " s";
  }

  /**
   * Ends a client that broke a frame limit: its bytes stop here, the upstream connection is closed, and the client
   * gets GOAWAY ENHANCE_YOUR_CALM (when the upstream's byte stream is between frames, so that the GOAWAY cannot land
   * inside one) and then, in a tunnel, WebSocket close 1008 saying which limit.
   */
  private void abusive(String frame, String problem) {
    if (abuse != null) {
      return;
    }
    abuse = problem;
    tracker.abusiveClientEnded(frame);
    logger.debug("Ending the connection of {}: {}", ctx.channel().remoteAddress(), problem);
    ctx.channel().config().setAutoRead(false);
    Object msg;
    while ((msg = pending.poll()) != null) {
      ReferenceCountUtil.release(msg);
    }
    pendingBytes = 0;
    if (upstream != null) {
      upstream.close();
    }
    if (toClient.atBoundary()) {
      ByteBuf goAway = ctx.alloc().buffer();
      Http2FrameBoundaries.writeGoAway(goAway, lastClientStream, Http2FrameBoundaries.ENHANCE_YOUR_CALM,
          "too_many_" + frame + (frame.endsWith("s") ? "" : "s"));
      ctx.write(goAway);
    }
    ctx.channel().eventLoop().execute(() -> fail(WebSocketCloseStatus.POLICY_VIOLATION, problem));
  }

  private void upstreamFrame(int type, int flags, int streamId) {
    if (type == Http2FrameBoundaries.HEADERS || type == Http2FrameBoundaries.DATA) {
      // As grpc-java's keepalive policy does: pings are fine while the server sends something.
      pings.forgive();
    }
    boolean ended = type == Http2FrameBoundaries.RST_STREAM
        || ((type == Http2FrameBoundaries.HEADERS || type == Http2FrameBoundaries.DATA)
            && (flags & Http2FrameBoundaries.FLAG_END_STREAM) != 0);
    if (ended && openStreams.remove(streamId)) {
      closeIfDrained();
    }
  }

  /** After GOAWAY, the last call to end ends the tunnel, once its bytes have been flushed. */
  private void closeIfDrained() {
    if (goAwaySent && openStreams.isEmpty()) {
      ctx.channel().eventLoop().execute(
          () -> ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE));
    }
  }

  /** The upstream side: bytes from the upstream go to the client, with a GOAWAY slipped in when draining. */
  private final class ToClient extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext upCtx, Object msg) {
      if (!(msg instanceof ByteBuf) || abuse != null) {
        ReferenceCountUtil.release(msg);
        return;
      }
      ByteBuf buf = (ByteBuf) msg;
      int start = buf.readerIndex();
      int end = buf.writerIndex();
      int pos = start;
      while (pos < end) {
        pos = toClient.advance(buf, pos, end);
        if (goAwayPending && toClient.atBoundary()) {
          if (pos > start) {
            ctx.write(buf.retainedSlice(start, pos - start));
          }
          sendGoAway();
          start = pos;
        }
      }
      if (start == buf.readerIndex()) {
        ctx.write(buf);
      } else {
        if (start < end) {
          ctx.write(buf.retainedSlice(start, end - start));
        }
        buf.release();
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext upCtx) {
      ctx.flush();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext upCtx) {
      // The upstream is slow: stop reading from the client until its bytes have left.
      ctx.channel().config().setAutoRead(upCtx.channel().isWritable());
      upCtx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext upCtx) {
      if (abuse != null) {
        return; // we closed it; the client's end is already on its way
      }
      // The upstream ended: flush what it sent, then end the tunnel (WebSocket close 1001).
      ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext upCtx, Throwable cause) {
      logger.debug("Upstream connection for {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
      upCtx.close();
    }
  }

}
