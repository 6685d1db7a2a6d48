package dev.wsgrpc.okhttp;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** Stream observers that complete futures: tests wait on them, never sleep. */
final class Observers {

  static <T> StreamObserver<T> into(CompletableFuture<T> result) {
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
      public void onCompleted() {
      }
    };
  }

  static <T> StreamObserver<T> collecting(List<T> into, CompletableFuture<Void> done) {
    return new StreamObserver<T>() {
      @Override
      public synchronized void onNext(T value) {
        into.add(value);
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

  /** Completes with the call's final status. */
  static <T> StreamObserver<T> statusOf(CompletableFuture<Status> status) {
    return new StreamObserver<T>() {
      @Override
      public void onNext(T value) {
      }

      @Override
      public void onError(Throwable t) {
        status.complete(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        status.complete(Status.OK);
      }
    };
  }

  private Observers() {}
}
