package dev.wsgrpc.server;

import io.grpc.Status;
import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.SocketAddress;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The tunnel-limit slot of a native gRPC connection whose calls are authenticated one by one
 * ({@link NativeCallAuthenticator}): taken at its first accepted call, not at its preface, as a tunnel's is taken
 * only once its upgrade request is authenticated. A connection without one holds no slot, so clients without
 * credentials cannot use up the slots of those with them (of one address, or all of them): until its first accepted
 * call a native connection is a handshake still under way, and one that has made none within the handshake timeout
 * of its hand-off to gRPC (its SETTINGS read) is closed, reported as a {@link RejectReason#TIMEOUT}. A first
 * accepted call that finds the limits reached is refused {@code UNAVAILABLE} with the tunnels' reason, and the
 * connection closed. A call accepted after the deadline, which its client sent before it learnt of the close, still
 * takes a slot if one is free, and is served.
 *
 * <p>Closed with gRPC's graceful close (GOAWAY), then, {@value #GRACE_MILLIS} ms later unless a call was admitted
 * meanwhile, from the handler before gRPC's: gRPC's close waits for every open stream, and a refused call's stream
 * stays open for as long as its client does not end it (gRPC's server sends no RST_STREAM after its trailers), so a
 * client without credentials could otherwise keep the connection, and its file descriptor, for good.
 *
 * <p>Thread-safe: calls are admitted on the server's executor, the deadline runs on the connection's event loop.
 */
final class NativeConnectionSlot {

  /** The slot of a native connection that waits for its first accepted call. */
  static final AttributeKey<NativeConnectionSlot> ATTRIBUTE = AttributeKey.valueOf("wsgrpc.nativeConnectionSlot");

  /** How long gRPC's graceful close may take before the connection is closed regardless. */
  static final long GRACE_MILLIS = 1_000;

  private enum State { WAITING, ADMITTED, EXPIRED, REFUSED, CLOSED }

  private final Channel channel;
  private final TunnelCounter counter;
  /** The client the slot counts for, or null for the total only (a trusted proxy's connection). */
  private final SocketAddress client;
  private final SocketAddress reported;
  private final TunnelListener listener;
  private final long timeoutMillis;
  private volatile State state = State.WAITING;
  private Status refusal;
  private ScheduledFuture<?> deadline;

  /**
   * @param client the address the slot counts for, null to count the connection in the total only
   * @param reported the address refusals are reported for
   */
  NativeConnectionSlot(Channel channel, TunnelCounter counter, SocketAddress client, SocketAddress reported,
      TunnelListener listener, long timeoutMillis) {
    this.channel = channel;
    this.counter = counter;
    this.client = client;
    this.reported = reported;
    this.listener = listener;
    this.timeoutMillis = timeoutMillis;
  }

  /**
   * Starts the wait for the first accepted call, {@code timeoutMillis} from now (when gRPC takes the connection
   * over); on the connection's event loop.
   */
  void startDeadline() {
    ScheduledFuture<?> timer = channel.eventLoop().schedule(this::expire, timeoutMillis, TimeUnit.MILLISECONDS);
    synchronized (this) {
      deadline = timer;
    }
    channel.closeFuture().addListener(f -> {
      timer.cancel(false);
      synchronized (this) {
        if (state == State.WAITING) {
          state = State.CLOSED; // gone before the deadline: nothing to report
        }
      }
    });
  }

  /**
   * A call of the connection was accepted: null when the connection holds its slot (taken now if it did not yet),
   * else the status that refuses the call.
   */
  Status admitAcceptedCall() {
    if (state == State.ADMITTED) {
      return null;
    }
    RejectReason toReport = null;
    Status answer;
    synchronized (this) {
      if (!channel.isOpen() && state != State.ADMITTED) {
        state = State.CLOSED;
      }
      switch (state) {
        case ADMITTED:
          return null;
        case WAITING:
        case EXPIRED:
          RejectReason limit = counter.tryAcquire(channel, client);
          if (limit == null) {
            state = State.ADMITTED;
            if (deadline != null) {
              deadline.cancel(false);
            }
            return null;
          }
          refusal = BrowserCalls.statusForHttp(HttpResponseStatus.SERVICE_UNAVAILABLE.code(),
              TunnelCounter.refusal(limit));
          if (state == State.WAITING) {
            toReport = limit; // an expired connection was reported already, and is closing
          }
          state = State.REFUSED;
          answer = refusal;
          break;
        case CLOSED:
          return Status.UNAVAILABLE.withDescription("the connection closed before its first call was admitted");
        default:
          return refusal;
      }
    }
    if (toReport != null) {
      listener.upgradeRejected(reported, HttpResponseStatus.SERVICE_UNAVAILABLE.code(), toReport);
      channel.eventLoop().execute(this::close);
    }
    return answer;
  }

  private void expire() {
    synchronized (this) {
      if (state != State.WAITING || !channel.isActive()) {
        return;
      }
      state = State.EXPIRED;
    }
    listener.upgradeRejected(reported, HttpResponseStatus.REQUEST_TIMEOUT.code(), RejectReason.TIMEOUT);
    close();
  }

  /** gRPC's graceful close, then the close that does not wait for open streams; on the event loop. */
  private void close() {
    channel.close(); // gRPC's HTTP/2 handler says GOAWAY first
    ScheduledFuture<?> hard = channel.eventLoop().schedule(() -> {
      synchronized (this) {
        if (state == State.ADMITTED || !channel.isOpen()) {
          return; // a call admitted meanwhile is served, and gRPC closes the connection after it
        }
        state = State.CLOSED; // no call is admitted from now on
      }
      ChannelHandlerContext grpc = grpcContext();
      if (grpc != null) {
        grpc.close(); // from the handler before gRPC's on
      } else {
        channel.close();
      }
    }, GRACE_MILLIS, TimeUnit.MILLISECONDS);
    channel.closeFuture().addListener(f -> hard.cancel(false));
  }

  private ChannelHandlerContext grpcContext() {
    for (Map.Entry<String, ChannelHandler> e : channel.pipeline()) {
      if (e.getValue() instanceof GrpcHttp2ConnectionHandler) {
        return channel.pipeline().context(e.getValue());
      }
    }
    return null;
  }
}
