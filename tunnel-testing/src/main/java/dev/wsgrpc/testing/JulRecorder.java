package dev.wsgrpc.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;

/**
 * A {@code java.util.logging} handler that keeps every record it is given (grpc-java logs through
 * {@code java.util.logging}): add it to a logger, log, read {@link #records()}, remove it. Thread-safe.
 */
public final class JulRecorder extends Handler {

  private final List<LogRecord> records = new ArrayList<>();

  @Override
  public synchronized void publish(LogRecord record) {
    records.add(record);
  }

  /** The records given so far, in order. */
  public synchronized List<LogRecord> records() {
    return List.copyOf(records);
  }

  @Override
  public void flush() {}

  @Override
  public void close() {}
}
