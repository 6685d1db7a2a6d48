package dev.wsgrpc.okhttp.internal;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Context;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Delivers a call's listener callbacks one at a time, in order, and never runs the application's {@code onReady}
 * inside grpc-okhttp's own writing: callbacks that arrive while {@link ClientCall#start} runs wait until it has
 * returned, and an {@code onReady} that grpc-okhttp delivers inline (with {@code directExecutor()}: on its reader
 * thread, or inside one of the call's own methods) is handed to a thread of its own (a shared pool), with what
 * arrives meanwhile queued behind it. Callbacks that grpc delivers on an executor (the channel's default, or the
 * application's own, such as Android's main thread) stay on it.
 *
 * <p>Why: grpc-okhttp (1.82) calls {@code onReady} from inside its outbound flow controller while it sends a stream's
 * pending bytes, having fixed how many it sends. With {@code directExecutor()} the application's onReady handler runs
 * right there, and a message it writes is appended to the pending bytes after that count was fixed: it is not sent,
 * and nothing sends it later while the windows stay open, so an onReady-driven upload stalls for good. It happens when
 * the stream starts (the stream is announced ready before what was written earlier is sent) and whenever the server
 * opens the connection's window while bytes wait (a connection WINDOW_UPDATE, or a SETTINGS that raises the
 * window): the benchmark's 64 KiB upload over wss hung so for ten minutes. An {@code onReady} run on another thread
 * writes once the flow controller has finished and released its lock, so every message goes to flow control whole.
 * The cost is a thread hop per such {@code onReady}: about one per window refilled on an upload, none on a download.
 * The reader thread is known by the tunnel's socket, which it reads ({@link #onTransportThread}); plain grpc-okhttp
 * channels (the benchmark's baseline) are guarded alike with a {@link TransportThreadSocketFactory}, and without one
 * only at the start and inside the call's own methods.
 *
 * <p>Callbacks run on the pool run in the gRPC {@link Context} they were delivered in; if one throws, the call is
 * cancelled with that cause (as grpc does for a callback of its own that throws) and what waits behind it is still
 * delivered.
 *
 * <p>Not API: {@code OkHttpWebSocketChannels} installs it, and it is public only so that the benchmark's grpc-okhttp
 * baseline can have the same guard and the tunnel's socket can mark grpc-okhttp's reader thread. It may change or go
 * without notice.
 */
public final class CallbacksAfterStartInterceptor implements ClientInterceptor {

  /** Set on grpc-okhttp's reader threads of tunnels: an onReady there comes from inside its flow controller. */
  private static final ThreadLocal<Boolean> TRANSPORT_THREAD = new ThreadLocal<Boolean>();
  /** How deep this thread is in the methods of intercepted calls: an onReady then comes from inside grpc-okhttp. */
  private static final ThreadLocal<int[]> IN_CALL = new ThreadLocal<int[]>() {
    @Override
    protected int[] initialValue() {
      return new int[1];
    }
  };

  /** Runs the {@code onReady} callbacks (and what queues behind them): daemon threads, kept 10 s when idle. */
  private static final Executor READY = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 10, TimeUnit.SECONDS,
      new SynchronousQueue<Runnable>(), new ThreadFactory() {
        private final AtomicInteger count = new AtomicInteger();

        @Override
        public Thread newThread(Runnable r) {
          Thread t = new Thread(r, "wsgrpc-okhttp-callbacks-" + count.incrementAndGet());
          t.setDaemon(true);
          return t;
        }
      });

  /**
   * Marks the current thread as one that grpc-okhttp's transport reads on: called by the tunnel's socket at each
   * read, so cheap once set.
   */
  public static void onTransportThread() {
    if (TRANSPORT_THREAD.get() == null) {
      TRANSPORT_THREAD.set(Boolean.TRUE);
    }
  }

  /** Whether an onReady arriving now comes from inside grpc-okhttp, not from an executor. */
  static boolean deliveredInline() {
    return TRANSPORT_THREAD.get() != null || IN_CALL.get()[0] > 0;
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions callOptions,
      Channel next) {
    return new ForwardingClientCall.SimpleForwardingClientCall<Q, R>(next.newCall(method, callOptions)) {
      @Override
      public void start(Listener<R> listener, Metadata headers) {
        OrderedListener<R> ordered = new OrderedListener<R>(listener, this, READY);
        ordered.hold();
        try {
          super.start(ordered, headers);
        } finally {
          ordered.release();
        }
      }

      @Override
      public void sendMessage(Q message) {
        int[] depth = IN_CALL.get();
        depth[0]++;
        try {
          super.sendMessage(message);
        } finally {
          depth[0]--;
        }
      }

      @Override
      public void request(int numMessages) {
        int[] depth = IN_CALL.get();
        depth[0]++;
        try {
          super.request(numMessages);
        } finally {
          depth[0]--;
        }
      }

      @Override
      public void halfClose() {
        int[] depth = IN_CALL.get();
        depth[0]++;
        try {
          super.halfClose();
        } finally {
          depth[0]--;
        }
      }

      @Override
      public void cancel(String message, Throwable cause) {
        // A cancel ends this call and may start one queued behind the server's stream limit, sending its data.
        int[] depth = IN_CALL.get();
        depth[0]++;
        try {
          super.cancel(message, cause);
        } finally {
          depth[0]--;
        }
      }
    };
  }

  /**
   * Runs each callback once no other callback (and no start) is running; the releasing thread runs what waited. An
   * {@code onReady} that finds none running is run by {@code ready} instead, with what queues behind it.
   */
  static final class OrderedListener<R> extends ClientCall.Listener<R> {
    private final ClientCall.Listener<R> delegate;
    private final ClientCall<?, ?> call;
    private final Executor ready;
    private final Object lock = new Object();
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<Runnable>();
    /** A thread is running callbacks, or start has not returned: new callbacks wait in {@link #waiting}. */
    private boolean busy;

    OrderedListener(ClientCall.Listener<R> delegate, ClientCall<?, ?> call, Executor ready) {
      this.delegate = delegate;
      this.call = call;
      this.ready = ready;
    }

    void hold() {
      synchronized (lock) {
        busy = true;
      }
    }

    /**
     * Runs what waited, and what arrives meanwhile, on this thread. A callback that throws does not stop the others:
     * the first throwable is rethrown once the queue is empty.
     */
    void release() {
      Throwable thrown = null;
      while (true) {
        Runnable next;
        synchronized (lock) {
          next = waiting.poll();
          if (next == null) {
            busy = false;
            break;
          }
        }
        try {
          next.run();
        } catch (Throwable t) {
          if (thrown == null) {
            thrown = t;
          }
        }
      }
      if (thrown instanceof RuntimeException) {
        throw (RuntimeException) thrown;
      }
      if (thrown instanceof Error) {
        throw (Error) thrown;
      }
    }

    private void deliver(Runnable callback) {
      synchronized (lock) {
        if (busy) {
          // Bounded: grpc itself delivers one callback at a time, so what waits here is what arrived during start
          // (onReady, perhaps headers or a close) or during the one callback running now. It may run on the pool:
          // in the Context it was delivered in.
          waiting.add(inContext(callback));
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

    /** {@code callback}, to run later in this thread's {@link Context}. */
    private static Runnable inContext(final Runnable callback) {
      final Context context = Context.current();
      return new Runnable() {
        @Override
        public void run() {
          Context previous = context.attach();
          try {
            callback.run();
          } finally {
            context.detach(previous);
          }
        }
      };
    }

    /** {@code callback} on the pool, in this thread's {@link Context}, cancelling the call if it throws. */
    private void deliverElsewhere(Runnable callback) {
      final Runnable inContext = inContext(callback);
      Runnable guarded = new Runnable() {
        @Override
        public void run() {
          try {
            inContext.run();
          } catch (Throwable t) {
            call.cancel("the listener's callback threw", t);
          }
        }
      };
      synchronized (lock) {
        waiting.add(guarded);
        if (busy) {
          return; // run by the thread running callbacks now, after the one it runs
        }
        busy = true;
      }
      try {
        ready.execute(new Runnable() {
          @Override
          public void run() {
            try {
              release();
            } catch (Throwable t) {
              call.cancel("the listener's callback threw", t); // one queued behind the onReady: no caller to tell
            }
          }
        });
      } catch (Throwable e) {
        release(); // no thread for it (out of threads): here, then, rather than never
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
      Runnable callback = new Runnable() {
        @Override
        public void run() {
          delegate.onReady();
        }
      };
      if (deliveredInline()) {
        deliverElsewhere(callback);
      } else {
        deliver(callback);
      }
    }
  }
}
