package dev.wsgrpc.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.ArrayList;
import java.util.List;

/**
 * The last handler of a test pipeline: records the messages, user events and exceptions that reach it and passes
 * nothing on. Messages are kept as they are; the test releases them.
 */
public class InboundRecorder extends ChannelInboundHandlerAdapter {
  public final List<Object> reads = new ArrayList<>();
  public final List<Object> events = new ArrayList<>();
  public final List<Throwable> exceptions = new ArrayList<>();
  /** How many times the channel went inactive. */
  public int inactive;

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    reads.add(msg);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    events.add(evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    exceptions.add(cause);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    inactive++;
  }

  /** Asserts that exactly one exception arrived, of {@code type}, and returns it. */
  public <T extends Throwable> T onlyException(Class<T> type) {
    assertEquals(1, exceptions.size(), "exceptions: " + exceptions);
    return assertInstanceOf(type, exceptions.get(0));
  }
}
