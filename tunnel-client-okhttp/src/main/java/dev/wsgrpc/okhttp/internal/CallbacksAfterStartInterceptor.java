package dev.wsgrpc.okhttp.internal;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.ArrayDeque;

/**
 * Holds back a call's listener callbacks that arrive while {@link ClientCall#start} runs, and delivers them, in
 * order, once it has returned; later callbacks go through the same queue, so the listener still sees one callback
 * at a time.
 *
 * <p>Why: grpc-okhttp (1.82 to 1.85) starts a stream by announcing it ready and only then sending what was written
 * before the start. With {@code directExecutor()} the application's onReady handler runs inside that announcement and
 * its first message waits in the stream's pending buffer; sending that buffer, when the server's windows hold all of
 * it, fires onReady again, and a message written then is appended to the buffer being sent, after the byte count being
 * sent was fixed: it is never sent, and an onReady-driven upload stalls. With the first onReady delivered after
 * {@code start} returns, the stream has started, nothing is pending, and every message goes straight to flow
 * control. Callbacks from other executors take the same path (they already run after the start).
 *
 * <p>Not covered: a call that waits for a stream because the server's {@code MAX_CONCURRENT_STREAMS} are in use
 * starts later, on grpc-okhttp's reader thread, outside {@code start}; with {@code directExecutor()} its onReady
 * handler must not write from within that first onReady (see docs/ANDROID.md).
 *
 * <p>Not API: {@code OkHttpWebSocketChannels} installs it, and it is public only so that the benchmark's grpc-okhttp
 * baseline can have the same guard. It may change or go without notice.
 */
public final class CallbacksAfterStartInterceptor implements ClientInterceptor {

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions callOptions,
      Channel next) {
    return new ForwardingClientCall.SimpleForwardingClientCall<Q, R>(next.newCall(method, callOptions)) {
      @Override
      public void start(Listener<R> listener, Metadata headers) {
        OrderedListener<R> ordered = new OrderedListener<R>(listener);
        ordered.hold();
        try {
          super.start(ordered, headers);
        } finally {
          ordered.release();
        }
      }
    };
  }

  /** Runs each callback once no other callback (and no start) is running; the releasing thread runs what waited. */
  static final class OrderedListener<R> extends ClientCall.Listener<R> {
    private final ClientCall.Listener<R> delegate;
    private final Object lock = new Object();
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<Runnable>();
    /** A thread is running callbacks, or start has not returned: new callbacks wait in {@link #waiting}. */
    private boolean busy;

    OrderedListener(ClientCall.Listener<R> delegate) {
      this.delegate = delegate;
    }

    void hold() {
      synchronized (lock) {
        busy = true;
      }
    }

    /** Runs what waited, and what arrives meanwhile, on this thread. */
    void release() {
      while (true) {
        Runnable next;
        synchronized (lock) {
          next = waiting.poll();
          if (next == null) {
            busy = false;
            return;
          }
        }
        next.run();
      }
    }

    private void deliver(Runnable callback) {
      synchronized (lock) {
        if (busy) {
          // Bounded: grpc itself delivers one callback at a time, so what waits here is what arrived during start
          // (onReady, perhaps headers or a close) or during the one callback running now.
          waiting.add(callback);
          return;
        }
        busy = true;
      }
      try {
        callback.run();
      } finally {
        release();
      }
    }

    @Override
    public void onHeaders(final Metadata headers) {
      deliver(new Runnable() {
        @Override
        public void run() {
          delegate.onHeaders(headers);
        }
      });
    }

    @Override
    public void onMessage(final R message) {
      deliver(new Runnable() {
        @Override
        public void run() {
          delegate.onMessage(message);
        }
      });
    }

    @Override
    public void onClose(final Status status, final Metadata trailers) {
      deliver(new Runnable() {
        @Override
        public void run() {
          delegate.onClose(status, trailers);
        }
      });
    }

    @Override
    public void onReady() {
      deliver(new Runnable() {
        @Override
        public void run() {
          delegate.onReady();
        }
      });
    }
  }
}
