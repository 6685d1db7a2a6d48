package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.wsgrpc.core.internal.GrpcLogLimit;
import dev.wsgrpc.testing.JulRecorder;
import io.grpc.Status;
import java.io.IOException;
import java.util.List;
import java.util.logging.Filter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The filter on grpc-java's server loggers; PeerTriggeredLogsTest (integration-tests) floods a real server. */
class GrpcServerLogLimitTest {

  @Test
  void recordsBelowInfoPassOnWholeAndLouderOnesGoToTheRateLimitedLog() {
    GrpcServerLogLimit.install();
    for (String name : List.of("io.grpc.netty.NettyServerHandler", "io.grpc.netty.NettyServerTransport.connections",
        "io.grpc.netty.NettyServerStream")) {
      Logger logger = Logger.getLogger(name);
      JulRecorder recorder = new JulRecorder();
      Level level = logger.getLevel();
      logger.addHandler(recorder);
      logger.setLevel(Level.ALL);
      try {
        logger.log(Level.FINE, "Connection Error", new IOException("reset by peer"));
        logger.log(Level.INFO, "Transport failed", new IllegalStateException("unexpected"));
        logger.log(Level.WARNING, "Stream Error", new IllegalStateException("bad header"));
        assertEquals(List.of("Connection Error"), recorder.records().stream().map(LogRecord::getMessage)
            .collect(Collectors.toList()), name);
        assertInstanceOf(IOException.class, recorder.records().get(0).getThrown(), "a record asked for comes whole");
      } finally {
        logger.removeHandler(recorder);
        logger.setLevel(level);
      }
    }
  }

  @Test
  void installingAgainKeepsTheOneFilter() {
    GrpcServerLogLimit.install();
    Filter first = Logger.getLogger("io.grpc.netty.NettyServerHandler").getFilter();
    assertInstanceOf(GrpcLogLimit.class, first);
    GrpcServerLogLimit.install();
    assertSame(first, Logger.getLogger("io.grpc.netty.NettyServerHandler").getFilter());
  }

  @Test
  void theExecutorsRecordsAreLimitedOnlyForAMessageThePeerSentThatIsNotProtobuf() {
    GrpcServerLogLimit.install();
    Logger logger = Logger.getLogger("io.grpc.internal.SerializingExecutor");
    JulRecorder recorder = new JulRecorder();
    logger.addHandler(recorder);
    try {
      // What grpc-java's protobuf marshaller throws for a message that is not protobuf.
      logger.log(Level.SEVERE, "Exception while executing runnable HalfClosed", Status.INTERNAL
          .withDescription("Invalid protobuf byte sequence")
          .withCause(new InvalidProtocolBufferException("While parsing a protocol message, the input ended"))
          .asRuntimeException());
      logger.log(Level.SEVERE, "Exception while executing runnable HalfClosed",
          new NullPointerException("the service's own bug"));
      assertEquals(1, recorder.records().size(), "a service's own failure passes on whole");
      assertInstanceOf(NullPointerException.class, recorder.records().get(0).getThrown());
    } finally {
      logger.removeHandler(recorder);
    }
  }
}
