package dev.wsgrpc.core.internal;

import io.netty.channel.Channel;
import java.lang.reflect.Method;
import java.util.concurrent.TimeUnit;

/**
 * Whether the peer's TCP is acknowledging the data we send, read from the kernel's {@code TCP_INFO} where Netty's
 * native epoll transport offers it ({@code EpollSocketChannel.tcpInfo()}); on every other transport (NIO) nothing can
 * be told and the answer is {@code false}. The epoll classes are optional (the libraries do not depend on them), so
 * they are looked up by name once.
 */
final class TcpProgress {

  private static final Class<?> EPOLL_SOCKET;
  private static final Method TCP_INFO;
  private static final Method LAST_DATA_SENT;
  private static final Method LAST_ACK_RECEIVED;

  static {
    Class<?> socket = null;
    Method tcpInfo = null;
    Method lastDataSent = null;
    Method lastAckReceived = null;
    try {
      socket = Class.forName("io.netty.channel.epoll.EpollSocketChannel", false, TcpProgress.class.getClassLoader());
      tcpInfo = socket.getMethod("tcpInfo");
      Class<?> info = tcpInfo.getReturnType();
      lastDataSent = info.getMethod("lastDataSent");
      lastAckReceived = info.getMethod("lastAckRecv");
    } catch (ReflectiveOperationException | LinkageError e) {
      socket = null; // no epoll classes: NIO only
    }
    EPOLL_SOCKET = socket;
    TCP_INFO = tcpInfo;
    LAST_DATA_SENT = lastDataSent;
    LAST_ACK_RECEIVED = lastAckReceived;
  }

  /**
   * True when, within the last {@code nanos}, we sent data on {@code channel} and the peer's TCP acknowledged some:
   * bytes are flowing to a live peer. A peer that is gone sends no acknowledgements; one whose window is closed
   * (it stopped reading) gets no data, only window probes; neither counts.
   */
  static boolean dataAckedWithin(Channel channel, long nanos) {
    if (EPOLL_SOCKET == null || !EPOLL_SOCKET.isInstance(channel) || !channel.isActive()) {
      return false;
    }
    try {
      Object info = TCP_INFO.invoke(channel);
      long millis = TimeUnit.NANOSECONDS.toMillis(nanos);
      return ((Number) LAST_DATA_SENT.invoke(info)).longValue() < millis
          && ((Number) LAST_ACK_RECEIVED.invoke(info)).longValue() < millis;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return false;
    }
  }

  private TcpProgress() {}
}
