package dev.wsgrpc.server;

import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.DefaultHttp2FrameReader;
import io.netty.handler.codec.http2.DefaultHttp2FrameWriter;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2FrameReader;
import io.netty.handler.codec.http2.Http2FrameWriter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Refuses a native gRPC connection (one that sent the HTTP/2 preface) in the words its client understands: it sends
 * the server's SETTINGS, reads the client's frames up to its first HEADERS (its first call), ends that call
 * trailers-only with the refusal's gRPC status ({@code UNAVAILABLE} for a 503, the reason as {@code grpc-message}),
 * then sends GOAWAY NO_ERROR naming that call's stream as the last, and closes. A client that starts no call before
 * the handshake deadline gets GOAWAY with the reason as debug data.
 *
 * <p>It ends the call rather than only the connection because gRPC clients retry at once, up to a thousand times, a
 * call that a GOAWAY left unsent; a call answered with a status is not retried. Holds at most one frame of at most
 * {@value Http2CodecUtil#DEFAULT_MAX_FRAME_SIZE} bytes; a larger or malformed frame ends the connection with GOAWAY.
 */
final class NativeCallRefuser extends ByteToMessageDecoder {

  static final String NAME = "wsgrpc-native-refusal";
  private static final int PREFACE_LENGTH = Http2CodecUtil.connectionPrefaceBuf().readableBytes();

  private final Status status;
  private final String reason;
  private final long timeoutMillis;
  private final Http2FrameReader reader = new DefaultHttp2FrameReader(false);
  private final Http2FrameWriter writer = new DefaultHttp2FrameWriter();
  private int prefaceLeft = PREFACE_LENGTH;
  private boolean done;
  private ScheduledFuture<?> timeout;

  /**
   * @param httpStatus the HTTP status a tunnel would have been refused with, mapped to the call's gRPC status
   * @param reason why, for the client; never a secret
   * @param timeoutMillis how long to wait for the client's first call: what is left of the handshake timeout
   */
  NativeCallRefuser(int httpStatus, String reason, long timeoutMillis) {
    this.status = BrowserCalls.statusForHttp(httpStatus, reason);
    this.reason = reason;
    this.timeoutMillis = timeoutMillis;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    writer.writeSettings(ctx, new Http2Settings(), ctx.newPromise());
    ctx.flush();
    timeout = ctx.executor().schedule(() -> goAway(ctx, 0), timeoutMillis, TimeUnit.MILLISECONDS);
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (done) {
      in.skipBytes(in.readableBytes());
      return;
    }
    if (prefaceLeft > 0) {
      int skipped = Math.min(prefaceLeft, in.readableBytes());
      in.skipBytes(skipped);
      prefaceLeft -= skipped;
      return;
    }
    try {
      reader.readFrame(ctx, in, new Http2FrameAdapter() {
        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding,
            boolean endOfStream) {
          answer(ctx, streamId);
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int streamDependency,
            short weight, boolean exclusive, int padding, boolean endOfStream) {
          answer(ctx, streamId);
        }
      });
    } catch (Http2Exception e) {
      in.skipBytes(in.readableBytes());
      goAway(ctx, 0);
    }
  }

  /** Ends the call on {@code streamId} with the refusal's status, then the connection. */
  private void answer(ChannelHandlerContext ctx, int streamId) {
    if (done) {
      return;
    }
    Http2Headers trailersOnly = BrowserCalls.statusTrailers(status).status("200").set("content-type",
        "application/grpc");
    writer.writeHeaders(ctx, streamId, trailersOnly, 0, true, ctx.newPromise());
    goAway(ctx, streamId);
  }

  private void goAway(ChannelHandlerContext ctx, int lastStreamId) {
    if (done) {
      return;
    }
    done = true;
    timeout.cancel(false);
    ChannelPromise sent = ctx.newPromise();
    writer.writeGoAway(ctx, lastStreamId, Http2Error.NO_ERROR.code(), ByteBufUtil.writeUtf8(ctx.alloc(), reason),
        sent);
    ctx.flush();
    sent.addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  protected void handlerRemoved0(ChannelHandlerContext ctx) {
    if (timeout != null) {
      timeout.cancel(false);
    }
    reader.close();
    writer.close();
  }
}
