package dev.wsgrpc.server;

import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.List;

/**
 * What every browser front end does around its {@link Http2ClientBridge}: it sits in front of gRPC's HTTP/2 server
 * handler, feeds gRPC's outbound bytes into the bridge, stops reading from the socket while gRPC's window for the
 * call is full and reads again once it opens. Subclasses translate their protocol to and from the bridge's calls for
 * the one call in progress ({@link #streamId}, -1 when there is none).
 */
abstract class BridgedCallTranslator extends ChannelDuplexHandler implements Http2ClientBridge.Listener {

  ChannelHandlerContext ctx;
  Http2ClientBridge bridge;
  /** The HTTP/2 stream of the call in progress toward gRPC; -1 when there is none. */
  int streamId = -1;

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    this.bridge = new Http2ClientBridge(ctx, this, requestSize());
  }

  /**
   * Who measured the request messages, for a refusal of one over gRPC's limit: the client, in the length prefix it
   * wrote, unless the translator framed the messages itself.
   */
  Http2ClientBridge.RequestSize requestSize() {
    return Http2ClientBridge.RequestSize.LENGTH_PREFIX;
  }

  @Override
  public final void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof ByteBuf) {
      // gRPC's HTTP/2 bytes: decoded by the bridge, whose listener calls write the browser protocol on.
      bridge.fromServer((ByteBuf) msg);
      promise.trySuccess();
    } else {
      ctx.write(msg, promise);
    }
  }

  /** The {@code grpc-timeout} of the call in progress as handed to gRPC, or null. */
  private CharSequence grpcTimeout;
  /** When the call in progress was handed to gRPC, in the nanoseconds of the event loop's ticker. */
  private long callStartNanos;

  /**
   * Opens a call toward gRPC with {@code headers} and returns its stream id; remembers when, and the call's
   * {@code grpc-timeout}, for {@link #statusForReset}.
   */
  final int openStream(Http2Headers headers) throws Http2Exception {
    // grpc-java's Metadata.get reads the last of several grpc-timeout headers: so does the deadline kept here.
    List<CharSequence> timeouts = headers.getAll("grpc-timeout");
    grpcTimeout = timeouts.isEmpty() ? null : timeouts.get(timeouts.size() - 1);
    callStartNanos = ctx.executor().ticker().nanoTime();
    return bridge.openStream(headers, false);
  }

  /**
   * The status of the call in progress that gRPC reset with {@code error}: gRPC's RESOURCE_EXHAUSTED when it
   * refused a request message over its limit after the response headers (in our words: {@code expected a request
   * message of at most 4194304 bytes but its length prefix said 5242880}, or {@code ... but its protobuf had 5242880}
   * for wsgrpc-json, {@link Http2ClientBridge#refusal});
   * DEADLINE_EXCEEDED when it was a CANCEL once the call's grpc-timeout had elapsed (see
   * {@link BrowserCalls#statusForReset}).
   */
  final Status statusForReset(Http2Error error) {
    Status refusal = error == Http2Error.CANCEL ? bridge.refusal(streamId) : null;
    if (refusal != null) {
      return refusal;
    }
    return BrowserCalls.statusForReset(error, grpcTimeout, ctx.executor().ticker().nanoTime() - callStartNanos);
  }

  /** After passing request data to gRPC: stops reading the socket while gRPC's window for the call is full. */
  final void pauseWhileFull() {
    if (!bridge.isWritable(streamId)) {
      ctx.channel().config().setAutoRead(false);
    }
  }

  /** Reads from the socket again if reading was paused. */
  final void resumeReading() {
    if (!ctx.channel().config().isAutoRead()) {
      ctx.channel().config().setAutoRead(true);
      ctx.read();
    }
  }

  /**
   * Writes part of a response toward the browser. A write that fails (the HTTP/1.1 encoder refused it, the socket
   * broke) leaves the client without a complete answer: the connection closes, from here toward the socket, rather
   * than hang.
   */
  final ChannelFuture send(Object msg) {
    ChannelFuture written = ctx.write(msg);
    written.addListener(f -> {
      if (!f.isSuccess()) {
        ctx.close();
      }
    });
    return written;
  }

  @Override
  public void onWritable(int id) {
    if (id == streamId) {
      resumeReading();
    }
  }

  /**
   * The status of a call whose headers could not be written toward gRPC ({@link #openStream} threw): metadata over
   * gRPC's header-list limit is RESOURCE_EXHAUSTED, as every other over-limit input is; anything else is INTERNAL.
   */
  static Status statusOfOpenFailure(Http2Exception e) {
    if (e instanceof Http2Exception.HeaderListSizeException) {
      return Status.RESOURCE_EXHAUSTED.withDescription(e.getMessage());
    }
    return Status.INTERNAL.withDescription("could not start the call: " + e.getMessage());
  }

  /**
   * The status that ends a call whose first response headers carry an HTTP status other than 200 (a call gRPC's
   * handler refused before it reached a service), or null for a 200.
   */
  static Status statusOfRefusal(Http2Headers responseHeaders) {
    CharSequence status = responseHeaders.status();
    if (status == null || "200".contentEquals(status)) {
      return null;
    }
    int code;
    try {
      code = Integer.parseInt(status.toString());
    } catch (NumberFormatException e) {
      code = 500;
    }
    return BrowserCalls.statusForHttp(code, "the server answered HTTP " + status);
  }
}
