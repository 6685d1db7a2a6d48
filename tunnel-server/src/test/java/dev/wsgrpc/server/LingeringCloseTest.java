package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link LingeringClose} on an {@link EmbeddedChannel}, whose clock the tests move. */
class LingeringCloseTest {

  /** Stands for the handler that answers: what reaches it was not dropped. */
  private final ChannelInboundHandlerAdapter answering = new ChannelInboundHandlerAdapter();
  private final EmbeddedChannel channel = new EmbeddedChannel(answering);

  @AfterEach
  void releaseEverything() {
    channel.finishAndReleaseAll();
  }

  private ChannelHandlerContext answeringContext() {
    return channel.pipeline().context(answering);
  }

  private void answer(boolean bodyUnread) {
    channel.freezeTime();
    ChannelHandlerContext ctx = answeringContext();
    LingeringClose.closeAfter(ctx, ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'o', 'k'})), bodyUnread);
    ByteBuf written = channel.readOutbound();
    assertEquals(2, written.readableBytes(), "the answer goes out first");
    written.release();
  }

  @Test
  void aRequestReadWholeClosesOnceTheAnswerIsOut() {
    answer(false);
    assertFalse(channel.isOpen());
    assertNull(channel.pipeline().get(LingeringClose.NAME));
  }

  @Test
  void whatTheClientStillSendsIsDroppedUntilTheLingerEnds() {
    channel.config().setAutoRead(false); // paused by a handler behind, as a full gRPC window does
    answer(true);
    assertSame(channel.pipeline().first(), channel.pipeline().get(LingeringClose.NAME), "first in the pipeline");
    assertTrue(channel.config().isAutoRead(), "the rest of the body is read, to be dropped");
    ByteBuf more = Unpooled.wrappedBuffer(new byte[1000]);
    channel.writeInbound(more);
    assertEquals(0, more.refCnt(), "dropped and released");
    assertNull(channel.readInbound(), "nothing behind sees it");
    channel.advanceTimeBy(LingeringClose.LINGER_MILLIS - 1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertTrue(channel.isOpen(), "still lingering");
    channel.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertFalse(channel.isOpen(), "closed when the linger ends");
  }

  @Test
  void aClientThatGoesOnSendingPastTheByteLimitIsClosedEarly() {
    answer(true);
    int chunk = 1 << 20;
    for (long sent = 0; sent < LingeringClose.LINGER_BYTES; sent += chunk) {
      channel.writeInbound(Unpooled.wrappedBuffer(new byte[chunk]));
      assertTrue(channel.isOpen(), "within the limit after " + (sent + chunk) + " bytes");
    }
    channel.writeInbound(Unpooled.wrappedBuffer(new byte[1]));
    assertFalse(channel.isOpen(), "one byte over the limit");
  }

  @Test
  void aClientThatEndsItsSideEndsTheLinger() {
    answer(true);
    channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
    assertFalse(channel.isOpen());
  }

  @Test
  void aBodyWhoseEndWasAlreadyReadEndsTheLinger() {
    answer(true);
    assertTrue(channel.isOpen());
    LingeringClose.bodyEnded(channel);
    assertFalse(channel.isOpen(), "nothing is left for the client to send");
  }

  @Test
  void aBodyFollowsARequestThatDeclaresOneAndHasNotEnded() {
    assertTrue(LingeringClose.bodyFollows(post(HttpHeaderNames.CONTENT_LENGTH, "10")));
    assertTrue(LingeringClose.bodyFollows(post(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED)));
    assertTrue(LingeringClose.bodyFollows(post(HttpHeaderNames.TRANSFER_ENCODING, "identity")),
        "a body may follow a Transfer-Encoding that is refused");
    assertFalse(LingeringClose.bodyFollows(post(HttpHeaderNames.CONTENT_LENGTH, "0")));
    assertFalse(LingeringClose.bodyFollows(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/grpc")));
    DefaultFullHttpRequest whole = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/x",
        Unpooled.wrappedBuffer(new byte[10]));
    whole.headers().set(HttpHeaderNames.CONTENT_LENGTH, 10);
    try {
      assertFalse(LingeringClose.bodyFollows(whole), "its body has arrived with it");
    } finally {
      whole.release();
    }
  }

  private static HttpRequest post(CharSequence name, CharSequence value) {
    HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/x");
    request.headers().set(name, value);
    return request;
  }
}
