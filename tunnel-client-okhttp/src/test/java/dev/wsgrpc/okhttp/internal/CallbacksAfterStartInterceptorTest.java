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
      public void onReady() {
        events.add("onReady begins");
        inner[0].onMessage("nested");
        events.add("onReady ends");
      }

      @Override
      public void onMessage(String message) {
        events.add("onMessage " + message);
      }
    }, new Metadata());
    inner[0].onReady();
    assertEquals(List.of("onReady begins", "onReady ends", "onMessage nested"), events);
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
