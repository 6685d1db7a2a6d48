package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.wsgrpc.testing.JulRecorder;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Filter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The filter on grpc-java's loggers; PeerTriggeredLogsTest (integration-tests) floods real servers and channels. */
class GrpcLogLimitTest {

  /** Logs {@code records} to the logger {@code name}; returns the records passed on and the limited lines. */
  private static List<List<String>> log(String name, LogRecord... records) {
    Logger logger = Logger.getLogger(name);
    JulRecorder recorder = new JulRecorder();
    ch.qos.logback.classic.Logger limited = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(name + ".limited");
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    limited.addAppender(lines);
    Level level = logger.getLevel();
    logger.addHandler(recorder);
    logger.setLevel(Level.ALL);
    RateLimitedLog.refillAll();
    try {
      for (LogRecord record : records) {
        logger.log(record);
      }
    } finally {
      logger.removeHandler(recorder);
      logger.setLevel(level);
      limited.detachAppender(lines);
    }
    for (ILoggingEvent e : lines.list) {
      assertEquals(ch.qos.logback.classic.Level.INFO, e.getLevel());
      assertEquals(null, e.getThrowableProxy(), "no stack trace");
    }
    return List.of(recorder.records().stream().map(LogRecord::getMessage).collect(Collectors.toList()),
        lines.list.stream().map(ILoggingEvent::getFormattedMessage).collect(Collectors.toList()));
  }

  private static LogRecord record(Level level, String message, Throwable thrown) {
    LogRecord record = new LogRecord(level, message);
    record.setThrown(thrown);
    return record;
  }

  @Test
  void aGoAwaysDebugDataIsLimitedAndShownInPrintableAsciiOnly() {
    GrpcLogLimit.installNettyClient();
    LogRecord goAway = new LogRecord(Level.WARNING, "Received GOAWAY with ENHANCE_YOUR_CALM. Debug data: {0}");
    goAway.setParameters(new Object[] {"calm\n12:00:00.000 ERROR forged line\u001b[2J"});
    List<LogRecord> many = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      many.add(goAway);
    }
    many.add(record(Level.FINE, "asked for", null));
    List<List<String>> result = log("io.grpc.netty.NettyClientHandler", many.toArray(new LogRecord[0]));
    assertEquals(List.of("asked for"), result.get(0), "records below INFO pass on");
    assertEquals(RateLimitedLog.DEFAULT_BURST, result.get(1).size(), "50 GOAWAYs, the burst of lines");
    assertEquals("Received GOAWAY with ENHANCE_YOUR_CALM. Debug data: calm?12:00:00.000 ERROR forged line?[2J",
        result.get(1).get(0));
  }

  @Test
  void aMessageThePeerSentThatCannotBeParsedIsLimitedAndAServicesOwnFailurePasses() {
    String name = "dev.wsgrpc.test.GrpcLogLimitTest.executor";
    GrpcLogLimit.install(name, GrpcLogLimit.BAD_PEER_MESSAGE);
    RuntimeException badMessage = Status.INTERNAL.withDescription("Invalid protobuf byte sequence")
        .withCause(new java.io.IOException("x")).asRuntimeException();
    RuntimeException tooLarge = Status.RESOURCE_EXHAUSTED
        .withDescription("Decompressed gRPC message exceeds maximum size 4194304").asRuntimeException();
    RuntimeException serviceBug = new IllegalStateException("the service's own bug");
    RuntimeException serviceInternal = Status.INTERNAL.withDescription("the service's own").asRuntimeException();
    List<List<String>> result = log(name,
        record(Level.SEVERE, "Exception while executing runnable a", new RuntimeException(badMessage)),
        record(Level.SEVERE, "Exception while executing runnable b", tooLarge),
        record(Level.SEVERE, "Exception while executing runnable c",
            new RuntimeException(new java.util.zip.ZipException("invalid stored block lengths"))),
        record(Level.SEVERE, "Exception while executing runnable d", serviceBug),
        record(Level.SEVERE, "Exception while executing runnable e", serviceInternal));
    assertEquals(List.of("Exception while executing runnable d", "Exception while executing runnable e"),
        result.get(0), "a service's own failures pass on whole");
    assertEquals(3, result.get(1).size(), result.get(1).toString());
    assertTrue(result.get(1).get(0).startsWith("Exception while executing runnable a: RuntimeException: "),
        result.get(1).get(0));
  }

  @Test
  void theExceptionChainIsSearched() {
    assertTrue(GrpcLogLimit.isBadPeerMessage(new RuntimeException(new RuntimeException(
        Status.INTERNAL.withDescription("Invalid protobuf byte sequence").asException()))));
    assertFalse(GrpcLogLimit.isBadPeerMessage(null));
    assertFalse(GrpcLogLimit.isBadPeerMessage(new RuntimeException("Invalid protobuf byte sequence")));
    assertFalse(GrpcLogLimit.isBadPeerMessage(Status.UNKNOWN.withDescription("Invalid protobuf byte sequence")
        .asRuntimeException()));
  }

  @Test
  void installingAgainKeepsTheOneFilter() {
    GrpcLogLimit.installNettyClient();
    Filter first = Logger.getLogger(GrpcLogLimit.NETTY_CLIENT_LOGGERS.get(0)).getFilter();
    assertInstanceOf(GrpcLogLimit.class, first);
    GrpcLogLimit.installNettyClient();
    assertSame(first, Logger.getLogger(GrpcLogLimit.NETTY_CLIENT_LOGGERS.get(0)).getFilter());
  }
}
