package dev.wsgrpc.server;

import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2RemoteFlowController;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2Stream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Speaks HTTP/2 as a client to gRPC's HTTP/2 server handler on the same pipeline, so that a browser protocol can be
 * translated into calls without writing HTTP/2 by hand: Netty's own {@link Http2ConnectionHandler} (client side)
 * runs on an {@link EmbeddedChannel} whose outbound bytes are fired inbound from the translator's position toward
 * gRPC's handler, and gRPC's outbound bytes are fed into it.
 *
 * <pre>
 *   translator ── openStream/data ──▶ [embedded HTTP/2 client] ── bytes ──▶ gRPC's HTTP/2 server handler
 *   translator ◀── headers/data/reset ── [embedded HTTP/2 client] ◀── bytes ── gRPC's HTTP/2 server handler
 * </pre>
 *
 * <p>Everything runs on the connection's event loop. Flow control is HTTP/2's own, both ways: data gRPC sends is
 * acknowledged ({@link #consumed}) only once the translator's write of it to the socket completed, so gRPC can run
 * at most one window ahead of a slow browser; data toward gRPC beyond its window waits in the client's flow
 * controller, and the translator stops reading from the socket until {@link Listener#onWritable} (at most one read's
 * worth waits). The embedded channel is released by {@link #close()}.
 */
final class Http2ClientBridge {

  /** What the bridge reports from gRPC's side, on the event loop. */
  interface Listener {
    /** Response headers, or trailers when {@code endStream}; the first headers may already end the stream. */
    void onHeaders(int streamId, Http2Headers headers, boolean endStream);

    /** Response data, owned by the listener; call {@link #consumed} once it has been written on. */
    void onData(int streamId, ByteBuf data, boolean endStream);

    /** gRPC reset the stream (e.g. the call was cancelled or broke a limit). */
    void onReset(int streamId, Http2Error error);

    /** A stream that was not writable toward gRPC (its window exhausted) can take data again. */
    void onWritable(int streamId);

    /** gRPC is shutting down (GOAWAY): calls in flight finish, no new ones may start. */
    void onGoAway();

    /** The HTTP/2 connection toward gRPC ended (GOAWAY, a protocol error, or gRPC closed the connection). */
    void onClosed();
  }

  /** grpc-java's words (MessageDeframer) for a message whose length prefix is over its limit: limit, then length. */
  private static final Pattern GRPC_MESSAGE_TOO_LARGE =
      Pattern.compile("gRPC message exceeds maximum size (\\d+): (\\d+)");

  /**
   * Tells a bridge why gRPC ended one of its streams, when gRPC's RST_STREAM alone would not: a request message over
   * gRPC's limit that arrives once the response headers went out (a streaming call's service answered first) ends
   * the stream with RST_STREAM CANCEL, the status ({@code 8 gRPC message exceeds maximum size 4194304: 5242880})
   * going only to gRPC's own listeners and stream tracers. gRPC makes a stream's tracer while it reads the headers
   * the bridge hands it, so the tracer knows its bridge; streams not opened by a bridge get one that does nothing.
   * Installed on every server from {@link WebSocketServers} that serves browser protocols.
   */
  static final ServerStreamTracer.Factory REFUSALS = new ServerStreamTracer.Factory() {
    @Override
    public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
      Http2ClientBridge bridge = DELIVERING.get();
      return bridge == null ? NO_REFUSALS : bridge.new RefusalTracer(bridge.connection.local().lastStreamCreated());
    }
  };

  private static final ServerStreamTracer NO_REFUSALS = new ServerStreamTracer() {};

  /** The bridge whose bytes gRPC's handler is reading on this thread, if any. */
  private static final ThreadLocal<Http2ClientBridge> DELIVERING = new ThreadLocal<>();

  /** The client's receive window per stream: how far gRPC may run ahead of a slow browser. */
  static final int INITIAL_WINDOW = 256 * 1024;

  /** Who measured the request messages gRPC may refuse, and how a refusal says their size. */
  enum RequestSize {
    /** The client wrote each message's length prefix (gRPC-Web, grpc-websockets). */
    LENGTH_PREFIX("its length prefix said"),
    /** The translator converted the client's message to protobuf and framed it (wsgrpc-json). */
    PROTOBUF("its protobuf had");

    /** The words before the size: {@code ... but its length prefix said 5242880}. */
    final String words;

    RequestSize(String words) {
      this.words = words;
    }
  }

  private final ChannelHandlerContext ctx;
  private final Listener listener;
  private final RequestSize requestSize;
  private final Http2Connection connection = new DefaultHttp2Connection(false);
  private EmbeddedChannel embedded;
  private Http2ConnectionHandler http2;
  private ChannelHandlerContext http2Ctx;
  private boolean started;
  private boolean drainScheduled;
  private boolean closed;
  /** The stream gRPC last refused with RESOURCE_EXHAUSTED ({@link #REFUSALS}), and its status; -1 and null before. */
  private int refusedStream = -1;
  private Status refusal;

  /**
   * @param ctx the translator's context: bytes for gRPC are fired inbound from here
   * @param requestSize how gRPC's refusal of a request message over its limit says the message's size
   *     (see {@link #inOurWords(Http2Headers, RequestSize)})
   */
  Http2ClientBridge(ChannelHandlerContext ctx, Listener listener, RequestSize requestSize) {
    this.ctx = ctx;
    this.listener = listener;
    this.requestSize = requestSize;
    init();
  }

  /** Sets up the HTTP/2 client: what it writes (its preface first) waits for {@link #start()}. */
  private void init() {
    http2 = new Http2ConnectionHandlerBuilder()
        .connection(connection)
        .initialSettings(Http2Settings.defaultSettings().pushEnabled(false).initialWindowSize(INITIAL_WINDOW))
        .frameListener(new FrameListener())
        .build();
    connection.remote().flowController().listener(new Http2RemoteFlowController.Listener() {
      @Override
      public void writabilityChanged(Http2Stream stream) {
        if (!closed && connection.remote().flowController().isWritable(stream)) {
          listener.onWritable(stream.id());
        }
      }
    });
    embedded = new EmbeddedChannel(http2);
    http2Ctx = embedded.pipeline().context(http2);
    embedded.closeFuture().addListener(f -> {
      if (!closed) {
        closed = true;
        listener.onClosed();
      }
    });
  }

  /** Sends the HTTP/2 preface and settings toward gRPC. Call once gRPC's handler follows the translator. */
  void start() {
    started = true;
    drain();
  }

  /**
   * Opens a stream toward gRPC with {@code headers} (pseudo-headers included) and returns its id. The headers reach
   * gRPC once the caller's task has returned (or with the caller's next {@link #data}): gRPC may reset the stream
   * while it reads them (a header it cannot accept), and the caller must know the id by then to take the reset as
   * its own.
   */
  int openStream(Http2Headers headers, boolean endStream) throws Http2Exception {
    int streamId = connection.local().incrementAndGetNextStreamId();
    ChannelFuture written = http2.encoder().writeHeaders(http2Ctx, streamId, headers, 0, endStream,
        http2Ctx.newPromise());
    // The headers are encoded as they are written: a failure (e.g. metadata over the header-list limit gRPC announced)
    // is known by now. Netty's handler has closed the stream without telling gRPC, which never saw it.
    if (written.isDone() && !written.isSuccess()) {
      throw openFailure(streamId, headers, written.cause());
    }
    written.addListener(f -> {
      if (!f.isSuccess() && !closed) {
        listener.onReset(streamId, Http2Error.INTERNAL_ERROR);
      }
    });
    drainLater();
    return streamId;
  }

  /** Why a stream's headers could not be written toward gRPC, in words that say what was expected and what was. */
  private Http2Exception openFailure(int streamId, Http2Headers headers, Throwable cause) {
    if (cause instanceof Http2Exception.HeaderListSizeException) {
      long max = http2.encoder().configuration().headersConfiguration().maxHeaderListSize();
      return Http2Exception.headerListSizeError(streamId, Http2Error.PROTOCOL_ERROR, false,
          "expected metadata of at most %d bytes but it had %d", max, headerListSize(headers));
    }
    if (cause instanceof Http2Exception) {
      return (Http2Exception) cause;
    }
    return Http2Exception.streamError(streamId, Http2Error.INTERNAL_ERROR, cause,
        "could not write the call's headers: %s", cause);
  }

  /**
   * gRPC's trailers, with its refusal of a request message over the server's {@code maxInboundMessageSize} in our
   * words: {@code 8 RESOURCE_EXHAUSTED} {@code expected a request message of at most 4194304 bytes but its length
   * prefix said 5242880} for grpc-java's {@code gRPC message exceeds maximum size 4194304: 5242880}, or {@code ... but
   * its protobuf had 5242880} where the client sent no length prefix ({@link RequestSize#PROTOBUF}:
   * wsgrpc-json, whose translator converted the client's JSON to protobuf and framed it). gRPC refuses the message on
   * its 5-byte header, before it reads any of its bytes; only gRPC knows its limit (its builder's), so the limit is
   * read from its refusal. Other trailers are returned unchanged.
   */
  static Http2Headers inOurWords(Http2Headers trailers, RequestSize requestSize) {
    CharSequence status = trailers.get("grpc-status");
    CharSequence message = trailers.get("grpc-message");
    if (status == null || message == null || !"8".contentEquals(status)) {
      return trailers;
    }
    trailers.set("grpc-message", inOurWords(message, requestSize));
    return trailers;
  }

  /** gRPC's description of a RESOURCE_EXHAUSTED status, in our words when it refused a message over its limit. */
  private static CharSequence inOurWords(CharSequence description, RequestSize requestSize) {
    Matcher tooLarge = GRPC_MESSAGE_TOO_LARGE.matcher(description);
    if (!tooLarge.matches()) {
      return description;
    }
    return "expected a request message of at most " + tooLarge.group(1) + " bytes but " + requestSize.words + " "
        + tooLarge.group(2);
  }

  /**
   * Why gRPC ended {@code streamId} with RST_STREAM CANCEL, in our words, when it refused the stream with
   * RESOURCE_EXHAUSTED ({@link #REFUSALS}: a request message over its limit after the response headers); else null.
   */
  Status refusal(int streamId) {
    if (refusal == null || streamId != refusedStream) {
      return null;
    }
    return refusal.withDescription(refusal.getDescription() == null ? null
        : inOurWords(refusal.getDescription(), requestSize).toString());
  }

  /** The size of {@code headers} as HTTP/2's header-list limit counts it: name, value and 32 bytes per field. */
  static long headerListSize(Http2Headers headers) {
    long size = 0;
    for (java.util.Map.Entry<CharSequence, CharSequence> header : headers) {
      size += header.getKey().length() + header.getValue().length() + 32;
    }
    return size;
  }

  /**
   * Sends {@code data} (ownership passes) on a stream toward gRPC, within HTTP/2 flow control. The pieces a read of
   * the socket brings leave together, flushed once that read is handled (or at the stream's end), so that Netty's
   * flow controller merges them into DATA frames of up to gRPC's frame size: gRPC holds each DATA frame of a message
   * it is assembling as a piece of its own, with some 200 bytes of objects, until the message is whole, so a 4 MiB
   * request sent in one-byte chunks or fragments would make it hold some 4 million such pieces, about 1 GiB.
   */
  void data(int streamId, ByteBuf data, boolean endStream) {
    if (closed || connection.stream(streamId) == null) {
      data.release();
      return;
    }
    http2.encoder().writeData(http2Ctx, streamId, data, 0, endStream, http2Ctx.newPromise());
    if (endStream) {
      drain();
    } else {
      drainLater();
    }
  }

  /** Whether a stream toward gRPC can take more data now (its HTTP/2 window is open). */
  boolean isWritable(int streamId) {
    Http2Stream stream = connection.stream(streamId);
    return stream == null || closed || connection.remote().flowController().isWritable(stream);
  }

  /** Cancels a stream toward gRPC (RST_STREAM CANCEL): the call ends as cancelled. */
  void cancel(int streamId) {
    Http2Stream stream = connection.stream(streamId);
    if (closed || stream == null) {
      return;
    }
    http2.resetStream(http2Ctx, streamId, Http2Error.CANCEL.code(), http2Ctx.newPromise());
    drain();
  }

  /** Feeds bytes gRPC wrote (ownership passes); the frames come out through the {@link Listener}. */
  void fromServer(ByteBuf bytes) {
    if (closed) {
      bytes.release();
      return;
    }
    embedded.writeInbound(bytes);
    // Answers such as SETTINGS acks and WINDOW_UPDATEs go to gRPC later: gRPC is in the middle of writing now.
    drainLater();
  }

  /** The translator has written {@code bytes} of a stream's data on: gRPC may send that much more. */
  void consumed(int streamId, int bytes) {
    Http2Stream stream = connection.stream(streamId);
    if (closed || stream == null || bytes == 0) {
      return;
    }
    try {
      connection.local().flowController().consumeBytes(stream, bytes);
    } catch (Http2Exception e) {
      ctx.fireExceptionCaught(e);
      return;
    }
    drain();
  }

  /** Ends the bridge and releases everything it holds. */
  void close() {
    closed = true;
    // Streams still open end here, so that the flow controller releases data waiting beyond gRPC's window. Closing the
    // embedded channel alone would not: Netty's HTTP/2 handler closes gracefully, waiting for open streams on a timer
    // the embedded event loop never runs.
    try {
      connection.forEachActiveStream(stream -> {
        stream.close();
        return true;
      });
    } catch (Http2Exception e) {
      throw new IllegalStateException(e); // Closing a stream does not throw.
    }
    embedded.finishAndReleaseAll();
  }

  private void drainLater() {
    if (!drainScheduled) {
      drainScheduled = true;
      ctx.executor().execute(() -> {
        drainScheduled = false;
        drain();
      });
    }
  }

  /** Passes every byte the embedded client wrote to gRPC's handler. */
  private void drain() {
    if (!started || closed) {
      // Not yet, or never again: a drain scheduled before close() finds the embedded channel gone.
      return;
    }
    embedded.flushOutbound();
    boolean any = false;
    Http2ClientBridge outer = DELIVERING.get(); // a drain under way on this thread, if gRPC called back into one
    DELIVERING.set(this);
    try {
      for (Object out; (out = embedded.readOutbound()) != null; ) {
        if (closed || !ctx.channel().isActive()) {
          io.netty.util.ReferenceCountUtil.release(out);
          continue;
        }
        any = true;
        ctx.fireChannelRead(out);
      }
      if (any) {
        ctx.fireChannelReadComplete();
      }
    } finally {
      if (outer == null) {
        DELIVERING.remove();
      } else {
        DELIVERING.set(outer);
      }
    }
  }

  /** Keeps gRPC's RESOURCE_EXHAUSTED for one of the bridge's streams, as gRPC closes the stream on the event loop. */
  private final class RefusalTracer extends ServerStreamTracer {
    private final int streamId;

    RefusalTracer(int streamId) {
      this.streamId = streamId;
    }

    @Override
    public void streamClosed(Status status) {
      if (status.getCode() == Status.Code.RESOURCE_EXHAUSTED && ctx.executor().inEventLoop()) {
        refusedStream = streamId;
        refusal = status;
      }
    }
  }

  private final class FrameListener extends Http2FrameAdapter {
    @Override
    public void onHeadersRead(ChannelHandlerContext c, int streamId, Http2Headers headers, int padding,
        boolean endOfStream) {
      listener.onHeaders(streamId, endOfStream ? inOurWords(headers, requestSize) : headers, endOfStream);
    }

    @Override
    public void onHeadersRead(ChannelHandlerContext c, int streamId, Http2Headers headers, int streamDependency,
        short weight, boolean exclusive, int padding, boolean endOfStream) {
      listener.onHeaders(streamId, endOfStream ? inOurWords(headers, requestSize) : headers, endOfStream);
    }

    @Override
    public int onDataRead(ChannelHandlerContext c, int streamId, ByteBuf data, int padding, boolean endOfStream) {
      listener.onData(streamId, data.retain(), endOfStream);
      // The data counts as processed once written on (consumed()); padding at once.
      return padding;
    }

    @Override
    public void onRstStreamRead(ChannelHandlerContext c, int streamId, long errorCode) {
      Http2Error error = Http2Error.valueOf(errorCode);
      listener.onReset(streamId, error == null ? Http2Error.INTERNAL_ERROR : error);
    }

    @Override
    public void onGoAwayRead(ChannelHandlerContext c, int lastStreamId, long errorCode, ByteBuf debugData) {
      // Streams up to lastStreamId finish normally; the translator stops opening new ones.
      listener.onGoAway();
    }
  }
}
