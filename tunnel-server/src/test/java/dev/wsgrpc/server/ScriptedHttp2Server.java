package dev.wsgrpc.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Stands where gRPC's HTTP/2 server handler stands behind a browser translator: Netty's real server-side
 * {@link Http2ConnectionHandler}, recording what arrives per stream and answering as a test script says (headers,
 * gRPC length-prefixed messages, trailers, resets). Unit tests of the translators run it on an {@link EmbeddedChannel}.
 */
final class ScriptedHttp2Server {

  /** What one stream received. */
  static final class Stream {
    final int id;
    Http2Headers headers;
    final CompositeByteBuf data = Unpooled.compositeBuffer();
    boolean ended;
    Long resetCode;
    /** How many DATA frames arrived. */
    int dataFrames;

    Stream(int id) {
      this.id = id;
    }
  }

  final List<Stream> streams = new ArrayList<>();
  /** Whether received data counts as processed at once (else {@link #consume} returns it, as gRPC does on demand). */
  boolean autoConsume = true;
  /**
   * When set, each stream is reset with this error while its headers are read, and the reset is flushed at once:
   * what gRPC's handler does with headers it cannot accept (a malformed {@code -bin} value, say).
   */
  Http2Error resetOnHeaders;
  final Http2ConnectionHandler handler;

  ScriptedHttp2Server() {
    this(Http2Settings.defaultSettings());
  }

  ScriptedHttp2Server(Http2Settings settings) {
    handler = new Http2ConnectionHandlerBuilder().server(true).initialSettings(settings)
        .frameListener(new Http2FrameAdapter() {
          @Override
          public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding,
              boolean endOfStream) {
            Stream stream = new Stream(streamId);
            stream.headers = headers;
            stream.ended = endOfStream;
            streams.add(stream);
            if (resetOnHeaders != null) {
              handler.resetStream(ctx, streamId, resetOnHeaders.code(), ctx.newPromise());
              handler.flush(ctx);
            }
          }

          @Override
          public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers,
              int streamDependency, short weight, boolean exclusive, int padding, boolean endOfStream) {
            onHeadersRead(ctx, streamId, headers, padding, endOfStream);
          }

          @Override
          public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding,
              boolean endOfStream) {
            Stream stream = stream(streamId);
            stream.data.addComponent(true, data.retain());
            stream.dataFrames++;
            stream.ended |= endOfStream;
            return autoConsume ? data.readableBytes() + padding : padding;
          }

          @Override
          public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) {
            stream(streamId).resetCode = errorCode;
          }
        }).build();
  }

  Stream stream(int id) {
    for (Stream stream : streams) {
      if (stream.id == id) {
        return stream;
      }
    }
    throw new AssertionError("no stream " + id + " arrived; streams: " + streams.size());
  }

  Stream only() {
    if (streams.size() != 1) {
      throw new AssertionError("expected one stream but " + streams.size() + " arrived");
    }
    return streams.get(0);
  }

  private ChannelHandlerContext ctx(EmbeddedChannel channel) {
    return channel.pipeline().context(handler);
  }

  void headers(EmbeddedChannel channel, int streamId, Http2Headers headers, boolean endStream) {
    ChannelHandlerContext ctx = ctx(channel);
    handler.encoder().writeHeaders(ctx, streamId, headers, 0, endStream, ctx.newPromise());
    handler.flush(ctx);
    channel.runPendingTasks();
  }

  void responseHeaders(EmbeddedChannel channel, int streamId) {
    headers(channel, streamId, new DefaultHttp2Headers().status("200").set("content-type", "application/grpc")
        .set("x-answer", "yes"), false);
  }

  void trailers(EmbeddedChannel channel, int streamId, int grpcStatus, String message) {
    Http2Headers trailers = new DefaultHttp2Headers().set("grpc-status", Integer.toString(grpcStatus));
    if (message != null) {
      trailers.set("grpc-message", message);
    }
    headers(channel, streamId, trailers, true);
  }

  void data(EmbeddedChannel channel, int streamId, ByteBuf data, boolean endStream) {
    ChannelHandlerContext ctx = ctx(channel);
    handler.encoder().writeData(ctx, streamId, data, 0, endStream, ctx.newPromise());
    handler.flush(ctx);
    channel.runPendingTasks();
  }

  /** Returns {@code bytes} of a stream's received data to its window (WINDOW_UPDATE as the ratio decides). */
  void consume(EmbeddedChannel channel, int streamId, int bytes) throws Exception {
    ChannelHandlerContext ctx = ctx(channel);
    handler.connection().local().flowController().consumeBytes(handler.connection().stream(streamId), bytes);
    handler.flush(ctx);
    channel.runPendingTasks();
  }

  void reset(EmbeddedChannel channel, int streamId, Http2Error error) {
    ChannelHandlerContext ctx = ctx(channel);
    handler.resetStream(ctx, streamId, error.code(), ctx.newPromise());
    handler.flush(ctx);
    channel.runPendingTasks();
  }

  /** Releases what the streams received. */
  void release() {
    for (Stream stream : streams) {
      stream.data.release();
    }
  }

  /** A gRPC length-prefixed message (uncompressed) holding {@code text}. */
  static ByteBuf grpcMessage(String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    return Unpooled.buffer(5 + bytes.length).writeByte(0).writeInt(bytes.length).writeBytes(bytes);
  }

  static String grpcMessageText(ByteBuf framed) {
    return framed.toString(framed.readerIndex() + 5, framed.readableBytes() - 5, StandardCharsets.UTF_8);
  }
}
