package dev.wsgrpc.okhttp.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The interceptor alone, on a call that answers from inside its start, as grpc-okhttp does with a direct executor. */
class CallbacksAfterStartInterceptorTest {

  private static final MethodDescriptor<String, String> METHOD = MethodDescriptor.<String, String>newBuilder()
      .setType(MethodDescriptor.MethodType.CLIENT_STREAMING)
      .setFullMethodName("test/Method")
      .setRequestMarshaller(new StringMarshaller())
      .setResponseMarshaller(new StringMarshaller())
      .build();

  private final List<String> events = new ArrayList<>();

  @Test
  void callbacksFromInsideStartArriveAfterStartReturnsInTheirOrder() {
    ClientCall<String, String> call = new CallbacksAfterStartInterceptor().interceptCall(METHOD, CallOptions.DEFAULT,
        channelWhoseStart(listener -> {
          listener.onReady();
          listener.onHeaders(new Metadata());
          listener.onMessage("m");
          events.add("start returns");
        }));
    call.start(recorder(), new Metadata());
    events.add("after start");
    assertEquals(List.of("start returns", "onReady", "onHeaders", "onMessage m", "after start"), events);
  }

  @Test
  void aCallbackDuringAnotherRunsAfterItOnTheSameThread() {
    ClientCall<String, String> call = new CallbacksAfterStartInterceptor().interceptCall(METHOD, CallOptions.DEFAULT,
        channelWhoseStart(listener -> { }));
    ClientCall.Listener<String>[] inner = captured;
    call.start(new ClientCall.Listener<String>() {
      @Override
      public void onHeaders(Metadata headers) {
        events.add("onHeaders begins");
        inner[0].onMessage("nested");
        events.add("onHeaders ends");
      }

      @Override
      public void onMessage(String message) {
        events.add("onMessage " + message);
      }
    }, new Metadata());
    inner[0].onHeaders(new Metadata());
    assertEquals(List.of("onHeaders begins", "onHeaders ends", "onMessage nested"), events);
  }

