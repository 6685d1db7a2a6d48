package dev.wsgrpc.gateway;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import dev.wsgrpc.core.internal.ControlFrameHandler;
import dev.wsgrpc.core.internal.FlushThenClose;
import dev.wsgrpc.core.internal.OptionValues;
import dev.wsgrpc.core.internal.RateLimitedLog;
import dev.wsgrpc.server.InternalTunnelServer;
import dev.wsgrpc.server.NativeHttp2Event;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundInvoker;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last handler of a gateway connection: once the connection is a tunnel (or native HTTP/2), it opens a
 * connection to an upstream gRPC server on the same event loop and relays bytes both ways, unchanged, until either
 * side ends. Reading stops on one side while the other cannot take more (back-pressure); at most
 * {@value #MAX_PENDING_BYTES} bytes per connection, and {@link RelaySettings#maxPendingBytes} for all together, wait
 * for upstream connections still being made.
 *
 * <p>It follows the HTTP/2 frame headers both ways ({@link Http2FrameBoundaries}), without copying or decoding, to:
 * <ul>
 *   <li>drain: it does what a gRPC server does on shutdown, on the upstream's behalf: it inserts an HTTP/2 GOAWAY
 *       naming the largest stream id, with a PING of its own, between two of the upstream's frames, never inside a
 *       header block (the client then starts no new calls, and a call it was starting meanwhile is still taken);
 *       once the client has acknowledged the PING (or after {@value #DRAIN_PING_TIMEOUT_SECONDS} s), a second
 *       GOAWAY naming the last stream the client opened; it sees when the last call in flight has ended (the
 *       upstream ended it, or the client cancelled it), and then closes the tunnel (WebSocket close 1001) or native
 *       connection; an idle one is drained the same way;</li>
 *   <li>refuse abuse: too many RST_STREAM, SETTINGS or PING frames from the client in a window end the connection
 *       with GOAWAY ENHANCE_YOUR_CALM before the upstream sees them;</li>
 *   <li>keep the upstream honest: when it has been silent for the keepalive time while a call is open, an HTTP/2
 *       PING of the gateway's own goes to it (between two of the client's frames) and its ACK is taken out of the bytes to the client;
 *       an upstream that answers nothing within the timeout ends the tunnel with close 1013 (Try Again Later);</li>
 *   <li>answer the client's PINGs itself: a client's keepalive (every 30 s, also without calls) would otherwise reach
 *       an upstream that permits far fewer (grpc-java: one per 5 min, none without calls) and get GOAWAY
 *       ENHANCE_YOUR_CALM "too_many_pings". Each PING of the client's (not an ACK) is taken out of the bytes to the
 *       upstream, still counted against the PING limit, and answered with its ACK, inserted between two of the
 *       upstream's frames outside a header block (after the upstream's SETTINGS, as a server's first frame must
 *       be). The client's keepalive then proves the path to the gateway; the gateway's own PINGs watch the
 *       upstream. PINGs of the upstream's, and the client's ACKs of them, pass unchanged;</li>
 *   <li>name the upstream's connection error: a GOAWAY of the upstream's with an error (bytes from the client that
 *       break HTTP/2) passes unchanged, and the tunnel's Close, once the upstream has ended, says what it said
 *       ({@code ControlFrameHandler.http2Error}: 1002 "HTTP/2 PROTOCOL_ERROR: ..." rather than 1001).</li>
 * </ul>
 */
final class UpstreamRelayHandler extends ChannelInboundHandlerAdapter {

  private static final Logger logger = LoggerFactory.getLogger(UpstreamRelayHandler.class);
  static final int MAX_PENDING_BYTES = 1024 * 1024;
  /**
   * How long an upstream address has to accept a TCP connection before the next address is tried beside it: RFC
   * 8305's Connection Attempt Delay, so that an address that does not answer costs a tunnel this, not the connect
   * timeout (10 s).
   */
  static final long ATTEMPT_DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(250);
  /**
   * The opaque data of the gateway's own PINGs to upstreams, and of the PING that follows a drain's first GOAWAY:
   * random for each process, so that gateways in a chain (a relay whose upstream is another) tell theirs apart.
   */
  static final long UPSTREAM_PING_DATA = ThreadLocalRandom.current().nextLong();
  static final long DRAIN_PING_DATA = UPSTREAM_PING_DATA + 1;
  /** How long a drain waits for the client's ACK of its PING before the second GOAWAY: as grpc-java's server. */
  static final int DRAIN_PING_TIMEOUT_SECONDS = 10;
  /** How long the last bytes for a side may go without any of them leaving before that side is closed anyway. */
  static final long FLUSH_BEFORE_CLOSE_MILLIS = FlushThenClose.TIMEOUT_MILLIS;
  private static final int FRAME_HEADER = 9;
  private static final int PING_FRAME = FRAME_HEADER + 8;
  /**
   * The most ACKs of the client's PINGs that may wait for a boundary in the upstream's bytes or for the client to
   * read them: {@value}, 17 bytes each (a client's keepalive has one PING at a time outstanding). One more ends the
   * connection as a ping flood, also when the PING limit is off.
   */
  static final int MAX_OUTSTANDING_PING_ACKS = 1024;
  /** An upstream that limits pings: the line an operator needs, at most once every 10 s. */
  private static final RateLimitedLog enhanceYourCalmLog = new RateLimitedLog(logger, RateLimitedLog.Level.WARN, 1,
      java.time.Duration.ofSeconds(10), System::nanoTime);

  private final Upstreams upstreams;
  private final UpstreamConnector connector;
  private final TunnelTracker tracker;
  private final RelaySettings settings;
  private final PendingBudget budget;
  private final FrameRateLimit resets;
  private final FrameRateLimit settingsFrames;
  private final FrameRateLimit pings;
  /** Streams the client has opened and neither side has ended yet. */
  private final Set<Integer> openStreams = new HashSet<>();
  private final Http2FrameBoundaries toClient = new Http2FrameBoundaries(0, this::upstreamFrame);
  private final Http2FrameBoundaries toUpstream = new Http2FrameBoundaries(24, this::clientFrame);
  private final Queue<ByteBuf> pending = new ArrayDeque<>();
  private ChannelHandlerContext ctx;
  private Channel upstream;
  private Upstreams.Resolved upstreamTarget;
  /** The upstream addresses this connection has tried to connect to. */
  private final Set<InetSocketAddress> triedUpstreams = new HashSet<>();
  /** Every address had failed, and the connection waited for the names to be looked up again. */
  private boolean lookedUpAgain;
  /** Connections to upstream addresses under way: more than one once an attempt waited {@link #ATTEMPT_DELAY_NANOS}. */
  private final List<Channel> attempts = new ArrayList<>(2);
  /** Starts the next address's attempt while the others still wait; null when none is due. */
  private ScheduledFuture<?> nextAttemptTimer;
  /** Ends the search for an upstream at the handshake timeout; null once it has ended. */
  private ScheduledFuture<?> searchTimer;
  private boolean tunnel;
  private boolean started;
  /** Where a drain is: no drain, a GOAWAY waiting for a boundary, the PING's ACK awaited, the last GOAWAY sent. */
  private enum Drain { NONE, FIRST_PENDING, AWAITING_ACK, SECOND_PENDING, SENT }

  private Drain drain = Drain.NONE;
  private ScheduledFuture<?> drainPingTimer;
  private int pendingBytes;
  /** The highest stream the client has opened: the last stream id of a GOAWAY of ours. */
  private int lastClientStream;
  /**
   * The lowest last stream id of the GOAWAYs the client has been sent, the upstream's and ours: a later one may not
   * name more (a client ends the connection on an increase), so ours are capped and the upstream's rewritten.
   */
  private int lastStreamToldClient = Integer.MAX_VALUE;
  /**
   * Streams above this one, opened after the drain's last GOAWAY, are refused: the client, told they were not taken,
   * retries them elsewhere, so the upstream must not run them.
   */
  private int refuseAbove = Integer.MAX_VALUE;
  /** The lowest last stream id of the upstream's own GOAWAYs: it refuses streams above it by itself. */
  private int upstreamLastStream = Integer.MAX_VALUE;
  /** The last refused stream: its header block was relayed (the upstream's HPACK state needs it), then cancelled. */
  private int lastRefusedStream;
  /** Refused streams whose RST_STREAM (CANCEL) waits for the next boundary between the client's frames. */
  private final Queue<Integer> refusedResets = new ArrayDeque<>();
  /** Why this relay ended the connection (a limit the client broke, a silent upstream), or null. */
  private String ended;
  /** Reads from the upstream so far, and when the last one was (the event loop's ticker). */
  private long upstreamReads;
  private long lastUpstreamReadNanos;
  /** A PING of ours waits for the next boundary between the client's frames. */
  private boolean pingPending;
  /** Since when no call has been open (the event loop's ticker). */
  private long idleSinceNanos;
  private ScheduledFuture<?> keepaliveTimer;
  private ScheduledFuture<?> idleTimer;
  /** A tunnel's deadline for the client's HTTP/2 preface and first SETTINGS frame; null once they came. */
  private ScheduledFuture<?> prefaceTimer;
  private boolean settingsSeen;
  /** A read of the client's is being handled: from its channelRead to the end of its channelReadComplete. */
  private boolean readingClient;
  /** A read of the upstream's is being handled, likewise. */
  private boolean readingUpstream;
  /** The start of a frame of the client's that may be a PING, cut by the last read: kept until it is whole. */
  private ByteBuf clientCarry;
  /** ACKs of the client's PINGs waiting for a boundary between the upstream's frames, or null. */
  private ByteBuf pingAcks;
  /** ACKs of the client's PINGs waiting, or written and not yet taken by the client's socket. */
  private int outstandingPingAcks;
  /** ACKs were written to the client during its read: flushed at the end of it. */
  private boolean pingAcksUnflushed;

  UpstreamRelayHandler(Upstreams upstreams, UpstreamConnector connector, TunnelTracker tracker,
      RelaySettings settings, PendingBudget budget) {
    this.upstreams = upstreams;
    this.connector = connector;
    this.tracker = tracker;
    this.settings = settings;
    this.budget = budget;
    long window = settings.window.toNanos();
    this.resets = new FrameRateLimit(settings.maxRstFrames, window);
    this.settingsFrames = new FrameRateLimit(settings.maxSettingsFrames, window);
    this.pings = new FrameRateLimit(settings.maxPingFrames, window);
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  private long now() {
    return ctx.executor().ticker().nanoTime();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof TunnelEstablishedEvent) {
      tunnel = true;
      InternalTunnelServer.tunnelEstablished(ctx.pipeline(), (TunnelEstablishedEvent) evt);
      start();
    } else if (evt instanceof NativeHttp2Event) {
      InternalTunnelServer.nativeEstablished(ctx.pipeline()); // reported, and drained, apart from tunnels
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
    searchTimer = schedule(this::searchTimedOut, settings.handshakeTimeout.toNanos());
    connect(upstreams.rotation().iterator());
  }

  /**
   * No upstream was reached within the handshake timeout (10 s by default), whatever was still under way (an address
   * that does not answer, a slow lookup): the tunnel ends with 1013 while its client still waits for the upstream's
   * SETTINGS (15 s, the clients' ping timeout), which would otherwise end it first, saying only that they did not come.
   */
  private void searchTimedOut() {
    searchTimer = null;
    if (upstream != null || ended != null || !ctx.channel().isActive()) {
      return;
    }
    String problem = "no upstream gRPC server reachable within " + settings.handshakeTimeout.toMillis() + " ms";
    tracker.noUpstreamReachable(upstreams);
    end(problem);
    fail(WebSocketCloseStatus.TRY_AGAIN_LATER, problem);
  }

  /**
   * Tries each address in turn; a refusal or a failed TLS handshake moves on to the next at once, and has the names
   * looked up again ({@link Upstreams#connectFailed}); an address whose TCP connection is not up within {@link
   * #ATTEMPT_DELAY_NANOS} has the next address tried beside it (RFC 8305), and the first attempt to succeed (with
   * TLS, once its handshake is done) is the upstream; the others are closed. When every address has failed, the
   * tunnel waits for that lookup and tries the addresses it found that this tunnel has not tried (a backend that
   * moved: its name now names another), once; then it ends with 1013. The whole search takes at most the handshake
   * timeout ({@link #searchTimedOut}): an address may go unanswered for the connect timeout (10 s), and a lookup can
   * take as long as the system's resolver does when DNS is down too.
   */
  private void connect(Iterator<Upstreams.Resolved> candidates) {
    if (!ctx.channel().isActive() || ended != null || upstream != null) {
      return;
    }
    if (!candidates.hasNext()) {
      if (attempts.isEmpty()) {
        cancelSearchTimer();
        tracker.noUpstreamReachable(upstreams);
        fail(WebSocketCloseStatus.TRY_AGAIN_LATER, "no upstream gRPC server reachable");
      }
      return; // else the last attempts under way decide
    }
    Upstreams.Resolved target = candidates.next();
    triedUpstreams.add(target.address);
    ChannelFuture attempt = connector.connect(target, ctx.channel(), new ToClient());
    attempts.add(attempt.channel());
    cancelNextAttempt();
    if (candidates.hasNext()) {
      nextAttemptTimer = schedule(() -> {
        nextAttemptTimer = null;
        connect(candidates);
      }, ATTEMPT_DELAY_NANOS);
    }
    attempt.addListener((ChannelFutureListener) f -> {
      if (ctx.executor().inEventLoop()) {
        attemptDone(f, target, candidates);
      } else {
        // A channel that could not be made (no file descriptor left) has no event loop: its future completes on
        // Netty's global executor.
        ctx.executor().execute(() -> attemptDone(f, target, candidates));
      }
    });
  }

  /** An attempt to connect to {@code target} has ended: the tunnel's upstream, a loser, or a failure. */
  private void attemptDone(ChannelFuture f, Upstreams.Resolved target, Iterator<Upstreams.Resolved> candidates) {
    attempts.remove(f.channel());
    if (upstream != null) {
      f.channel().close(); // another attempt won
      return;
    }
    if (f.isSuccess()) {
      cancelNextAttempt();
      cancelSearchTimer();
      List<Channel> others = new ArrayList<>(attempts);
      attempts.clear();
      connected(f.channel(), target); // the upstream from now on, unless the client has gone
      for (Channel other : others) {
        other.close(); // its listener finds the upstream chosen, or the client gone
      }
      return;
    }
    if (!ctx.channel().isActive() || ended != null) {
      return;
    }
    tracker.upstreamConnectFailed(target, f.cause());
    CompletableFuture<List<Upstreams.Resolved>> lookup = upstreams.connectFailed();
    if (candidates.hasNext()) {
      connect(candidates); // at once, not at the next attempt's delay
    } else if (!attempts.isEmpty()) {
      return; // the attempts still under way decide
    } else if (lookedUpAgain) {
      connect(candidates);
    } else {
      lookedUpAgain = true;
      // The search's own deadline (searchTimedOut) ends a lookup that takes too long.
      lookup.thenAccept(fresh -> ctx.executor().execute(() -> connect(untried(fresh))));
    }
  }

  /** Closes the connections to upstreams still being made, and stops the next one from starting. */
  private void closeAttempts() {
    cancelNextAttempt();
    cancelSearchTimer();
    List<Channel> under = new ArrayList<>(attempts);
    attempts.clear();
    for (Channel attempt : under) {
      attempt.close(); // its listener finds the client gone, or the tunnel ended
    }
  }

  private void cancelSearchTimer() {
    if (searchTimer != null) {
      searchTimer.cancel(false);
      searchTimer = null;
    }
  }

  private void cancelNextAttempt() {
    if (nextAttemptTimer != null) {
      nextAttemptTimer.cancel(false);
      nextAttemptTimer = null;
    }
  }

  /** The addresses of {@code fresh} that this connection has not tried yet. */
  private Iterator<Upstreams.Resolved> untried(List<Upstreams.Resolved> fresh) {
    List<Upstreams.Resolved> out = new ArrayList<>();
    for (Upstreams.Resolved candidate : fresh) {
      if (!triedUpstreams.contains(candidate.address)) {
        out.add(candidate);
      }
    }
    return out.iterator();
  }

  private void connected(Channel up, Upstreams.Resolved target) {
    if (!ctx.channel().isActive() || ended != null) {
      up.close();
      return;
    }
    upstream = up;
    upstreamTarget = target;
    ByteBuf msg;
    while ((msg = pending.poll()) != null) {
      up.write(msg);
    }
    budget.release(pendingBytes);
    pendingBytes = 0;
    up.flush();
    // Each side is read only while the other can take more: what waited may have filled the upstream already, and
    // then its writability will not change again (and turn reading on or off) until it has drained.
    up.config().setAutoRead(ctx.channel().isWritable());
    ctx.channel().config().setAutoRead(up.isWritable());
    lastUpstreamReadNanos = now();
    idleSinceNanos = now();
    if (!settings.upstreamKeepAliveTime.isZero()) {
      keepaliveTimer = schedule(this::keepaliveTick, settings.upstreamKeepAliveTime.toNanos());
    }
    if (!settings.idleTimeout.isZero()) {
      idleTimer = schedule(this::idleTick, settings.idleTimeout.toNanos());
    }
    if (tunnel && !settingsSeen) {
      // A native connection was admitted only with its SETTINGS; a tunnel's HTTP/2 begins after the 101.
      prefaceTimer = schedule(this::prefaceMissing, settings.handshakeTimeout.toNanos());
    }
  }

  /** The tunnel sent no HTTP/2 preface and SETTINGS in time: it holds a slot and an upstream connection for nothing. */
  private void prefaceMissing() {
    prefaceTimer = null;
    if (settingsSeen || ended != null) {
      return;
    }
    // The deadline runs from the upstream connection (connected()), not from the 101: the client's bytes wait for it.
    String problem = "expected the HTTP/2 preface and SETTINGS within " + settings.handshakeTimeout.toMillis()
        + " ms of the connection to the upstream but they did not arrive";
    logger.debug("Closing {}: {}", ctx.channel().remoteAddress(), problem);
    end(problem);
    fail(WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, problem);
  }

  /**
   * Closes {@code side} once what is queued for it has left, or once {@value #FLUSH_BEFORE_CLOSE_MILLIS} ms have passed
   * without any of it leaving ({@link FlushThenClose}): a peer that has stopped reading must not keep its connection,
   * and its slot, open by never taking the last bytes, and a slow peer still reading gets the end of its calls. (A
   * tunnel's byte-stream codec holds nothing once flushed, so a tunnel is closed at once: its Close frame goes out
   * behind those bytes, and {@code ControlFrameHandler} closes the connection on the same terms.)
   */
  private static void closeOnceFlushed(ChannelOutboundInvoker side, Channel channel) {
    FlushThenClose.close(side, channel);
  }

  private ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
    return ctx.executor().schedule(task, delayNanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    readingClient = true;
    if (!(msg instanceof ByteBuf) || !started || ended != null) {
      // Nothing of a client this relay has ended reaches the upstream, not even the rest of the read that did it.
      ReferenceCountUtil.release(msg);
      return;
    }
    ByteBuf buf = (ByteBuf) msg;
    if (clientCarry != null) {
      buf = Unpooled.wrappedBuffer(clientCarry, buf); // owns both
      clientCarry = null;
    }
    int start = buf.readerIndex(); // the first byte not yet sent on
    int end = buf.writerIndex();
    int pos = start;
    while (true) {
      if ((pingPending || !refusedResets.isEmpty()) && upstream != null && toUpstream.atBoundary()) {
        if (pos > start) {
          upstream.write(buf.retainedSlice(start, pos - start));
          start = pos;
        }
        if (pingPending) {
          writeUpstreamPing();
        }
        writeRefusedResets();
      }
      if (pos >= end) {
        break;
      }
      if (toUpstream.betweenFrames()) {
        int available = end - pos;
        if (available < PING_FRAME && mayBePing(buf, pos, available)) {
          // A PING of the client's (or an ACK that may be of a PING of the gateway's) cut by the read (or by its
          // WebSocket frames): wait for the rest. A copy of the few bytes (under 17), not a slice that would hold the
          // whole read buffer meanwhile.
          clientCarry = ctx.alloc().buffer(available).writeBytes(buf, pos, available);
          end = pos;
          break;
        }
        boolean ping = mayBePing(buf, pos, PING_FRAME);
        boolean ack = ping && (buf.getUnsignedByte(pos + 4) & Http2FrameBoundaries.FLAG_ACK) != 0;
        if (ack && isGatewayPingData(buf.getLong(pos + FRAME_HEADER))) {
          // An ACK with the data of a PING of the gateway's (or made to look so): never the upstream's to see.
          if (pos > start) {
            forward(buf.retainedSlice(start, pos - start));
          }
          boolean drainAck = buf.getLong(pos + FRAME_HEADER) == DRAIN_PING_DATA;
          pos = toUpstream.advance(buf, pos, pos + PING_FRAME); // followed, not relayed
          start = pos;
          if (drainAck) {
            drainPingAnswered(); // only the first, while the drain waits for it, counts
          }
          continue;
        }
        if (ping && !ack) {
          if (pos > start) {
            forward(buf.retainedSlice(start, pos - start));
          }
          long data = buf.getLong(pos + FRAME_HEADER);
          pos = toUpstream.advance(buf, pos, pos + PING_FRAME); // counted, not relayed: the gateway answers it
          start = pos;
          if (ended == null) {
            answerPing(data);
          }
          if (ended != null) {
            buf.release();
            return;
          }
          continue;
        }
      }
      pos = toUpstream.advance(buf, pos, end);
      if (ended != null) {
        buf.release();
        return;
      }
    }
    if (start == buf.readerIndex() && end == buf.writerIndex()) {
      forward(buf);
    } else {
      if (start < end) {
        forward(buf.retainedSlice(start, end - start));
      }
      buf.release();
    }
  }

  /** The data of a PING the gateway sends: to the upstream (keepalive) or to the client (drain). */
  private static boolean isGatewayPingData(long data) {
    return data == UPSTREAM_PING_DATA || data == DRAIN_PING_DATA;
  }

  /** Cancels, toward the upstream, the refused streams whose header blocks have just been relayed. */
  private void writeRefusedResets() {
    Integer stream;
    while ((stream = refusedResets.poll()) != null) {
      ByteBuf rst = upstream.alloc().buffer(FRAME_HEADER + 4);
      rst.writeMedium(4).writeByte(Http2FrameBoundaries.RST_STREAM).writeByte(0).writeInt(stream)
          .writeInt(Http2FrameBoundaries.CANCEL);
      upstream.write(rst);
    }
  }

  /**
   * Whether the first {@code n} bytes at {@code pos} (at most a PING frame's 17) could be a PING (or its ACK): a
   * header of length 8, type PING, on stream 0. Without the ACK flag it is the client's, which the gateway answers;
   * with it, it may be the ACK of a PING of the gateway's. A malformed PING (other length, or on a stream) goes to the
   * upstream, which ends the connection as HTTP/2 says.
   */
  private static boolean mayBePing(ByteBuf buf, int pos, int n) {
    for (int i = 0; i < Math.min(n, FRAME_HEADER); i++) {
      if (i == 4) {
        continue; // the flags: ACK or not, both are followed
      }
      int b = buf.getUnsignedByte(pos + i);
      boolean matches;
      switch (i) {
        case 2:
          matches = b == 8;
          break;
        case 3:
          matches = b == Http2FrameBoundaries.PING;
          break;
        case 5:
          matches = (b & 0x7f) == 0; // the reserved bit is ignored
          break;
        default:
          matches = b == 0;
          break;
      }
      if (!matches) {
        return false;
      }
    }
    return true;
  }

  /**
   * Answers a PING of the client's with its ACK: at once when the bytes to the client are at a boundary between the
   * upstream's frames, else when they next are. At most {@value #MAX_OUTSTANDING_PING_ACKS} wait or sit unread.
   */
  private void answerPing(long data) {
    if (outstandingPingAcks >= MAX_OUTSTANDING_PING_ACKS) {
      abusive("ping", "more than " + MAX_OUTSTANDING_PING_ACKS + " PING ACKs waiting for the client to read them");
      return;
    }
    outstandingPingAcks++;
    if (pingAcks == null) {
      pingAcks = ctx.alloc().buffer(PING_FRAME);
    }
    pingAcks.writeMedium(8).writeByte(Http2FrameBoundaries.PING).writeByte(Http2FrameBoundaries.FLAG_ACK)
        .writeInt(0).writeLong(data);
    if (toClient.atBoundary()) {
      writePingAcks();
      pingAcksUnflushed = true;
    }
  }

  /** Writes the waiting ACKs to the client; they stop counting once its socket has taken them. */
  private void writePingAcks() {
    ByteBuf acks = pingAcks;
    pingAcks = null;
    int n = acks.readableBytes() / PING_FRAME;
    ctx.write(acks).addListener(f -> outstandingPingAcks -= n);
  }

  private void releaseClientState() {
    if (clientCarry != null) {
      clientCarry.release();
      clientCarry = null;
    }
    if (pingAcks != null) {
      pingAcks.release();
      pingAcks = null;
    }
  }

  /** Sends the client's bytes on, or keeps them while the upstream connection is being made. */
  private void forward(ByteBuf buf) {
    if (upstream != null) {
      upstream.write(buf);
      return;
    }
    int n = buf.readableBytes();
    if (pendingBytes + n > MAX_PENDING_BYTES) {
      buf.release();
      String problem = "more than " + MAX_PENDING_BYTES + " bytes arrived before the upstream connection was ready";
      end(problem);
      fail(WebSocketCloseStatus.MESSAGE_TOO_BIG, problem);
    } else if (!budget.tryReserve(n)) {
      buf.release();
      String problem = "the gateway holds too many bytes for upstream connections still being made";
      end(problem);
      fail(WebSocketCloseStatus.TRY_AGAIN_LATER, problem);
    } else {
      pendingBytes += n;
      pending.add(buf);
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (pingAcksUnflushed) {
      pingAcksUnflushed = false;
      ctx.flush();
    }
    if (upstream != null) {
      upstream.flush();
      pauseIfStillFull(upstream, ctx.channel());
    }
    readingClient = false;
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    // The upstream is read only while the client can take more.
    if (upstream != null) {
      followWritability(ctx.channel(), upstream, readingUpstream);
    }
    ctx.fireChannelWritabilityChanged();
  }

  /**
   * Back-pressure: {@code source} is read only while {@code sink}, where its bytes go, can take more. Reading resumes
   * as soon as {@code sink} is writable again. It stops at once when {@code sink} fills outside a read of
   * {@code source}; within one ({@code inSourceRead}), the end of that read decides ({@link #pauseIfStillFull}),
   * after its flush: a full read (up to {@link UpstreamGateway#MAX_READ_BYTES}) passes the sink's high-water mark
   * when it is written, and the flush that follows usually empties it, so stopping and resuming on the way would
   * change nothing and, where Netty reports the change at once (a plain TCP socket), cost two system calls per read.
   */
  private static void followWritability(Channel sink, Channel source, boolean inSourceRead) {
    if (sink.isWritable()) {
      source.config().setAutoRead(true);
    } else if (!inSourceRead) {
      source.config().setAutoRead(false);
    }
  }

  /**
   * At the end of a read of {@code source}, once its bytes have been flushed to {@code sink}: if {@code sink} still
   * cannot take more, {@code source} is not read again until it can. This runs before Netty asks for the next read,
   * so no more than one read goes past the sink's high-water mark, as when reading stopped at once.
   */
  private static void pauseIfStillFull(Channel sink, Channel source) {
    if (!sink.isWritable()) {
      source.config().setAutoRead(false);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    // Timers would keep this handler (and its tunnel's state) reachable until they fire: up to --idle-timeout.
    if (keepaliveTimer != null) {
      keepaliveTimer.cancel(false);
    }
    if (idleTimer != null) {
      idleTimer.cancel(false);
    }
    if (prefaceTimer != null) {
      prefaceTimer.cancel(false);
    }
    if (drainPingTimer != null) {
      drainPingTimer.cancel(false);
    }
    closeAttempts(); // connections still being made for a client that has gone
    releasePending();
    releaseClientState();
    if (upstream != null) {
      closeOnceFlushed(upstream, upstream);
    }
    ctx.fireChannelInactive();
  }

  private void releasePending() {
    ByteBuf msg;
    while ((msg = pending.poll()) != null) {
      msg.release();
    }
    budget.release(pendingBytes);
    pendingBytes = 0;
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
      closeOnceFlushed(ctx, ctx.channel());
    }
  }

  /**
   * Starts a drain: GOAWAY and a PING to the client at the next frame boundary of the upstream's stream outside a
   * header block, a second GOAWAY once the PING is acknowledged (see {@link #writeDrainGoAway}), then the close once
   * no call is left. A tunnel or native connection that has not heard from its upstream yet is simply closed. A
   * connection that is neither yet (a health check, a scrape, a client whose upgrade request is on its way) is left
   * to the HTTP answers of a drain: {@code 503} for {@code /healthz} and for new tunnels. Runs on the event loop.
   */
  void drain() {
    if (ended != null || !ctx.channel().isActive() || !started) {
      return; // ended already (a limit, a silent upstream), closed, or not a tunnel or native connection
    }
    if (upstream == null) {
      ctx.close();
      return;
    }
    if (drain != Drain.NONE) {
      return;
    }
    drain = Drain.FIRST_PENDING;
    if (toClient.atBoundary()) {
      writeDrainGoAway();
      ctx.flush();
    }
  }

  /** Whether a GOAWAY of the drain waits for the next boundary between the upstream's frames. */
  private boolean drainGoAwayPending() {
    return drain == Drain.FIRST_PENDING || drain == Drain.SECOND_PENDING;
  }

  /**
   * Writes the drain's next GOAWAY, at a boundary. The first names the largest stream id, since a call the client is
   * starting may already be on its way, and comes with a PING: its ACK proves the client has seen the GOAWAY, so the
   * second can name the last stream the client opened. A stream after it gets none of its request: its header block
   * still goes to the upstream (whose HPACK state must follow the client's), followed by RST_STREAM CANCEL, and the
   * client, told it was not taken, retries it elsewhere (grpc-java's server ignores such streams outright; the
   * upstream here starts the call and sees it cancelled at once, so a streaming method's start may run). A reset of
   * a stream the upstream never made (above a GOAWAY of its own still on its way) would end its connection: a rare
   * race, only with a client that opens calls after the drain's GOAWAY. Without the two GOAWAYs, a call
   * started just as the drain began would be cut, unprocessed but unknown. No GOAWAY names more than one the client
   * was sent before (the upstream may have sent its own).
   */
  private void writeDrainGoAway() {
    ByteBuf frames = ctx.alloc().buffer(2 * PING_FRAME);
    if (drain == Drain.FIRST_PENDING) {
      Http2FrameBoundaries.writeGoAway(frames, lastStreamToldClient, Http2FrameBoundaries.NO_ERROR, "");
      frames.writeMedium(8).writeByte(Http2FrameBoundaries.PING).writeByte(0).writeInt(0).writeLong(DRAIN_PING_DATA);
      drain = Drain.AWAITING_ACK;
      drainPingTimer = schedule(this::drainPingAnswered, TimeUnit.SECONDS.toNanos(DRAIN_PING_TIMEOUT_SECONDS));
    } else {
      lastStreamToldClient = Math.min(lastClientStream, lastStreamToldClient);
      refuseAbove = lastClientStream; // streams up to it were relayed already; the upstream's GOAWAY, if lower, rules
      Http2FrameBoundaries.writeGoAway(frames, lastStreamToldClient, Http2FrameBoundaries.NO_ERROR, "");
      drain = Drain.SENT;
    }
    ctx.write(frames);
    closeIfDrained();
  }

  /** The client acknowledged the drain's PING, or did not in time: the second GOAWAY, at the next boundary. */
  private void drainPingAnswered() {
    if (drain != Drain.AWAITING_ACK) {
      return;
    }
    drainPingTimer.cancel(false);
    drainPingTimer = null;
    drain = Drain.SECOND_PENDING;
    if (toClient.atBoundary() && ended == null && ctx.channel().isActive()) {
      writeDrainGoAway();
      ctx.flush();
    }
  }

  private void clientFrame(int type, int flags, int streamId) {
    if (!settingsSeen && type == Http2FrameBoundaries.SETTINGS && (flags & Http2FrameBoundaries.FLAG_ACK) == 0) {
      settingsSeen = true;
      if (prefaceTimer != null) {
        prefaceTimer.cancel(false);
        prefaceTimer = null;
      }
    }
    if (type == Http2FrameBoundaries.HEADERS && streamId != 0) {
      if (streamId > refuseAbove) {
        // A new stream (not the trailers of one refused before) that the upstream would take: it must not run it.
        // Above the upstream's own GOAWAY the upstream refuses it itself, and a reset of a stream it never made would
        // end its connection.
        if (streamId > lastRefusedStream && streamId <= upstreamLastStream) {
          lastRefusedStream = streamId;
          refusedResets.add(streamId);
          if (resets.exceeded(now())) { // the rapid-reset limit counts the resets the relay makes for the client
            abusive("rst_stream", "more than " + settings.maxRstFrames + " RST_STREAM frames in " + window());
          }
        }
      } else if (openStreams.add(streamId)) {
        lastClientStream = Math.max(lastClientStream, streamId);
      }
    } else if (type == Http2FrameBoundaries.RST_STREAM) {
      if (openStreams.remove(streamId)) {
        streamEnded();
      }
      if (resets.exceeded(now())) {
        abusive("rst_stream", "more than " + settings.maxRstFrames + " RST_STREAM frames in " + window());
      }
    } else if (type == Http2FrameBoundaries.SETTINGS && (flags & Http2FrameBoundaries.FLAG_ACK) == 0) {
      if (settingsFrames.exceeded(now())) {
        abusive("settings", "more than " + settings.maxSettingsFrames + " SETTINGS frames in " + window());
      }
    } else if (type == Http2FrameBoundaries.PING && (flags & Http2FrameBoundaries.FLAG_ACK) == 0) {
      if (pings.exceeded(now())) {
        abusive("ping", "more than " + settings.maxPingFrames + " PING frames in " + window()
            + " without data in between");
      }
    }
  }

  private String window() {
    return settings.window.getSeconds() + " s";
  }

  /**
   * Ends a client that broke a frame limit: its bytes stop here, the upstream connection is closed, and the client
   * gets GOAWAY ENHANCE_YOUR_CALM (when the upstream's byte stream is between frames outside a header block, so
   * that the GOAWAY cannot land inside one) and then, in a tunnel, WebSocket close 1008 saying which limit.
   */
  private void abusive(String frame, String problem) {
    if (ended != null) {
      return;
    }
    tracker.abusiveClientEnded(frame);
    logger.debug("Ending the connection of {}: {}", ctx.channel().remoteAddress(), problem);
    end(problem);
    if (toClient.atBoundary()) {
      ByteBuf goAway = ctx.alloc().buffer();
      lastStreamToldClient = Math.min(lastClientStream, lastStreamToldClient);
      Http2FrameBoundaries.writeGoAway(goAway, lastStreamToldClient, Http2FrameBoundaries.ENHANCE_YOUR_CALM,
          "too_many_" + frame + (frame.endsWith("s") ? "" : "s"));
      ctx.write(goAway);
    }
    ctx.channel().eventLoop().execute(() -> fail(WebSocketCloseStatus.POLICY_VIOLATION, problem));
  }

  /** Stops relaying both ways: the client is not read any more, the upstream connection is closed. */
  private void end(String why) {
    ended = why;
    closeAttempts();
    ctx.channel().config().setAutoRead(false);
    releasePending();
    releaseClientState();
    if (upstream != null) {
      upstream.close();
    }
  }

  private void upstreamFrame(int type, int flags, int streamId) {
    if (type == Http2FrameBoundaries.HEADERS || type == Http2FrameBoundaries.DATA) {
      // As grpc-java's keepalive policy does: pings are fine while the server sends something.
      pings.forgive();
    }
    boolean streamEnds = type == Http2FrameBoundaries.RST_STREAM
        || ((type == Http2FrameBoundaries.HEADERS || type == Http2FrameBoundaries.DATA)
            && (flags & Http2FrameBoundaries.FLAG_END_STREAM) != 0);
    if (streamEnds && openStreams.remove(streamId)) {
      streamEnded();
    }
  }

  private void streamEnded() {
    if (openStreams.isEmpty()) {
      idleSinceNanos = now();
    }
    closeIfDrained();
  }

  /** After the last GOAWAY, the last call to end ends the tunnel, once its bytes have been flushed. */
  private void closeIfDrained() {
    if (drain == Drain.SENT && openStreams.isEmpty()) {
      ctx.channel().eventLoop().execute(() -> closeOnceFlushed(ctx, ctx.channel()));
    }
  }

  /** No call for the idle timeout: drain (the two GOAWAYs, then close 1001 as no call is left). */
  private void idleTick() {
    if (ended != null || drain != Drain.NONE || !ctx.channel().isActive()) {
      return;
    }
    long idle = settings.idleTimeout.toNanos();
    long quiet = now() - idleSinceNanos;
    if (!openStreams.isEmpty()) {
      idleTimer = schedule(this::idleTick, idle);
    } else if (quiet < idle) {
      idleTimer = schedule(this::idleTick, idle - quiet);
    } else {
      logger.debug("Closing {}: no call for {}", ctx.channel().remoteAddress(),
          OptionValues.formatDuration(settings.idleTimeout));
      drain();
    }
  }

  /**
   * The upstream has been silent for the keepalive time while a call is open: ask it with a PING; no answer ends the
   * tunnel. (Without calls nothing is lost, and grpc-java servers by default permit pings only while calls are open.)
   */
  private void keepaliveTick() {
    if (ended != null || !ctx.channel().isActive()) {
      return;
    }
    long interval = settings.upstreamKeepAliveTime.toNanos();
    long quiet = now() - lastUpstreamReadNanos;
    if (openStreams.isEmpty()) {
      keepaliveTimer = schedule(this::keepaliveTick, interval);
      return;
    }
    if (quiet < interval) {
      keepaliveTimer = schedule(this::keepaliveTick, interval - quiet);
      return;
    }
    long readsBefore = upstreamReads;
    if (toUpstream.atBoundary()) {
      writeUpstreamPing();
      upstream.flush();
    } else {
      pingPending = true;
    }
    keepaliveTimer = schedule(() -> {
      if (ended != null || !ctx.channel().isActive()) {
        return;
      }
      if (upstreamReads != readsBefore) {
        keepaliveTick();
      } else {
        upstreamSilent();
      }
    }, settings.upstreamKeepAliveTimeout.toNanos());
  }

  private void writeUpstreamPing() {
    pingPending = false;
    ByteBuf ping = upstream.alloc().buffer(PING_FRAME);
    ping.writeMedium(8).writeByte(Http2FrameBoundaries.PING).writeByte(0).writeInt(0).writeLong(UPSTREAM_PING_DATA);
    upstream.write(ping);
  }

  private void upstreamSilent() {
    String problem = "the upstream gRPC server stopped answering (no reply to an HTTP/2 PING within "
        + settings.upstreamKeepAliveTimeout.toMillis() + " ms)";
    tracker.upstreamSilent(upstreamTarget);
    end(problem);
    fail(WebSocketCloseStatus.TRY_AGAIN_LATER, problem);
  }

  /** Whether the frame at {@code pos} (whole in {@code buf}) is a PING ACK on the connection. */
  private static boolean isPingAck(ByteBuf buf, int pos) {
    return buf.getUnsignedMedium(pos) == 8 && buf.getUnsignedByte(pos + 3) == Http2FrameBoundaries.PING
        && (buf.getUnsignedByte(pos + 4) & Http2FrameBoundaries.FLAG_ACK) != 0
        && (buf.getInt(pos + 5) & Integer.MAX_VALUE) == 0;
  }

  /** Whether the frame at {@code pos} (its header whole in {@code buf}) is a GOAWAY with room for its error code. */
  private static boolean isGoAway(ByteBuf buf, int pos) {
    return buf.getUnsignedByte(pos + 3) == Http2FrameBoundaries.GOAWAY && buf.getUnsignedMedium(pos) >= 8;
  }

  /**
   * The upstream sent GOAWAY ENHANCE_YOUR_CALM (at {@code pos}, its first 17 bytes in {@code buf}): passed on to
   * the client as it is, and a WARN line, as the client's calls on the tunnel fail. A grpc-java upstream says
   * "too_many_pings" when pings come more often than it permits; since relay mode answers clients' PINGs itself,
   * those can only be the gateway's own (--upstream-keepalive).
   */
  private void enhanceYourCalm(ByteBuf buf, int pos, int end) {
    int debugLength = Math.min(Math.min(buf.getUnsignedMedium(pos) - 8, end - pos - PING_FRAME), 64);
    StringBuilder debug = new StringBuilder(debugLength);
    for (int i = 0; i < debugLength; i++) {
      int c = buf.getUnsignedByte(pos + PING_FRAME + i);
      debug.append(c >= 0x20 && c < 0x7f ? (char) c : '?');
    }
    enhanceYourCalmLog.log("Upstream {} sent GOAWAY ENHANCE_YOUR_CALM \"{}\" into a relayed tunnel of {} (its calls"
        + " fail): too_many_pings means it permits fewer pings than the gateway's --upstream-keepalive ({} s) sends;"
        + " permit keepalive pings on it (grpc-java: permitKeepAliveTime) or raise --upstream-keepalive",
        upstreamTarget, debug, ctx.channel().remoteAddress(), settings.upstreamKeepAliveTime.getSeconds());
  }

  /**
   * The upstream side: bytes from the upstream go to the client, with a GOAWAY slipped in when draining and the
   * ACKs of the gateway's own PINGs taken out.
   */
  private final class ToClient extends ChannelInboundHandlerAdapter {
    /** The start of a frame whose header (or PING ACK) the last read cut: kept until it is whole. */
    private ByteBuf carry;

    @Override
    public void channelActive(ChannelHandlerContext upCtx) {
      if (attempts.contains(upCtx.channel())) {
        // The address answered (TCP): RFC 8305's delay is for that, so its TLS handshake, however slow, does not
        // have the next address dialled beside it. A failed handshake still moves on at once.
        cancelNextAttempt();
      }
      upCtx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext upCtx, Object msg) {
      readingUpstream = true;
      if (!(msg instanceof ByteBuf) || upCtx.channel() != upstream || ended != null) {
        ReferenceCountUtil.release(msg);
        return;
      }
      upstreamReads++;
      lastUpstreamReadNanos = now();
      ByteBuf buf = (ByteBuf) msg;
      if (carry != null) {
        buf = Unpooled.wrappedBuffer(carry, buf); // owns both
        carry = null;
      }
      int start = buf.readerIndex(); // the first byte not yet written to the client
      int end = buf.writerIndex();
      int pos = start;
      while (true) {
        if (pingAcks != null && toClient.atBoundary()) {
          if (pos > start) {
            ctx.write(buf.retainedSlice(start, pos - start));
            start = pos;
          }
          writePingAcks();
        }
        if (drainGoAwayPending() && toClient.atBoundary()) {
          if (pos > start) {
            ctx.write(buf.retainedSlice(start, pos - start));
            start = pos;
          }
          writeDrainGoAway();
        }
        if (pos >= end) {
          break;
        }
        if (toClient.betweenFrames()) {
          int available = end - pos;
          if (available < FRAME_HEADER || (available < PING_FRAME && (isPingAck(buf, pos) || isGoAway(buf, pos)))) {
            // A frame header, a PING ACK that may be ours, or the start of a GOAWAY, cut by the read: wait for it.
            // A copy of the few bytes (under 17), not a slice that would hold the whole read buffer meanwhile.
            carry = ctx.alloc().buffer(available).writeBytes(buf, pos, available);
            end = pos;
            break;
          }
          if (isPingAck(buf, pos) && buf.getLong(pos + FRAME_HEADER) == UPSTREAM_PING_DATA) {
            if (pos > start) {
              ctx.write(buf.retainedSlice(start, pos - start));
            }
            pos = toClient.advance(buf, pos, pos + PING_FRAME); // followed, not relayed: the ACK is ours
            start = pos;
            continue;
          }
          if (isGoAway(buf, pos)) {
            int last = buf.getInt(pos + FRAME_HEADER) & Integer.MAX_VALUE;
            upstreamLastStream = Math.min(upstreamLastStream, last);
            if (last > lastStreamToldClient) {
              buf.setInt(pos + FRAME_HEADER, lastStreamToldClient); // the client was told less already: keep it so
            } else {
              lastStreamToldClient = last;
            }
            if (buf.getInt(pos + 13) == Http2FrameBoundaries.ENHANCE_YOUR_CALM) {
              enhanceYourCalm(buf, pos, end);
            }
            ControlFrameHandler control = ctx.pipeline().get(ControlFrameHandler.class);
            if (control != null) {
              // The upstream's connection error, for the tunnel's Close once the upstream has ended (the debug text
              // as far as this read holds it: a GOAWAY is written whole, and mostly read so).
              int debugLength = Math.min(buf.getUnsignedMedium(pos) - 8, end - pos - PING_FRAME);
              control.http2Error(buf.getUnsignedInt(pos + 13),
                  buf.toString(pos + PING_FRAME, debugLength, StandardCharsets.UTF_8));
            }
          }
        }
        pos = toClient.advance(buf, pos, end);
      }
      if (start == buf.readerIndex() && end == buf.writerIndex()) {
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
      if (upCtx.channel() == upstream) {
        pauseIfStillFull(ctx.channel(), upstream);
      }
      readingUpstream = false;
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext upCtx) {
      if (upCtx.channel() == upstream && ended == null) {
        // The client is read only while the upstream can take more.
        followWritability(upstream, ctx.channel(), readingClient);
      }
      upCtx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext upCtx) {
      if (carry != null) {
        carry.release();
        carry = null;
      }
      if (upCtx.channel() != upstream || ended != null) {
        return; // an attempt that failed or lost, or this relay ended it and the client's end
      }
      // The upstream ended: flush what it sent, then end the tunnel (WebSocket close 1001, or the connection error
      // of a GOAWAY it sent: 1002 "HTTP/2 PROTOCOL_ERROR: ...").
      closeOnceFlushed(ctx, ctx.channel());
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext upCtx, Throwable cause) {
      logger.debug("Upstream connection for {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
      upCtx.close();
    }
  }

  /** The upstream connection once connected, else null (for tests; read on the event loop). */
  Channel upstream() {
    return upstream;
  }
}
