package dev.wsgrpc.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Closes an HTTP/1.1 connection whose answer went out before the client finished sending its request body, the way
 * nginx's {@code lingering_close} does.
 *
 * <p>Closing a socket that still holds unread bytes makes the kernel answer with a reset, and a reset can overtake
 * the answer written just before it: a browser still uploading then reports a network error ("Failed to fetch")
 * instead of the status we sent. So, once the answer is written, this ends our side of the connection (TLS
 * {@code close_notify}, then a TCP FIN, so the client sees the answer end at once) and reads and drops whatever the
 * client still sends, until the client closes, for at most {@value #LINGER_MILLIS} ms and {@value #LINGER_BYTES}
 * bytes. Then the connection closes. It sits first in the pipeline: nothing behind it sees another byte.
 */
final class LingeringClose extends ChannelInboundHandlerAdapter {

  static final String NAME = "wsgrpc-lingering-close";
  /** How long a client may go on sending after the answer: enough to finish any upload a browser has under way. */
  static final long LINGER_MILLIS = 5_000;
  /** How much a client may go on sending after the answer before the connection closes anyway. */
  static final long LINGER_BYTES = 16L << 20;

  private ChannelHandlerContext ctx;
  private Future<?> deadline;
  private long discarded;
  private boolean answered;
  private boolean bodyEnded;

  private LingeringClose() {
  }

  /**
   * Closes the connection once {@code answer} is written: at once, from {@code ctx} toward the socket, when the
   * request has been read whole ({@code bodyUnread} false); else after lingering, from the head of the pipeline. Both
   * bypass the handlers behind {@code ctx} (gRPC's in particular), which would turn a close into a graceful shutdown
   * that waits for calls.
   */
  static void closeAfter(ChannelHandlerContext ctx, ChannelFuture answer, boolean bodyUnread) {
    Channel channel = ctx.channel();
    if (!bodyUnread || !channel.isActive()) {
      answer.addListener(f -> ctx.close());
      return;
    }
    if (channel.pipeline().get(NAME) != null) {
      return; // lingering already
    }
    LingeringClose lingering = new LingeringClose();
    channel.pipeline().addFirst(NAME, lingering);
    answer.addListener(f -> lingering.answered(f.isSuccess()));
  }

  /**
   * The request's end was read after all (it had arrived together with what was read before the answer): the
   * connection closes once the answer is out, without lingering for more.
   */
  static void bodyEnded(Channel channel) {
    LingeringClose lingering = channel.pipeline().get(LingeringClose.class);
    if (lingering != null) {
      lingering.bodyEnded = true;
      if (lingering.answered) {
        lingering.close();
      }
    }
  }

  /**
   * Whether the body of {@code request}, which has just arrived, is still to be read: it declares one (any
   * Transfer-Encoding does, chunked or not: one that is not is refused, but its body may be on the way).
   */
  static boolean bodyFollows(HttpRequest request) {
    if (request instanceof LastHttpContent || request.decoderResult().isFailure()) {
      return false;
    }
    try {
      return request.headers().contains(io.netty.handler.codec.http.HttpHeaderNames.TRANSFER_ENCODING)
          || HttpUtil.getContentLength(request, 0L) > 0;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    deadline = ctx.executor().schedule(this::close, LINGER_MILLIS, TimeUnit.MILLISECONDS);
    // A handler behind may have paused reading (a full gRPC window): what the client sends must now be drained.
    ctx.channel().config().setAutoRead(true);
    ctx.read();
  }

  private void answered(boolean written) {
    answered = true;
    Channel channel = ctx.channel();
    if (!written || bodyEnded) {
      close();
      return;
    }
    if (!(channel instanceof DuplexChannel)) {
      return;
    }
    SslHandler tls = channel.pipeline().get(SslHandler.class);
    if (tls == null) {
      ((DuplexChannel) channel).shutdownOutput();
    } else {
      tls.closeOutbound().addListener(f -> ((DuplexChannel) channel).shutdownOutput());
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf) {
      discarded += ((ByteBuf) msg).readableBytes(); // first in the pipeline: the socket's bytes, nothing decoded
    }
    ReferenceCountUtil.release(msg);
    if (discarded > LINGER_BYTES) {
      close();
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof ChannelInputShutdownEvent) {
      close(); // the client has sent everything: nothing is left to reset
    }
    ReferenceCountUtil.release(evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    close(); // e.g. the client's reset: there is nobody left to answer
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    deadline.cancel(false);
    ctx.fireChannelInactive();
  }

  private void close() {
    deadline.cancel(false);
    ctx.close();
  }
}
