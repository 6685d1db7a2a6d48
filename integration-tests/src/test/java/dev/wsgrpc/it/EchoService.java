package dev.wsgrpc.it;

import com.google.protobuf.ByteString;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The Echo service of the end-to-end suite: all four RPC kinds, failures on request, delays, and a record of the
 * cancellations it saw so tests can assert that deadlines and cancellation reach the server.
 */
final class EchoService extends EchoGrpc.EchoImplBase {

  final CountDownLatch cancelled = new CountDownLatch(1);
  /** Counted down when a unary call with a delay arrives, before the delay starts. */
  final CountDownLatch delayedUnaryArrived = new CountDownLatch(1);
  final AtomicInteger cancellations = new AtomicInteger();
  /** Unary calls that reached the service. */
  final AtomicInteger unaryCalls = new AtomicInteger();
  /** One permit per cancellation seen, for tests that wait for a particular one. */
  final java.util.concurrent.Semaphore cancelSignals = new java.util.concurrent.Semaphore(0);
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "echo-timer");
    t.setDaemon(true);
    return t;
  });

  private void onCancel(ServerCallStreamObserver<?> call) {
    call.setOnCancelHandler(() -> {
      cancellations.incrementAndGet();
      cancelled.countDown();
      cancelSignals.release();
    });
  }

  @Override
  public void unary(EchoRequest request, StreamObserver<EchoResponse> responses) {
    unaryCalls.incrementAndGet();
    ServerCallStreamObserver<EchoResponse> call = (ServerCallStreamObserver<EchoResponse>) responses;
    onCancel(call);
    Runnable answer = () -> {
      if (call.isCancelled()) {
        return;
      }
      if (request.getFailWith() != 0) {
        responses.onError(Status.fromCodeValue(request.getFailWith())
            .withDescription(request.getPayload().toStringUtf8()).asRuntimeException());
        return;
      }
      responses.onNext(EchoResponse.newBuilder().setPayload(request.getPayload())
          .setMessagesReceived(1).setBytesReceived(request.getPayload().size()).build());
      responses.onCompleted();
    };
    if (request.getDelayMs() > 0) {
      delayedUnaryArrived.countDown();
      timer.schedule(Context.current().wrap(answer), request.getDelayMs(), TimeUnit.MILLISECONDS);
    } else {
      answer.run();
    }
  }

  @Override
  public void serverStream(EchoRequest request, StreamObserver<EchoResponse> responses) {
    onCancel((ServerCallStreamObserver<EchoResponse>) responses);
    for (int i = 0; i < request.getCount(); i++) {
      responses.onNext(EchoResponse.newBuilder().setPayload(request.getPayload()).setMessagesReceived(i).build());
    }
    if (request.getFailWith() != 0) {
      responses.onError(Status.fromCodeValue(request.getFailWith()).withDescription("after " + request.getCount())
          .asRuntimeException());
    } else {
      responses.onCompleted();
    }
  }

  @Override
  public StreamObserver<EchoRequest> clientStream(StreamObserver<EchoResponse> responses) {
    onCancel((ServerCallStreamObserver<EchoResponse>) responses);
    return new StreamObserver<EchoRequest>() {
      long messages;
      long bytes;

      @Override
      public void onNext(EchoRequest value) {
        messages++;
        bytes += value.getPayload().size();
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        responses.onNext(EchoResponse.newBuilder().setMessagesReceived(messages).setBytesReceived(bytes).build());
        responses.onCompleted();
      }
    };
  }

  @Override
  public StreamObserver<EchoRequest> bidi(StreamObserver<EchoResponse> responses) {
    onCancel((ServerCallStreamObserver<EchoResponse>) responses);
    return new StreamObserver<EchoRequest>() {
      long messages;

      @Override
      public void onNext(EchoRequest value) {
        messages++;
        if (value.getFailWith() != 0) {
          responses.onError(Status.fromCodeValue(value.getFailWith()).asRuntimeException());
          return;
        }
        responses.onNext(EchoResponse.newBuilder().setPayload(value.getPayload()).setMessagesReceived(messages)
            .build());
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        responses.onCompleted();
      }
    };
  }

  static EchoRequest payload(int size) {
    byte[] bytes = new byte[size];
    for (int i = 0; i < size; i++) {
      bytes[i] = (byte) (i * 31 + 7);
    }
    return EchoRequest.newBuilder().setPayload(ByteString.copyFrom(bytes)).build();
  }

  void shutdown() {
    timer.shutdownNow();
  }
}
