package dev.wsgrpc.server;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.cors.CorsConfig;
import io.netty.handler.codec.http.cors.CorsHandler;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CORS step of the HTTP/1.1 phase: Netty's {@link CorsHandler}, which answers CORS preflights itself and adds the
 * CORS headers to the other answers, and which closes the connection when a preflight arrives while the answers
 * before it still wait to be sent (the channel is not writable: more than its high water mark, 64 KiB by default, is
 * queued). A browser sends its next request on a connection only once it has read the answer before (no browser
 * pipelines HTTP/1.1), so only a client that does not read its answers gets there, or one that pipelines some 250
 * preflights at once (the answers to one read are flushed when the read is handled); answering it would queue two
 * to four bytes of answer (265 for a preflight of 121) for every byte it sends, for as long as the handshake or
 * keep-alive timeout lets it. What the connection queues is so bounded by the high water mark and one answer.
 */
final class CorsPreflightHandler extends CorsHandler {

  private static final Logger logger = LoggerFactory.getLogger(CorsPreflightHandler.class);

  /** Closed here: what the rest of the read brings is dropped. */
  private boolean closing;

  CorsPreflightHandler(CorsConfig config) {
    super(config);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
    if (closing) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (msg instanceof HttpRequest && isPreflight((HttpRequest) msg) && !ctx.channel().isWritable()) {
      ReferenceCountUtil.release(msg);
      closing = true;
      logger.debug("Closed the connection of {}: a CORS preflight arrived while the answers before it were unread",
          ctx.channel().remoteAddress());
      ctx.close();
      return;
    }
    super.channelRead(ctx, msg);
  }

  /** A preflight as {@link CorsHandler} tells one: OPTIONS with {@code Origin} and the method it asks about. */
  private static boolean isPreflight(HttpRequest request) {
    return request.method().equals(HttpMethod.OPTIONS)
        && request.headers().contains(HttpHeaderNames.ORIGIN)
        && request.headers().contains(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD);
  }
}
