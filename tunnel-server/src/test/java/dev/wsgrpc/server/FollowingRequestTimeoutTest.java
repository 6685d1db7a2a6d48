package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.cors.CorsConfigBuilder;
import io.netty.handler.codec.http.cors.CorsHandler;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The clocks of following gRPC-Web requests and of the idle time before them, in front of a real HTTP/1.1 codec and
 * CORS step.
 */
class FollowingRequestTimeoutTest {

  private static final long TIMEOUT_MILLIS = 1000;
  private static final long IDLE_MILLIS = 75_000;

  private final AtomicInteger timeouts = new AtomicInteger();
  private final AtomicInteger idles = new AtomicInteger();
  private final AtomicInteger pipelined = new AtomicInteger();
  private final FollowingRequestTimeout timeout = new FollowingRequestTimeout(
      TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MILLIS), timeouts::incrementAndGet,
      TimeUnit.MILLISECONDS.toNanos(IDLE_MILLIS), idles::incrementAndGet, pipelined::incrementAndGet);
  private final EmbeddedChannel channel = new EmbeddedChannel();

  FollowingRequestTimeoutTest() {
    channel.freezeTime(); // the clocks move only when a test says: a busy machine's delays must not count
    channel.pipeline().addLast(FollowingRequestTimeout.NAME, timeout)
        .addLast(ServerUpgradeHandler.HTTP_CODEC, new HttpServerCodec())
        .addLast(FollowingRequestTimeout.HEADS, timeout.headsAfterCodec())
        .addLast(new CorsHandler(CorsConfigBuilder.forAnyOrigin().allowedRequestMethods(
            io.netty.handler.codec.http.HttpMethod.POST).build()));
  }

  @AfterEach
  void release() {
    for (Object out = channel.readOutbound(); out != null; out = channel.readOutbound()) {
      ReferenceCountUtil.release(out);
    }
    channel.finishAndReleaseAll();
  }

  private void read(String bytes) {
    channel.writeInbound(Unpooled.copiedBuffer(bytes, StandardCharsets.US_ASCII));
  }

  private void advance(long millis) {
    channel.advanceTimeBy(millis, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
  }

  @Test
  void aPreflightTheCorsStepAnswersStopsTheClockAndTheNextRequestIsTimedAgain() {
    timeout.awaitRequest();
    read("OPTIONS /pkg.Svc/Echo HTTP/1.1\r\nHost: example.test\r\nOrigin: https://page.example\r\n"
        + "Access-Control-Request-Method: POST\r\n\r\n");
    advance(TIMEOUT_MILLIS * 10);
    assertEquals(0, timeouts.get(), "no 408 for a connection that only carried a preflight and idles");
    read("POST /pkg.Svc/Echo HTTP/1.1\r\n"); // the next request, trickled
    advance(TIMEOUT_MILLIS);
    assertEquals(1, timeouts.get());
  }

  @Test
  void aPreflightPipelinedBehindTheRequestInProgressIsNotAnsweredBeforeThatRequest() {
    timeout.awaitRequest();
    read("POST /pkg.Svc/Echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\n\r\n");
    timeout.requestArrived(); // the translator took it; its answer is still to come
    for (Object in = channel.readInbound(); in != null; in = channel.readInbound()) {
      ReferenceCountUtil.release(in);
    }
    read("OPTIONS /pkg.Svc/Echo HTTP/1.1\r\nHost: example.test\r\nOrigin: https://page.example\r\n"
        + "Access-Control-Request-Method: POST\r\n\r\n");
    assertNull(channel.readOutbound(), "no answer may overtake the one to the request in progress");
    assertEquals(1, pipelined.get());
    Object passed = channel.readInbound();
    assertTrue(passed == null || passed instanceof io.netty.handler.codec.http.LastHttpContent,
        "the pipelined head goes no further: " + passed);
    ReferenceCountUtil.release(passed);
  }

  @Test
  void idleBytesNeverArriveSoTheClockNeverStarts() {
    timeout.awaitRequest();
    advance(TIMEOUT_MILLIS * 10);
    assertEquals(0, timeouts.get());
  }

  @Test
  void aConnectionWithoutAByteOfTheNextRequestIdlesOutOnceAfterTheIdleTimeout() {
    timeout.awaitRequest();
    advance(IDLE_MILLIS - 1);
    assertEquals(0, idles.get());
    advance(1);
    assertEquals(1, idles.get());
    advance(IDLE_MILLIS * 2);
    assertEquals(1, idles.get());
    assertEquals(0, timeouts.get());
  }

  @Test
  void theFirstByteOfTheNextRequestStopsTheIdleClockAndStartsTheHeadsClock() {
    timeout.awaitRequest();
    advance(IDLE_MILLIS - 1);
    read("P");
    advance(TIMEOUT_MILLIS);
    assertEquals(1, timeouts.get());
    advance(IDLE_MILLIS * 2);
    assertEquals(0, idles.get());
  }

  @Test
  void aRequestThatArrivedStopsBothClocks() {
    timeout.awaitRequest();
    read("POST /pkg.Svc/Echo HTTP/1.1\r\n");
    timeout.requestArrived();
    advance(IDLE_MILLIS * 2);
    assertEquals(0, timeouts.get());
    assertEquals(0, idles.get());
  }

  @Test
  void aPreflightTheCorsStepAnswersStartsTheIdleClockAgain() {
    timeout.awaitRequest();
    advance(IDLE_MILLIS - 1);
    read("OPTIONS /pkg.Svc/Echo HTTP/1.1\r\nHost: example.test\r\nOrigin: https://page.example\r\n"
        + "Access-Control-Request-Method: POST\r\n\r\n");
    advance(IDLE_MILLIS - 1);
    assertEquals(0, idles.get(), "the idle time counts from the preflight");
    advance(1);
    assertEquals(1, idles.get());
  }
}
