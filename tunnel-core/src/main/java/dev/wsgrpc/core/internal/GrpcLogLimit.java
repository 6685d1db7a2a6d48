package dev.wsgrpc.core.internal;

import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.logging.Filter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.slf4j.LoggerFactory;

/**
 * Holds what a {@code java.util.logging} logger of grpc-java (or Netty) logs about a misbehaving peer to the rate of a
 * {@link RateLimitedLog}: one line per record, without the stack trace, in printable ASCII only.
 *
 * <p>grpc-java logs through {@code java.util.logging}, per call or per connection, records that a peer causes at will
 * (a header or a message it cannot accept, a GOAWAY) with stack traces of dozens of lines; the modules that let peers
 * reach grpc-java name those loggers and install this filter on them (tunnel-server's {@code GrpcServerLogLimit} for
 * the server loggers, {@link #installNettyClient()} for the client ones). For the records of such a logger that
 * {@code peerCaused} accepts, at INFO and above, the filter logs a rate-limited INFO line instead, to the SLF4J logger
 * named after the original with {@code .limited} appended ({@code io.grpc.netty.NettyServerHandler.limited}), so that
 * a level set for {@code io.grpc} still applies to it. Records below INFO pass on unchanged (they are off unless asked
 * for, and then wanted whole), and so do records {@code peerCaused} refuses (a service's own bug, say). The line's
 * text is the record's message and its exception's class and message, with anything but printable ASCII shown as
 * {@code ?} ({@link Http11Tokens#printable}): a peer's text in it (a GOAWAY's debug data, say) cannot forge lines.
 *
 * <p>Installed once per logger and class loader: the loggers are grpc-java's, not per server or channel, so the filter
 * applies to every server or channel of the process from then on, ours or not. A filter the application had set on
 * such a logger before still sees each record first; a filter it sets later replaces this one.
 */
public final class GrpcLogLimit implements Filter {

  /** Accepts every record: all that logger logs at INFO and above is a peer's doing. */
  public static final Predicate<LogRecord> ANY = record -> true;

  /**
   * Accepts records whose exception says a peer sent a message that cannot be read ({@link #isBadPeerMessage}).
   */
  public static final Predicate<LogRecord> BAD_PEER_MESSAGE = record -> isBadPeerMessage(record.getThrown());

  /**
   * The loggers of grpc-java's Netty client that a server can make log per connection: {@code NettyClientHandler}
   * logs a WARNING record with the server's raw debug data for each GOAWAY with ENHANCE_YOUR_CALM.
   */
  public static final List<String> NETTY_CLIENT_LOGGERS = List.of("io.grpc.netty.NettyClientHandler");

  /** At most this many characters of a record's message, and of its exception's, in a line. */
  private static final int MAX_CHARS = 500;

  /** Formats a record's message with its parameters, as java.util.logging's own handlers do. */
  private static final SimpleFormatter MESSAGE = new SimpleFormatter();

  /**
   * The filtered loggers by name, held: java.util.logging keeps loggers only weakly, and a logger collected and made
   * again would have lost its filter.
   */
  private static final Map<String, Logger> FILTERED = new HashMap<>();

  private final Filter previous;
  private final Predicate<LogRecord> peerCaused;
  private final org.slf4j.Logger target;
  private final RateLimitedLog limited;

  private GrpcLogLimit(String loggerName, Predicate<LogRecord> peerCaused, Filter previous) {
    this.previous = previous;
    this.peerCaused = peerCaused;
    this.target = LoggerFactory.getLogger(loggerName + ".limited");
    this.limited = new RateLimitedLog(target, RateLimitedLog.Level.INFO);
  }

  /**
   * Puts the filter on the logger {@code loggerName}, for the records {@code peerCaused} accepts; does nothing if
   * that logger has one already.
   */
  public static synchronized void install(String loggerName, Predicate<LogRecord> peerCaused) {
    Preconditions.checkNotNull(peerCaused, "peerCaused");
    if (FILTERED.containsKey(loggerName)) {
      return;
    }
    Logger logger = Logger.getLogger(loggerName);
    logger.setFilter(new GrpcLogLimit(loggerName, peerCaused, logger.getFilter()));
    FILTERED.put(loggerName, logger);
  }

  /**
   * Filters {@link #NETTY_CLIENT_LOGGERS}, all their records: for the channels of the tunnel client and the gateway's
   * upstream channels, whose servers may be hostile.
   */
  public static void installNettyClient() {
    for (String name : NETTY_CLIENT_LOGGERS) {
      install(name, ANY);
    }
  }

  /**
   * Whether {@code thrown}, or an exception it was caused by, says a peer sent a gRPC message that cannot be read: a
   * protobuf {@code InvalidProtocolBufferException} (grpc-java's marshaller turns it into INTERNAL "Invalid protobuf
   * byte sequence"), a {@code java.util.zip.ZipException} (a compressed message that does not decompress), or
   * RESOURCE_EXHAUSTED "Decompressed gRPC message exceeds maximum size". Any other failure (a service's own) is no
   * peer's doing.
   */
  public static boolean isBadPeerMessage(Throwable thrown) {
    for (int depth = 0; thrown != null && depth < 16; depth++, thrown = thrown.getCause()) {
      for (Class<?> c = thrown.getClass(); c != null; c = c.getSuperclass()) {
        String name = c.getName();
        if (name.equals("com.google.protobuf.InvalidProtocolBufferException")
            || name.equals("java.util.zip.ZipException")) {
          return true;
        }
      }
      Status status = thrown instanceof StatusRuntimeException ? ((StatusRuntimeException) thrown).getStatus()
          : thrown instanceof StatusException ? ((StatusException) thrown).getStatus() : null;
      String description = status == null ? null : status.getDescription();
      if (description != null
          && (status.getCode() == Status.Code.INTERNAL && description.startsWith("Invalid protobuf byte sequence")
          || status.getCode() == Status.Code.RESOURCE_EXHAUSTED
          && description.startsWith("Decompressed gRPC message exceeds maximum size"))) {
        return true;
      }
    }
    return false;
  }

  @Override
  public boolean isLoggable(LogRecord record) {
    if (previous != null && !previous.isLoggable(record)) {
      return false;
    }
    if (record.getLevel().intValue() < Level.INFO.intValue() || !peerCaused.test(record)) {
      return true;
    }
    if (!target.isInfoEnabled()) {
      return false; // off (tunnel-server.jar keeps io.grpc at WARN): nothing to format, on the event loop
    }
    String message = Http11Tokens.printable(String.valueOf(MESSAGE.formatMessage(record)), MAX_CHARS);
    if (record.getThrown() == null) {
      limited.log("{}", message);
    } else { // the throwable as one line, without its stack trace
      limited.log("{}: {}", message, Http11Tokens.printable(RateLimitedLog.describe(record.getThrown()), MAX_CHARS));
    }
    return false;
  }
}
