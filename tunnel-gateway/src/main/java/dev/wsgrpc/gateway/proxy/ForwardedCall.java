package dev.wsgrpc.gateway.proxy;

import com.google.common.util.concurrent.MoreExecutors;
import dev.wsgrpc.core.internal.RateLimitedLog;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.Status;
import io.netty.channel.EventLoop;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One call on its way through the proxy: the caller's {@link ServerCall} joined to a {@link ClientCall} on the
 * upstream channel.
 *
 * <p>Everything that touches either call runs in one sequential lane per call (neither call is thread-safe): the
 * callbacks of both sides are posted to it. With the caller's event loop known ({@link UpstreamChannels}), the lane
 * is a {@link LoopLane} on that loop, where both connections of the call live: each callback runs at once on the
 * thread that delivers it. Otherwise it runs each task on the thread that posts it (an event loop of either side)
 * unless another task of the call is running, in which case that thread runs it next. Either way nothing in a task
 * blocks. The upstream call delivers its callbacks directly (grpc's direct executor, which also lets grpc read its
 * messages on the transport's thread instead of handing them over), and the lane orders them.
 *
 * <p>Flow control is end to end: each side has at most one message requested at a time, and the next one is asked
 * for only when the other side is ready to send it on ({@code isReady}, else the other side's {@code onReady}). A
 * slow reader at either end therefore stops reading at the other end, and the proxy holds at most one message per
 * direction per call beyond what the two transports buffer under their own flow control.
 */
final class ForwardedCall extends ServerCall.Listener<byte[]> {

  private static final Logger logger = LoggerFactory.getLogger(ForwardedCall.class);
  /** Callers decide how often a call is forwarded: a few lines, then counts (the caller gets INTERNAL each time). */
  private static final RateLimitedLog FAILED = new RateLimitedLog(logger, RateLimitedLog.Level.WARN);

  private final ServerCall<byte[], byte[]> downstream;
  private final ClientCall<byte[], byte[]> upstream;
  private final Executor lane;
  /** Told when the call ends before any answer because it found no upstream ({@link #foundNoUpstream}). */
  private final Runnable upstreamUnreachable;
  /** Whether the upstreams accept gzip; told what they answer. */
  private final UpstreamGzip gzip;

  // Confined to the lane.
  /** A caller message is wanted, but the upstream could not take it yet. */
  private boolean awaitingUpstreamReady;
  /** An upstream message is wanted, but the caller could not take it yet. */
  private boolean awaitingDownstreamReady;
  private boolean downstreamClosed;
  private boolean upstreamCancelled;
  /** The upstream sent headers or a message: it was reached. */
  private boolean upstreamAnswered;

  private ForwardedCall(ServerCall<byte[], byte[]> downstream, ClientCall<byte[], byte[]> upstream, Executor lane,
      Runnable upstreamUnreachable, UpstreamGzip gzip) {
    this.downstream = downstream;
    this.upstream = upstream;
    this.lane = lane;
    this.upstreamUnreachable = upstreamUnreachable;
    this.gzip = gzip;
  }

  /**
   * Starts forwarding {@code call} to {@code channel}. Called from the server's {@code startCall}, in the call's
   * {@link Context}: its deadline (the time the caller has left) becomes the upstream call's deadline. The caller's
   * gzip messages go on gzip once {@code gzip} has learned that the upstreams accept it.
   */
  static ServerCall.Listener<byte[]> start(ServerCall<byte[], byte[]> call, Metadata headers, Channel channel,
      UpstreamGzip gzip) {
    return start(call, headers, channel, MoreExecutors.newSequentialExecutor(MoreExecutors.directExecutor()),
        () -> { }, gzip);
  }

  /**
   * As {@link #start(ServerCall, Metadata, Channel, UpstreamGzip)}, from the event loop {@code loop} (the current
   * thread's), whose channel {@code channel} is: the call's tasks run in a {@link LoopLane} on it.
   * {@code upstreamUnreachable} runs when the call ends before any answer because it found no upstream
   * ({@link #foundNoUpstream}).
   */
  static ServerCall.Listener<byte[]> start(ServerCall<byte[], byte[]> call, Metadata headers, Channel channel,
      EventLoop loop, Runnable upstreamUnreachable, UpstreamGzip gzip) {
    return start(call, headers, channel, LoopLane.onCurrentLoop(loop), upstreamUnreachable, gzip);
  }

  private static ServerCall.Listener<byte[]> start(ServerCall<byte[], byte[]> call, Metadata headers,
      Channel channel, Executor lane, Runnable upstreamUnreachable, UpstreamGzip gzip) {
    // Callbacks come straight from the upstream transport; UpstreamListener posts each to the lane.
    CallOptions options = CallOptions.DEFAULT.withExecutor(MoreExecutors.directExecutor());
    Deadline deadline = Context.current().getDeadline();
    if (deadline != null) {
      options = options.withDeadline(deadline);
    }
    String encoding = gzip.forRequest(headers);
    if (encoding != null) {
      options = options.withCompression(encoding);
    }
    // Made outside the call's Context, which carries nothing else: the caller's cancellation reaches the upstream
    // through onCancel only. Bound to that Context, the upstream call would end itself the moment grpc cancels the
    // caller's call (e.g. a message over the limit), and when it was still waiting for a connection its
    // CANCELLED "RPC cancelled" would reach the caller before grpc's own answer (RESOURCE_EXHAUSTED).
    ClientCall<byte[], byte[]> upstream;
    Context previous = Context.ROOT.attach();
    try {
      upstream = channel.newCall(upstreamMethod(call.getMethodDescriptor()), options);
    } finally {
      Context.ROOT.detach(previous);
    }
    ForwardedCall forwarded = new ForwardedCall(call, upstream, lane, upstreamUnreachable, gzip);
    lane.execute(() -> forwarded.begin(headers));
    return forwarded;
  }

  /** The caller's descriptor when it is already the pass-through one (always, from ForwardingRegistry), else one. */
  static MethodDescriptor<byte[], byte[]> upstreamMethod(MethodDescriptor<byte[], byte[]> called) {
    if (called.getType() == MethodDescriptor.MethodType.UNKNOWN
        && called.getRequestMarshaller() == OpaqueBytes.REQUESTS
        && called.getResponseMarshaller() == OpaqueBytes.INSTANCE) {
      return called;
    }
    return OpaqueBytes.method(called.getFullMethodName());
  }

  private void begin(Metadata headers) {
    try {
      upstream.start(new UpstreamListener(), headers);
      // One message each way to begin with; from then on, one more only once the other side is ready.
      upstream.request(1);
      downstream.request(1);
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  // ---- the caller's side (posted to the lane) ----

  @Override
  public void onMessage(byte[] message) {
    if (message == OpaqueBytes.REFUSED) {
      // gRPC refused the message as it was read (taken here, on the thread that read it): the call ends.
      Status refusal = OpaqueBytes.takeRefusal();
      inLane(() -> refuse(refusal));
      return;
    }
    inLane(() -> {
      if (upstreamCancelled) {
        return;
      }
      upstream.sendMessage(message);
      if (upstream.isReady()) {
        downstream.request(1);
      } else {
        awaitingUpstreamReady = true;
      }
    });
  }

  @Override
  public void onHalfClose() {
    inLane(() -> {
      if (!upstreamCancelled) {
        upstream.halfClose();
      }
    });
  }

  @Override
  public void onCancel() {
    // The caller cancelled, its deadline passed, or its connection went away.
    inLane(() -> {
      downstreamClosed = true;
      cancelUpstream("the caller cancelled the call");
    });
  }

  @Override
  public void onReady() {
    inLane(() -> {
      if (awaitingDownstreamReady && !downstreamClosed && downstream.isReady()) {
        awaitingDownstreamReady = false;
        upstream.request(1);
      }
    });
  }

  // ---- the upstream's side (posted to the lane) ----

  private final class UpstreamListener extends ClientCall.Listener<byte[]> {
    @Override
    public void onHeaders(Metadata headers) {
      inLane(() -> {
        upstreamAnswered = true;
        if (!downstreamClosed) {
          gzip.answered(headers);
          String encoding = UpstreamGzip.forAnswer(headers);
          if (encoding != null) {
            downstream.setCompression(encoding); // gRPC sends it whole to a caller that does not accept it
          }
          downstream.sendHeaders(headers);
        }
      });
    }

    @Override
    public void onMessage(byte[] message) {
      inLane(() -> {
        upstreamAnswered = true;
        if (downstreamClosed) {
          return;
        }
        downstream.sendMessage(message);
        if (downstream.isReady()) {
          upstream.request(1);
        } else {
          awaitingDownstreamReady = true;
        }
      });
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      inLane(() -> {
        if (!upstreamAnswered && !upstreamCancelled && foundNoUpstream(status)) {
          upstreamUnreachable.run();
        }
        if (!downstreamClosed) {
          downstreamClosed = true;
          downstream.close(forCaller(status), trailers); // as the upstream sent them, unless its connection broke
        }
      });
    }

    @Override
    public void onReady() {
      inLane(() -> {
        if (awaitingUpstreamReady && !upstreamCancelled && upstream.isReady()) {
          awaitingUpstreamReady = false;
          downstream.request(1);
        }
      });
    }
  }

  /**
   * Whether a call that ended with {@code status} before any answer found no upstream to take it: {@code UNAVAILABLE}
   * from grpc-java's own client (a failed connection, no address ready), which carries the failure as its cause. An
   * upstream's own {@code UNAVAILABLE} (a server shedding load answers trailers-only) has none: that upstream was
   * reached, and its answer must not cut the connect backoff of the others short.
   */
  static boolean foundNoUpstream(Status status) {
    return status.getCode() == Status.Code.UNAVAILABLE && status.getCause() != null;
  }

  /**
   * The status the caller gets when the upstream call ends with {@code status}: code and description as the upstream
   * sent them, except when the gateway's own connection to the upstream broke under the call. grpc-netty reports
   * that break as UNAVAILABLE when it sees the connection close, but as UNKNOWN "channel closed" (its cause a
   * {@link java.nio.channels.ClosedChannelException}) when a write of the call reached the closed connection first;
   * which one wins is a race between the upstream's death and the call's own traffic. Both are the same event, and
   * the caller learns UNAVAILABLE (which it may retry) either way. A call that found no upstream it could connect
   * to (refused, timed out, no route) learns so in relay mode's words, "no upstream gRPC server reachable", not
   * grpc-netty's "io exception"; the reason and address are in the gateway's WARN line, not sent to callers. An
   * answer that decompressed past the gateway's limit ends the caller's call {@code RESOURCE_EXHAUSTED}, saying so,
   * as a request does: grpc-java's client reports it as {@code CANCELLED "Failed to read message."}, its cause the
   * refusal; one it could not read at all (a corrupt compressed message) ends it {@code INTERNAL}, not
   * {@code CANCELLED}, which callers take for their own cancellation. A status the upstream sent has no cause, so it
   * is never changed, with one exception: a deadline that grpc-java's client timer ended in the gateway (no cause
   * either, and worded {@code CallOptions deadline exceeded after ...}) loses the bracketed details grpc appends,
   * which name the upstream's address.
   */
  static Status forCaller(Status status) {
    String description = status.getDescription();
    if (status.getCode() == Status.Code.DEADLINE_EXCEEDED && description != null) {
      int details = description.indexOf(" [");
      if (description.startsWith("CallOptions deadline exceeded") && details > 0 && description.endsWith("]")
          && description.indexOf("remote_addr=", details) > 0) {
        return status.withDescription(description.substring(0, details));
      }
    }
    if (status.getCode() == Status.Code.CANCELLED && status.getCause() != null) {
      Status refusal = Status.fromThrowable(status.getCause());
      if (refusal.getCode() == Status.Code.RESOURCE_EXHAUSTED) {
        return OpaqueBytes.inOurWords(refusal, "response").withCause(status.getCause());
      }
      if (refusal.getCode() == Status.Code.INTERNAL) {
        // An answer the gateway could not read (a corrupt gzip message): not the caller's own cancellation.
        return Status.INTERNAL.withDescription("the upstream's response could not be read ("
            + refusal.getDescription() + ")").withCause(status.getCause());
      }
    }
    if (status.getCode() == Status.Code.UNKNOWN && brokenConnection(status.getCause())) {
      return Status.UNAVAILABLE.withDescription("the connection to the upstream gRPC server closed during the call ("
          + status.getDescription() + ")").withCause(status.getCause());
    }
    if (status.getCode() == Status.Code.UNAVAILABLE && failedConnect(status.getCause())) {
      return Status.UNAVAILABLE.withDescription("no upstream gRPC server reachable").withCause(status.getCause());
    }
    return status;
  }

  private static boolean failedConnect(Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof ConnectException || t instanceof NoRouteToHostException) { // also Netty's connect timeout
        return true;
      }
    }
    return false;
  }

  private static boolean brokenConnection(Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof IOException) { // ClosedChannelException is one
        return true;
      }
    }
    return false;
  }

  private void inLane(Runnable task) {
    lane.execute(() -> guarded(task));
  }

  private void guarded(Runnable task) {
    try {
      task.run();
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  /** A bug or a broken invariant: both sides end, the caller with INTERNAL. */
  private void fail(RuntimeException e) {
    FAILED.log("Forwarding {} failed: {}", downstream.getMethodDescriptor().getFullMethodName(), e);
    cancelUpstream("the proxy failed: " + e);
    if (!downstreamClosed) {
      downstreamClosed = true;
      try {
        downstream.close(Status.INTERNAL.withDescription("the gateway failed to forward the call"), new Metadata());
      } catch (RuntimeException ignored) {
        // already closed
      }
    }
  }

  /** Ends both sides for a caller's message gRPC refused: the caller learns why, the upstream is cancelled. */
  private void refuse(Status refusal) {
    cancelUpstream("the caller's message was refused: " + refusal.getDescription());
    if (!downstreamClosed) {
      downstreamClosed = true;
      downstream.close(refusal, new Metadata());
    }
  }

  private void cancelUpstream(String reason) {
    if (!upstreamCancelled) {
      upstreamCancelled = true;
      upstream.cancel(reason, null);
    }
  }
}
