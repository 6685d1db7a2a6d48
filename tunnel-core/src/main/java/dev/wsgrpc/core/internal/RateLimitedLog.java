package dev.wsgrpc.core.internal;

import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.NotSslRecordException;
import java.time.Duration;
import java.util.function.LongSupplier;
import org.slf4j.Logger;

/**
 * A log line that a peer can cause, so that no flood of peers can flood the log: a token bucket that lets through at
 * most {@code burst} lines in a row and then one more every {@code period / burst}. Lines held back are counted; the
 * next line that gets through says how many ({@code "(12 more like this suppressed)"}). Throwable arguments are
 * written as their class and message ({@link #describe}), never as a stack trace.
 *
 * <p>Thread-safe. Cheap when the level is off: nothing is formatted and no token is spent.
 */
public final class RateLimitedLog {

  /** How loud a line is. */
  public enum Level { DEBUG, INFO, WARN }

  /** The default burst: {@value}. */
  public static final int DEFAULT_BURST = 5;

  /**
   * The default period in which {@link #DEFAULT_BURST} lines are let through again: one minute, so a sustained flood
   * logs one line every 12 seconds.
   */
  public static final Duration DEFAULT_PERIOD = Duration.ofMinutes(1);

  /** Bumped by {@link #refillAll()}: each log compares it with the generation it last saw. */
  private static final java.util.concurrent.atomic.AtomicLong GENERATION = new java.util.concurrent.atomic.AtomicLong();

  private final Logger logger;
  private final Level level;
  private final int burst;
  private final long nanosPerToken;
  private final LongSupplier nanoClock;
  private long tokens;
  private long lastRefillNanos;
  private long suppressedSinceLast;
  private long suppressedTotal;
  private long generation = GENERATION.get();

  /** At most {@link #DEFAULT_BURST} lines per {@link #DEFAULT_PERIOD} at {@code level}. */
  public RateLimitedLog(Logger logger, Level level) {
    this(logger, level, DEFAULT_BURST, DEFAULT_PERIOD, System::nanoTime);
  }

  /**
   * At most {@code burst} lines in a row, refilled one every {@code period / burst}; {@code nanoClock} reads time (tests
   * pass a fake one).
   */
  public RateLimitedLog(Logger logger, Level level, int burst, Duration period, LongSupplier nanoClock) {
    this.logger = Preconditions.checkNotNull(logger, "logger");
    this.level = Preconditions.checkNotNull(level, "level");
    this.burst = Preconditions.checkPositive(burst, "burst");
    Preconditions.checkNotNull(period, "period");
    Preconditions.checkArgument(!period.isNegative() && !period.isZero(), "period", period, "> 0");
    this.nanosPerToken = Math.max(1, period.toNanos() / burst);
    this.nanoClock = Preconditions.checkNotNull(nanoClock, "nanoClock");
    this.tokens = burst;
    this.lastRefillNanos = nanoClock.getAsLong();
  }

  /** Logs {@code format} (slf4j {@code {}} placeholders) with {@code args}, unless over the rate. */
  public void log(String format, Object... args) {
    if (!enabled()) {
      return;
    }
    long suppressed = tryAcquire();
    if (suppressed < 0) {
      return;
    }
    Object[] shown = new Object[args.length + (suppressed > 0 ? 1 : 0)];
    for (int i = 0; i < args.length; i++) {
      shown[i] = args[i] instanceof Throwable ? describe((Throwable) args[i]) : args[i];
    }
    String line = format;
    if (suppressed > 0) {
      shown[args.length] = suppressed;
      line = format + " ({} more like this suppressed)";
    }
    switch (level) {
      case DEBUG:
        logger.debug(line, shown);
        break;
      case INFO:
        logger.info(line, shown);
        break;
      default:
        logger.warn(line, shown);
        break;
    }
  }

  /**
   * Spends a token for one line that is written elsewhere than this log's logger (a command-line tool's own output,
   * say): the number of lines held back since the last one let through (to say so in the line), or -1 when this line
   * must be held back too. Does not look at the logger's level.
   */
  public long tryAcquire() {
    long suppressed;
    synchronized (this) {
      long now = nanoClock.getAsLong();
      if (generation != GENERATION.get()) {
        generation = GENERATION.get();
        tokens = burst;
        lastRefillNanos = now;
      }
      long earned = (now - lastRefillNanos) / nanosPerToken;
      if (earned > 0) {
        tokens = Math.min(burst, tokens + earned);
        lastRefillNanos = tokens == burst ? now : lastRefillNanos + earned * nanosPerToken;
      }
      if (tokens == 0) {
        suppressedSinceLast++;
        suppressedTotal++;
        return -1;
      }
      tokens--;
      suppressed = suppressedSinceLast;
      suppressedSinceLast = 0;
    }
    return suppressed;
  }

  /**
   * Gives every rate-limited log in this class loader a full burst again, as at start: for tests that assert a line
   * which earlier tests in the same JVM may have used up.
   */
  public static void refillAll() {
    GENERATION.incrementAndGet();
  }

  /** Lines held back since this log was made. */
  public synchronized long suppressed() {
    return suppressedTotal;
  }

  private boolean enabled() {
    switch (level) {
      case DEBUG:
        return logger.isDebugEnabled();
      case INFO:
        return logger.isInfoEnabled();
      default:
        return logger.isWarnEnabled();
    }
  }

  /**
   * A failure in one line, without a stack trace: its class and message (printable ASCII, others shown as {@code ?},
   * at most 200 characters), unwrapped from Netty's {@code DecoderException}. A record that is not TLS is not dumped
   * (its bytes may be a plain-text request with credentials in it).
   */
  public static String describe(Throwable t) {
    Throwable shown = t instanceof DecoderException && t.getCause() != null ? t.getCause() : t;
    if (shown instanceof NotSslRecordException) {
      return "not a TLS record (plain text sent to a TLS port?)";
    }
    String message = shown.getMessage();
    if (message == null) {
      return shown.getClass().getSimpleName();
    }
    // Printable ASCII, at most 200 characters: a peer's bytes may be in it (the JDK quotes a ClientHello's server
    // name whole when it refuses it), escape sequences included.
    String oneLine = message.replaceAll("[\\r\\n\\t]+", " ");
    return shown.getClass().getSimpleName() + ": " + Http11Tokens.printable(oneLine, 200);
  }
}
