package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

  /**
   * The JDK quotes a ClientHello's server name whole when it refuses it, escape sequences included: what a server logs
   * of a failed handshake shows it as printable ASCII. The ClientHello is real bytes, refused by a real JDK TLS server.
   */
  @Test
  void aServerNameWithEscapeSequencesReachesTheLogPrintable() throws Exception {
    dev.wsgrpc.testing.TestCertificates certs = dev.wsgrpc.testing.TestCertificates.create();
    io.netty.handler.ssl.SslContext server = io.netty.handler.ssl.SslContextBuilder
        .forServer(certs.serverCertPem(), certs.serverKeyPem())
        .sslProvider(io.netty.handler.ssl.SslProvider.JDK).build();
    List<Throwable> failures = new java.util.ArrayList<>();
    io.netty.channel.embedded.EmbeddedChannel ch = new io.netty.channel.embedded.EmbeddedChannel();
    ch.pipeline().addLast(server.newHandler(ch.alloc()), new io.netty.channel.ChannelInboundHandlerAdapter() {
      @Override
      public void userEventTriggered(io.netty.channel.ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof io.netty.handler.ssl.SslHandshakeCompletionEvent) {
          failures.add(((io.netty.handler.ssl.SslHandshakeCompletionEvent) evt).cause());
        }
      }

      @Override
      public void exceptionCaught(io.netty.channel.ChannelHandlerContext ctx, Throwable cause) {
        // the same failure, reported once more
      }
    });
    ch.writeInbound(io.netty.buffer.Unpooled.wrappedBuffer(clientHello("a\u001b[2J\u001b]0;owned\u0007b\u0085.test")));
    ch.finishAndReleaseAll();
    assertEquals(1, failures.size());
    assertTrue(String.valueOf(failures.get(0).getMessage()).contains("\u001b[2J"),
        "the JDK quotes the name as sent: " + failures.get(0));
    String shown = RateLimitedLog.describe(failures.get(0));
    assertTrue(shown.contains("a?[2J?]0;owned?b?.test"), shown);
    assertTrue(shown.chars().allMatch(c -> c >= 0x20 && c < 0x7f), shown);
  }

  @Test
  void aMessageIsShownPrintableAndAtMost200Characters() {
    String shown = RateLimitedLog.describe(new IllegalStateException("line\r\nnext\tx\u001b[31m" + "y".repeat(300)));
    assertEquals("IllegalStateException: line next x?[31m" + "y".repeat(200 - 16) + "...", shown);
  }

  /** A TLS 1.2 ClientHello record offering two cipher suites and {@code serverName} as its host name (SNI). */
  private static byte[] clientHello(String serverName) {
    byte[] name = serverName.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    java.io.ByteArrayOutputStream sni = new java.io.ByteArrayOutputStream();
    writeShort(sni, 0x0000); // extension: server_name
    writeShort(sni, name.length + 5);
    writeShort(sni, name.length + 3); // the list
    sni.write(0); // host_name
    writeShort(sni, name.length);
    sni.writeBytes(name);
    java.io.ByteArrayOutputStream hello = new java.io.ByteArrayOutputStream();
    hello.write(0x03);
    hello.write(0x03); // TLS 1.2
    hello.writeBytes(new byte[32]); // random
    hello.write(0); // no session id
    writeShort(hello, 4);
    writeShort(hello, 0xc02f); // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    writeShort(hello, 0x009c); // TLS_RSA_WITH_AES_128_GCM_SHA256
    hello.write(1);
    hello.write(0); // no compression
    writeShort(hello, sni.size());
    hello.writeBytes(sni.toByteArray());
    java.io.ByteArrayOutputStream record = new java.io.ByteArrayOutputStream();
    record.write(0x16); // handshake
    record.write(0x03);
    record.write(0x01);
    writeShort(record, hello.size() + 4);
    record.write(0x01); // ClientHello
    record.write(0);
    writeShort(record, hello.size());
    record.writeBytes(hello.toByteArray());
    return record.toByteArray();
  }

  private static void writeShort(java.io.ByteArrayOutputStream out, int value) {
    out.write(value >> 8);
    out.write(value);
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
