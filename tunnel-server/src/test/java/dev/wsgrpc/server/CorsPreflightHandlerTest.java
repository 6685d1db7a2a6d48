package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The CORS step before a real HTTP/1.1 codec, toward a socket that sends what it is given or holds it unsent. */
class CorsPreflightHandlerTest {

  private static final String PREFLIGHT = "OPTIONS /pkg.Svc/Echo HTTP/1.1\r\nHost: example.test\r\n"
      + "Origin: https://page.example\r\nAccess-Control-Request-Method: POST\r\n\r\n";

  private final EmbeddedChannel channel = new EmbeddedChannel();
  /** Whether flushes reach the channel (a client that reads) or stop before it (one that does not). */
  private boolean clientReads = true;
  private int requestsPassedOn;
  /** Bytes of answers written toward the socket. */
  private long bytesWritten;

  CorsPreflightHandlerTest() {
    channel.config().setWriteBufferWaterMark(new WriteBufferWaterMark(2048, 4096));
    channel.pipeline().addLast(new ChannelOutboundHandlerAdapter() {
      @Override
      public void write(ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise promise) {
        bytesWritten += ((ByteBuf) msg).readableBytes();
        ctx.write(msg, promise);
      }

      @Override
      public void flush(ChannelHandlerContext ctx) {
        if (clientReads) {
          ctx.flush();
        }
      }
    }).addLast(new HttpServerCodec())
        .addLast(new CorsPreflightHandler(BrowserOptions.forOrigins("*").cors()))
        .addLast(new io.netty.channel.ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpRequest) {
              requestsPassedOn++;
            }
            ReferenceCountUtil.release(msg);
          }
        });
  }

  @AfterEach
  void release() {
    channel.finishAndReleaseAll();
  }

  private void read(String text, int times) {
    channel.writeInbound(Unpooled.copiedBuffer(text.repeat(times), StandardCharsets.US_ASCII));
  }

  private int answersSent() {
    int answers = 0;
    for (Object out = channel.readOutbound(); out != null; out = channel.readOutbound()) {
      if (((ByteBuf) out).toString(StandardCharsets.US_ASCII).startsWith("HTTP/1.1 200 OK")) {
        answers++;
      }
      ReferenceCountUtil.release(out);
    }
    return answers;
  }

  @Test
  void preflightsOfAClientThatReadsAreAllAnsweredOnAConnectionThatStaysOpen() {
    read(PREFLIGHT, 200);
    assertEquals(200, answersSent());
    assertTrue(channel.isOpen());
  }

  @Test
  void aPreflightArrivingWhileTheAnswersBeforeItWaitUnsentClosesTheConnection() {
    clientReads = false;
    read(PREFLIGHT, 1000);
    assertFalse(channel.isOpen(), "a client that reads none of its answers is not answered without end");
    // The high water mark counts some bytes of bookkeeping for each buffer as well.
    assertTrue(bytesWritten > 2048 && bytesWritten < 4096 + 1024,
        "answers were queued up to the high water mark and no further: " + bytesWritten + " bytes");
  }

  @Test
  void otherRequestsGoOnToTheNextStepWhileAnswersWait() {
    clientReads = false;
    for (int i = 0; i < 100 && channel.isWritable(); i++) {
      read(PREFLIGHT, 1);
    }
    assertFalse(channel.isWritable());
    read("POST /pkg.Svc/Echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\n\r\n", 1);
    assertEquals(1, requestsPassedOn, "the next step answers it, or closes, as it does any request");
    assertTrue(channel.isOpen());
  }
}
