package dev.wsgrpc.server;

import io.grpc.Status;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The tunnel-limit slot of a native gRPC connection whose calls are authenticated one by one
 * ({@link NativeCallAuthenticator}): taken at its first accepted call, not at its preface, as a tunnel's is taken
 * only once its upgrade request is authenticated. A connection without one holds no slot, so clients without
 * credentials cannot use up the slots of those with them (of one address, or all of them): until its first accepted
 * call a native connection is a handshake still under way, and one that has made none within the handshake timeout
 * of its preface is closed (GOAWAY, reported as a {@link RejectReason#TIMEOUT}). A first accepted call that finds
 * the limits reached is refused {@code UNAVAILABLE} with the tunnels' reason, and the connection closed.
 *
 * <p>Thread-safe: calls are admitted on the server's executor, the deadline runs on the connection's event loop.
 */
final class NativeConnectionSlot {

  /** The slot of a native connection that waits for its first accepted call. */
  static final AttributeKey<NativeConnectionSlot> ATTRIBUTE = AttributeKey.valueOf("wsgrpc.nativeConnectionSlot");

  private enum State { WAITING, ADMITTED, EXPIRED, REFUSED }

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

  /** Starts the wait for the first accepted call, {@code timeoutMillis} from now; on the connection's event loop. */
  void startDeadline() {
    deadline = channel.eventLoop().schedule(this::expire, timeoutMillis, TimeUnit.MILLISECONDS);
  }

  /**
   * The connection's first accepted call, or a later one: null when the connection holds its slot (taken now if it
   * did not yet), else the status that refuses the call.
   */
  Status admitAcceptedCall() {
    if (state == State.ADMITTED) {
      return null;
    }
    synchronized (this) {
      switch (state) {
        case ADMITTED:
          return null;
        case WAITING:
          RejectReason limit = counter.tryAcquire(channel, client);
          if (limit == null) {
            state = State.ADMITTED;
            if (deadline != null) {
              deadline.cancel(false);
            }
            return null;
          }
          state = State.REFUSED;
          refusal = BrowserCalls.statusForHttp(HttpResponseStatus.SERVICE_UNAVAILABLE.code(),
              limit == RejectReason.TOO_MANY_TUNNELS ? "too many tunnels open; retry later"
                  : "too many tunnels open from your address; retry later");
          listener.upgradeRejected(reported, HttpResponseStatus.SERVICE_UNAVAILABLE.code(), limit);
          channel.close();
          return refusal;
        case EXPIRED:
          return Status.UNAVAILABLE.withDescription(expired());
        default:
          return refusal;
      }
    }
  }

  private void expire() {
    synchronized (this) {
      if (state != State.WAITING) {
        return;
      }
      state = State.EXPIRED;
    }
    listener.upgradeRejected(reported, HttpResponseStatus.REQUEST_TIMEOUT.code(), RejectReason.TIMEOUT);
    channel.close(); // gRPC's HTTP/2 handler says GOAWAY first
  }

  private String expired() {
    return "expected an authenticated call within " + timeoutMillis + " ms of the HTTP/2 preface but none came";
  }
}
