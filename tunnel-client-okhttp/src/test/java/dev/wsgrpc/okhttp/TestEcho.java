package dev.wsgrpc.okhttp;

import com.google.protobuf.ByteString;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** The Echo service for this module's tests: answers as echo.proto says; delays wait on cancellation, not sleep. */
final class TestEcho extends EchoGrpc.EchoImplBase {

  /**
   * Counts delayed calls whose handler runs and listens for cancellation. A call cancelled before that never reaches
   * the handler (grpc invokes a unary handler only once the request is complete), so tests wait for this first.
   */
  final CountDownLatch delayStarted = new CountDownLatch(1);

  /** Counts calls that reached the server and were cancelled by the client. */
  final CountDownLatch cancelled = new CountDownLatch(1);

  static EchoRequest payload(int size) {
    byte[] bytes = new byte[size];
    for (int i = 0; i < size; i++) {
      bytes[i] = (byte) (i * 31 + 7);
    }
    return EchoRequest.newBuilder().setPayload(ByteString.copyFrom(bytes)).build();
  }

  @Override
  public void unary(EchoRequest request, StreamObserver<EchoResponse> out) {
    if (request.getDelayMs() > 0) {
      CountDownLatch never = new CountDownLatch(1);
      Context.current().addListener(c -> {
        cancelled.countDown();
        never.countDown();
      }, Runnable::run);
      delayStarted.countDown();
      try {
        never.await(request.getDelayMs(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (Context.current().isCancelled()) {
        return;
      }
    }
    if (request.getFailWith() != 0) {
      out.onError(Status.fromCodeValue(request.getFailWith()).withDescription(request.getPayload().toStringUtf8())
          .asRuntimeException());
      return;
    }
    out.onNext(EchoResponse.newBuilder().setPayload(request.getPayload()).build());
    out.onCompleted();
  }

  @Override
  public void serverStream(EchoRequest request, StreamObserver<EchoResponse> out) {
    for (int i = 0; i < request.getCount(); i++) {
      out.onNext(EchoResponse.newBuilder().setPayload(request.getPayload()).build());
    }
    out.onCompleted();
  }

  @Override
  public StreamObserver<EchoRequest> clientStream(StreamObserver<EchoResponse> out) {
    return new StreamObserver<EchoRequest>() {
      long messages;
      long bytes;

      @Override
      public void onNext(EchoRequest value) {
        messages++;
        bytes += value.getPayload().size();
      }

      @Override
      public void onError(Throwable t) {
      }

      @Override
      public void onCompleted() {
        out.onNext(EchoResponse.newBuilder().setMessagesReceived(messages).setBytesReceived(bytes).build());
        out.onCompleted();
      }
    };
  }

  @Override
  public StreamObserver<EchoRequest> bidi(StreamObserver<EchoResponse> out) {
    return new StreamObserver<EchoRequest>() {
      @Override
      public void onNext(EchoRequest value) {
        out.onNext(EchoResponse.newBuilder().setPayload(value.getPayload()).build());
      }

      @Override
      public void onError(Throwable t) {
      }

      @Override
      public void onCompleted() {
        out.onCompleted();
      }
    };
  }
}
