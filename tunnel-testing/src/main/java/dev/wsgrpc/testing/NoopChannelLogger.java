package dev.wsgrpc.testing;

import io.grpc.ChannelLogger;

/** A gRPC {@link ChannelLogger} that drops everything, for handlers under test. */
public final class NoopChannelLogger extends ChannelLogger {

  public static final ChannelLogger INSTANCE = new NoopChannelLogger();

  @Override
  public void log(ChannelLogLevel level, String message) {}

  @Override
  public void log(ChannelLogLevel level, String messageFormat, Object... args) {}

  private NoopChannelLogger() {}
}