  /**
   * An onReady from grpc-okhttp's reader thread runs on a thread of the interceptor's, never inside the caller
   * (grpc-okhttp's flow controller, which would strand what the handler writes), in the Context it was delivered in;
   * what arrives while it runs waits for it, then runs on the same thread, in its own Context.
   */
  @Test
  void anOnReadyFromTheTransportRunsOnAThreadOfItsOwnAndWhatArrivesMeanwhileWaitsForIt() throws Exception {
    ClientCall<String, String> call = new CallbacksAfterStartInterceptor().interceptCall(METHOD, CallOptions.DEFAULT,
        channelWhoseStart(listener -> { }));
    ClientCall.Listener<String>[] inner = captured;
    io.grpc.Context.Key<String> key = io.grpc.Context.key("test");
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch proceed = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    List<String> threads = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    call.start(new ClientCall.Listener<String>() {
      @Override
      public void onReady() {
        threads.add(Thread.currentThread().getName());
        seen.add("onReady in context " + key.get());
        running.countDown();
        try {
          proceed.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }

      @Override
      public void onMessage(String message) {
        threads.add(Thread.currentThread().getName());
        seen.add("onMessage " + message + " in context " + key.get());
        done.countDown();
      }
    }, new Metadata());
    Thread reader = new Thread(() -> {
      CallbacksAfterStartInterceptor.onTransportThread(); // as the tunnel's socket marks grpc-okhttp's reader
      io.grpc.Context.current().withValue(key, "v").run(() -> inner[0].onReady());
    }, "transport");
    reader.start();
    reader.join(30_000);
    assertEquals(true, running.await(30, TimeUnit.SECONDS));
    // Queued behind the onReady: returns at once, and runs later in the Context it was delivered in.
    io.grpc.Context.current().withValue(key, "w").run(() -> inner[0].onMessage("m"));
    proceed.countDown();
    assertEquals(true, done.await(30, TimeUnit.SECONDS));
    assertEquals(List.of("onReady in context v", "onMessage m in context w"), seen);
    assertEquals(threads.get(0), threads.get(1), "the queued callback runs after it, on its thread");
    assertEquals(true, threads.get(0).startsWith("wsgrpc-okhttp-callbacks-"), threads.toString());
  }

  /**
   * An onReady that grpc delivers on an executor (the channel's default, the application's own such as Android's main
   * thread) runs there, as grpc delivered it; one from inside the call's own method (grpc-okhttp's flow controller,
   * with a direct executor) goes to the pool.
   */
  @Test
  void anOnReadyFromAnExecutorStaysOnItAndOneFromInsideTheCallsOwnMethodDoesNot() throws Exception {
    CountDownLatch bothRan = new CountDownLatch(2);
    List<String> threads = new java.util.concurrent.CopyOnWriteArrayList<>();
    ClientCall<String, String> call = new CallbacksAfterStartInterceptor().interceptCall(METHOD, CallOptions.DEFAULT,
        channelWhoseStart(listener -> { }, () -> captured[0].onReady()));
    call.start(new ClientCall.Listener<String>() {
      @Override
      public void onReady() {
        threads.add(Thread.currentThread().getName());
        bothRan.countDown();
      }
    }, new Metadata());
    // As an executor's task, on a thread of the executor's (a fresh one: the test runner's thread may have read a
    // tunnel's socket in another test, which marks it as grpc-okhttp's reader): it stays on that thread.
    Thread executor = new Thread(() -> captured[0].onReady(), "executor");
    executor.start();
    executor.join(30_000);
    assertEquals(List.of("executor"), threads);
    call.request(1); // the call's request delivers an onReady inline, as grpc-okhttp's flow controller may
    assertEquals(true, bothRan.await(30, TimeUnit.SECONDS));
    assertEquals(true, threads.get(1).startsWith("wsgrpc-okhttp-callbacks-"), threads.toString());
  }

  /** A callback that throws cancels the call (on the pool, nobody else could be told) and those behind it still run. */
  @Test
  void aCallbackThatThrowsCancelsTheCallAndThoseBehindItStillRun() {
    List<String> cancelled = new ArrayList<>();
    ClientCall<String, String> call = new io.grpc.ForwardingClientCall.SimpleForwardingClientCall<String, String>(
        channelWhoseStart(listener -> { }).newCall(METHOD, CallOptions.DEFAULT)) {
      @Override
      public void cancel(String message, Throwable cause) {
        cancelled.add(message + ": " + cause.getMessage());
      }
    };
    CallbacksAfterStartInterceptor.OrderedListener<String> ordered = new CallbacksAfterStartInterceptor
        .OrderedListener<>(new ClientCall.Listener<String>() {
          @Override
          public void onReady() {
            throw new IllegalStateException("the handler broke");
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            events.add("onClose " + status.getCode());
          }
        }, call, Runnable::run);
    ordered.hold();
    Thread transport = new Thread(() -> {
      CallbacksAfterStartInterceptor.onTransportThread(); // grpc-okhttp's reader: the onReady goes to the pool path
      ordered.onReady();
      ordered.onClose(Status.CANCELLED, new Metadata());
    }, "transport");
    transport.start();
    try {
      transport.join(30_000);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    ordered.release(); // runs both: the onReady's failure cancels the call, and is not thrown here
    assertEquals(List.of("the listener's callback threw: the handler broke"), cancelled);
    assertEquals(List.of("onClose CANCELLED"), events);
  }

  @Test
  void aCallbackFromAnotherThreadDuringStartWaitsForStart() throws Exception {
    CountDownLatch queued = new CountDownLatch(1);
    ClientCall<String, String> call = new CallbacksAfterStartInterceptor().interceptCall(METHOD, CallOptions.DEFAULT,
        channelWhoseStart(listener -> {
          Thread other = new Thread(() -> {
            listener.onClose(Status.CANCELLED, new Metadata());
            queued.countDown();
          });
          other.start();
          try {
            // The other thread's callback is queued, not run: it returns at once.
            assertEquals(true, queued.await(30, TimeUnit.SECONDS));
          } catch (InterruptedException e) {
            throw new AssertionError(e);
          }
          events.add("start returns");
        }));
    call.start(recorder(), new Metadata());
    assertEquals(List.of("start returns", "onClose CANCELLED"), events);
  }

  private ClientCall.Listener<String> recorder() {
    return new ClientCall.Listener<String>() {
      @Override
      public void onReady() {
        events.add("onReady");
      }

      @Override
      public void onHeaders(Metadata headers) {
        events.add("onHeaders");
      }

      @Override
      public void onMessage(String message) {
        events.add("onMessage " + message);
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        events.add("onClose " + status.getCode());
      }
    };
  }

  interface StartAction {
    void run(ClientCall.Listener<String> listener);
  }

  @SuppressWarnings("unchecked")
  private final ClientCall.Listener<String>[] captured = new ClientCall.Listener[1];

  private Channel channelWhoseStart(StartAction action) {
    return channelWhoseStart(action, () -> { });
  }

  /** As {@link #channelWhoseStart(StartAction)}, whose calls' {@code request} runs {@code onRequest}. */
  private Channel channelWhoseStart(StartAction action, Runnable onRequest) {
    return new Channel() {
      @Override
      @SuppressWarnings("unchecked")
      public <Q, R> ClientCall<Q, R> newCall(MethodDescriptor<Q, R> method, CallOptions options) {
        return (ClientCall<Q, R>) new ClientCall<String, String>() {
          @Override
          public void start(Listener<String> listener, Metadata headers) {
            captured[0] = listener;
            action.run(listener);
          }

          @Override
          public void request(int numMessages) {
            onRequest.run();
          }

          @Override
          public void cancel(String message, Throwable cause) {
          }

          @Override
          public void halfClose() {
          }

          @Override
          public void sendMessage(String message) {
          }
        };
      }

      @Override
      public String authority() {
        return "test";
      }
    };
  }

  private static final class StringMarshaller implements MethodDescriptor.Marshaller<String> {
    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      throw new UnsupportedOperationException();
    }
  }
}
