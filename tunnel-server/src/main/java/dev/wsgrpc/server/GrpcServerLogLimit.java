package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.RateLimitedLog;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Filter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.slf4j.LoggerFactory;

/**
 * Holds what grpc-java's Netty server logs about a misbehaving peer to the rate of a {@link RateLimitedLog}: one line
 * per record, without the stack trace.
 *
 * <p>grpc-java logs through {@code java.util.logging}. For each stream whose headers it cannot accept (an upper-case
 * header name or a {@code -bin} value that is not base64 is enough), {@code io.grpc.netty.NettyServerHandler} logs a
 * WARNING record ("Stream Error", after "Exception in onHeadersRead()" when the headers could not become a call),
 * with a stack trace of some forty lines; a
 * connection that fails in a way it does not expect gets an INFO record from
 * {@code io.grpc.netty.NettyServerTransport.connections} ("Transport failed"). A peer can open hundreds of such
 * streams per connection, and it needs no token for it: the headers are rejected before any call reaches the
 * interceptor that checks one, and an ordinary client causes some too (a call cancelled while its answer was on its
 * way: "Stream closed before write could take place"). None of them asks anything of an operator. So a filter on
 * those two loggers passes records below INFO on unchanged (they are off unless asked for, and then wanted whole),
 * and turns the others into rate-limited INFO lines, as everything else a peer can cause is logged, of the SLF4J
 * logger named after the original with {@code .limited} appended ({@code io.grpc.netty.NettyServerHandler.limited}),
 * so that a level set for {@code io.grpc} still applies to them.
 *
 * <p>Installed once per class loader, when the first server negotiator is made ({@link WebSocketServerNegotiator}),
 * and so for every grpc-java Netty server of the process from then on, ours or not: those two loggers are
 * grpc-java's, not per server. What the filter turns into rate-limited lines may include the odd record no peer
 * caused (an internal failure grpc-java logs there too); it still appears, once, without its stack trace. A filter
 * the application had set on those loggers before still sees each record first; a filter it sets later replaces
 * this one.
 */
final class GrpcServerLogLimit implements Filter {

  /** The grpc-java loggers whose records a peer can cause. */
  static final List<String> LOGGER_NAMES =
      List.of("io.grpc.netty.NettyServerHandler", "io.grpc.netty.NettyServerTransport.connections");

  /** Formats a record's message with its parameters, as java.util.logging's own handlers do. */
  private static final SimpleFormatter MESSAGE = new SimpleFormatter();

  /**
   * The filtered loggers, held: java.util.logging keeps loggers only weakly, and a logger collected and made again
   * would have lost its filter. Null until {@link #install()}.
   */
  private static List<Logger> filtered;

  private final Filter previous;
  private final org.slf4j.Logger target;
  private final RateLimitedLog limited;

  private GrpcServerLogLimit(String loggerName, Filter previous) {
    this.previous = previous;
    this.target = LoggerFactory.getLogger(loggerName + ".limited");
    this.limited = new RateLimitedLog(target, RateLimitedLog.Level.INFO);
  }

  /** Puts the filters in place; calls after the first do nothing. */
  static synchronized void install() {
    if (filtered != null) {
      return;
    }
    List<Logger> loggers = new ArrayList<>();
    for (String name : LOGGER_NAMES) {
      Logger logger = Logger.getLogger(name);
      logger.setFilter(new GrpcServerLogLimit(name, logger.getFilter()));
      loggers.add(logger);
    }
    filtered = List.copyOf(loggers);
  }

  @Override
  public boolean isLoggable(LogRecord record) {
    if (previous != null && !previous.isLoggable(record)) {
      return false;
    }
    if (record.getLevel().intValue() < Level.INFO.intValue()) {
      return true;
    }
    if (!target.isInfoEnabled()) {
      return false; // off (tunnel-server.jar keeps io.grpc at WARN): nothing to format, on the event loop
    }
    String message = MESSAGE.formatMessage(record);
    if (record.getThrown() == null) {
      limited.log("{}", message);
    } else {
      limited.log("{}: {}", message, record.getThrown()); // the throwable as one line, without its stack trace
    }
    return false;
  }
}
