package dev.wsgrpc.testing;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/** Stream observers that turn gRPC callbacks into futures and queues a test waits on; never a sleep. */
public final class Observers {

  /** What {@link #events} adds when the call completes normally. */
  public static final String COMPLETED = "completed";

  /** Completes {@code result} with the first message, or with the call's error. */
  public static <T> StreamObserver<T> firstValue(CompletableFuture<T> result) {
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
  public static <ReqT, T> ClientResponseObserver<ReqT, T> firstValue(CompletableFuture<T> result,
      Consumer<ClientCallStreamObserver<ReqT>> beforeStart) {
    return withBeforeStart(firstValue(result), beforeStart);
  }

  /** Adds every message to {@code into} (synchronized on it); completes {@code done} when the call ends. */
  public static <T> StreamObserver<T> collecting(List<T> into, CompletableFuture<Void> done) {
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

  /** Completes {@code status} with the call's final status; messages are dropped. */
  public static <T> StreamObserver<T> statusOf(CompletableFuture<Status> status) {
    return new StreamObserver<T>() {
      @Override
      public void onNext(T value) {}

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

  /**
   * Adds to {@code events}, in order, every message, then the call's error or {@link #COMPLETED}; {@code events}
   * must be thread-safe (a {@code LinkedBlockingQueue} to poll with a timeout).
   */
  public static <T> StreamObserver<T> events(Queue<Object> events) {
    return new StreamObserver<T>() {
      @Override
      public void onNext(T value) {
        events.add(value);
      }

      @Override
      public void onError(Throwable t) {
        events.add(t);
      }

      @Override
      public void onCompleted() {
        events.add(COMPLETED);
      }
    };
  }

  /** Like {@link #events(Queue)}, with {@code beforeStart} given the call's request side before it starts. */
  public static <ReqT, T> ClientResponseObserver<ReqT, T> events(Queue<Object> events,
      Consumer<ClientCallStreamObserver<ReqT>> beforeStart) {
    return withBeforeStart(events(events), beforeStart);
  }

  private static <ReqT, T> ClientResponseObserver<ReqT, T> withBeforeStart(StreamObserver<T> observer,
      Consumer<ClientCallStreamObserver<ReqT>> beforeStart) {
    return new ClientResponseObserver<ReqT, T>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<ReqT> requests) {
        beforeStart.accept(requests);
      }

      @Override
      public void onNext(T value) {
        observer.onNext(value);
      }

      @Override
      public void onError(Throwable t) {
        observer.onError(t);
      }

      @Override
      public void onCompleted() {
        observer.onCompleted();
      }
    };
  }

  private Observers() {}
}
