package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.NotSslRecordException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class RateLimitedLogTest {

  private final Logger logger = (Logger) LoggerFactory.getLogger("RateLimitedLogTest");
  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
  private final AtomicLong now = new AtomicLong(1_000_000);

  @BeforeEach
  void capture() {
    lines.start();
    logger.addAppender(lines);
  }

  @AfterEach
  void release() {
    logger.detachAppender(lines);
  }

  private RateLimitedLog log(int burst, Duration period) {
    return new RateLimitedLog(logger, RateLimitedLog.Level.INFO, burst, period, now::get);
  }

  private List<String> messages() {
    return lines.list.stream().map(ILoggingEvent::getFormattedMessage).collect(Collectors.toList());
  }

  @Test
  void aBurstGetsThroughThenLinesAreCountedAndReportedWithTheNextOne() {
    RateLimitedLog log = log(3, Duration.ofSeconds(3));
    for (int i = 0; i < 10; i++) {
      log.log("peer {} failed", i);
    }
    assertEquals(List.of("peer 0 failed", "peer 1 failed", "peer 2 failed"), messages());
    assertEquals(7, log.suppressed());
    now.addAndGet(TimeUnit.SECONDS.toNanos(1)); // one token back
    log.log("peer {} failed", 10);
    log.log("peer {} failed", 11);
    assertEquals("peer 10 failed (7 more like this suppressed)", messages().get(3));
    assertEquals(4, messages().size());
    assertEquals(8, log.suppressed());
  }

  @Test
  void aThousandLinesAtOnceLogAtMostTheBurst() {
    RateLimitedLog log = new RateLimitedLog(logger, RateLimitedLog.Level.INFO);
    for (int i = 0; i < 1000; i++) {
      log.log("TLS handshake with {} failed: {}", "/192.0.2.1:" + i, new SSLHandshakeException("bad"));
    }
    assertEquals(RateLimitedLog.DEFAULT_BURST, lines.list.size());
    assertEquals(1000 - RateLimitedLog.DEFAULT_BURST, log.suppressed());
  }

  @Test
  void throwablesAreOneLineNeverAStackTrace() {
    log(5, Duration.ofSeconds(10)).log("closing {}: {}", "peer", new DecoderException(new SSLHandshakeException(
        "Received fatal alert: certificate_unknown")));
    ILoggingEvent line = lines.list.get(0);
    assertNull(line.getThrowableProxy());
    assertEquals("closing peer: SSLHandshakeException: Received fatal alert: certificate_unknown",
        line.getFormattedMessage());
  }

  @Test
  void aPlainTextRecordIsNotDumped() {
    // The bytes of "GET / HTTP/1.1\r\nAuthorization: Bearer secret" in hex, as Netty puts them in its message.
    String dump = "474554202f20485454502f312e310d0a417574686f72697a6174696f6e3a20426561726572207365637265740d0a";
    assertEquals("not a TLS record (plain text sent to a TLS port?)",
        RateLimitedLog.describe(new DecoderException(new NotSslRecordException("not an SSL/TLS record: " + dump))));
  }

  @Test
  void aLevelThatIsOffSpendsNoToken() {
    RateLimitedLog debug = new RateLimitedLog(logger, RateLimitedLog.Level.DEBUG, 1, Duration.ofSeconds(10),
        now::get);
    logger.setLevel(ch.qos.logback.classic.Level.INFO);
    try {
      debug.log("hidden");
      logger.setLevel(ch.qos.logback.classic.Level.DEBUG);
      debug.log("shown");
    } finally {
      logger.setLevel(null);
    }
    assertEquals(List.of("shown"), messages());
    assertEquals(0, debug.suppressed());
  }

  @Test
  void refillAllStartsEveryLogOverForTests() {
    RateLimitedLog log = log(1, Duration.ofHours(1));
    log.log("first");
    log.log("held back");
    RateLimitedLog.refillAll();
    log.log("after refill");
    assertEquals(List.of("first", "after refill (1 more like this suppressed)"), messages());
  }

  @Test
  void refusesAZeroBurstOrPeriod() {
    assertEquals("burst: 0 (expected: > 0)", assertThrows(IllegalArgumentException.class,
        () -> log(0, Duration.ofSeconds(1))).getMessage());
    assertEquals("period: 0s (expected: > 0)", assertThrows(IllegalArgumentException.class,
        () -> log(1, Duration.ZERO)).getMessage());
  }
}
