package dev.wsgrpc.it;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/** Stream observers that turn gRPC callbacks into futures a test can wait on. */
final class Observers {

  /** Completes {@code result} with the first message, or with the call's error. */
  static <T> StreamObserver<T> firstValue(CompletableFuture<T> result) {
    return new StreamObserver<T>() {
      @Override
      public void onNext(T value) {
        result.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    };
  }

  /**
   * Like {@link #firstValue(CompletableFuture)}, with {@code beforeStart} given the call's request side before it
   * starts (to set an on-ready handler or turn automatic requests off).
   */
  static <ReqT, T> ClientResponseObserver<ReqT, T> firstValue(CompletableFuture<T> result,
      Consumer<ClientCallStreamObserver<ReqT>> beforeStart) {
    StreamObserver<T> first = firstValue(result);
    return new ClientResponseObserver<ReqT, T>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<ReqT> requests) {
        beforeStart.accept(requests);
      }

      @Override
      public void onNext(T value) {
        first.onNext(value);
      }

      @Override
      public void onError(Throwable t) {
        first.onError(t);
      }

      @Override
      public void onCompleted() {
        first.onCompleted();
      }
    };
  }

  /** Adds every message to {@code into} (synchronized); completes {@code done} when the call ends. */
  static <T> StreamObserver<T> collecting(List<T> into, CompletableFuture<Void> done) {
    return new StreamObserver<T>() {
      @Override
      public void onNext(T value) {
        synchronized (into) {
          into.add(value);
        }
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        done.complete(null);
      }
    };
  }

  private Observers() {}
}
