package dev.wsgrpc.server;

import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;

/**
 * An admitted native gRPC call that its authenticator may end later, from any thread: when the bearer token it was
 * admitted with is revoked ({@link BearerTokens#refresh()}), as the tunnels of that token are closed.
 *
 * <p>A revocation closes the call with {@code UNAUTHENTICATED} and the reason (the client sees it), cancels the
 * call's {@link Context} at once (so the handler learns it: {@code Context.current().isCancelled()}, its cancellation
 * listeners, {@code isCancelled()}) and turns the listener's final {@code onComplete} into {@code onCancel}, as for a
 * call the client cancelled. grpc-java's {@link ServerCall} is not thread-safe, and the revocation comes from another
 * thread (a token file's watcher): every method that writes to the call is serialised with the revocation by a lock,
 * the call is closed once, and once revoked the application's later headers, messages and close are quietly ignored.
 *
 * <p>Whoever keeps it to revoke it later forgets it when it ends ({@link Revocable#whenEnded}).
 */
final class RevocableCall<ReqT, RespT> extends ForwardingServerCall.SimpleForwardingServerCall<ReqT, RespT>
    implements Revocable {

  private final Context.CancellableContext context;
  /** Guards every write to the call, {@link #closed}, {@link #ended} and {@link #onEnd}. */
  private final Object lock = new Object();
  private boolean closed;
  private volatile boolean revoked;
  private boolean ended;
  /** Each keeper's action (one per authenticator that admitted the call); null once run. */
  private List<Runnable> onEnd = new ArrayList<>(1);
  /** The call's attributes with its principal, once admitted. */
  private volatile Attributes attributes;

  /**
   * {@code call}, to run in a cancellable child of {@code context}: made before the call is authenticated (the
   * authenticator keeps it, {@link UpgradeRequest#call()}), started once admitted ({@link #start}).
   */
  RevocableCall(ServerCall<ReqT, RespT> call, Context context) {
    super(call);
    this.attributes = call.getAttributes();
    this.context = context.withCancellation();
  }

  /**
   * Starts the admitted call: the handler sees this call, with {@code principal} in its attributes
   * ({@link TunnelPrincipal#ATTRIBUTE}) and its context ({@link TunnelPrincipal#CONTEXT_KEY}).
   */
  ServerCall.Listener<ReqT> start(Object principal, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    attributes = attributes.toBuilder().set(TunnelPrincipal.ATTRIBUTE, principal).build();
    ServerCall.Listener<ReqT> listener;
    try {
      // A child of the cancellable context: cancelled with it.
      listener = Contexts.interceptCall(context.withValue(TunnelPrincipal.CONTEXT_KEY, principal), this, headers,
          next);
    } catch (RuntimeException | Error e) {
      over(); // grpc-java closes the call; no listener will tell us
      throw e;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<ReqT>(listener) {
      @Override
      public void onComplete() {
        try {
          if (revoked) {
            super.onCancel(); // the call ended because we closed it: for the handler, it was cancelled
          } else {
            super.onComplete();
          }
        } finally {
          over();
        }
      }

      @Override
      public void onCancel() {
        try {
          super.onCancel();
        } finally {
          over();
        }
      }
    };
  }

  @Override
  public void revoke(String reason) {
    Status status = Status.UNAUTHENTICATED.withDescription(reason);
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true; // from here the application's writes are dropped
      revoked = true;
    }
    // The handler learns first, and why, before grpc-java reports the call over (onCancel, with no cause).
    context.cancel(status.asRuntimeException());
    synchronized (lock) {
      delegate().close(status, new Metadata());
    }
    ended();
  }

  @Override
  public void whenEnded(Runnable action) {
    synchronized (lock) {
      if (!ended) {
        onEnd.add(action);
        return;
      }
    }
    action.run();
  }

  /** The call was never started (its authentication failed with an exception): whoever keeps it forgets it. */
  void abandoned() {
    ended();
  }

  /** The call is over for grpc-java too: its context is cancelled, as grpc-java's own is. */
  private void over() {
    context.cancel(null);
    ended();
  }

  /** The call has ended (closed, revoked or cancelled): the keeper forgets it. */
  private void ended() {
    List<Runnable> actions;
    synchronized (lock) {
      if (ended) {
        return;
      }
      ended = true;
      actions = onEnd;
      onEnd = null;
    }
    for (Runnable action : actions) {
      action.run();
    }
  }

  @Override
  public void sendHeaders(Metadata headers) {
    synchronized (lock) {
      if (!revoked) {
        super.sendHeaders(headers);
      }
    }
  }

  @Override
  public void sendMessage(RespT message) {
    synchronized (lock) {
      if (!revoked) {
        super.sendMessage(message);
      }
    }
  }

  @Override
  public void close(Status status, Metadata trailers) {
    synchronized (lock) {
      if (revoked) {
        return;
      }
      closed = true;
      super.close(status, trailers);
    }
    ended();
  }

  @Override
  public void setMessageCompression(boolean enabled) {
    synchronized (lock) {
      if (!revoked) {
        super.setMessageCompression(enabled);
      }
    }
  }

  @Override
  public void setCompression(String compressor) {
    synchronized (lock) {
      if (!revoked) {
        super.setCompression(compressor);
      }
    }
  }

  @Override
  public void setOnReadyThreshold(int numBytes) {
    synchronized (lock) {
      if (!revoked) {
        super.setOnReadyThreshold(numBytes);
      }
    }
  }

  @Override
  public boolean isReady() {
    return !revoked && super.isReady();
  }

  @Override
  public boolean isCancelled() {
    return revoked || super.isCancelled();
  }

  @Override
  public Attributes getAttributes() {
    return attributes;
  }
}
