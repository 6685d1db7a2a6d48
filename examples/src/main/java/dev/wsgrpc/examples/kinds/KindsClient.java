package dev.wsgrpc.examples.kinds;

import dev.wsgrpc.examples.kinds.proto.NumberReply;
import dev.wsgrpc.examples.kinds.proto.NumberRequest;
import dev.wsgrpc.examples.kinds.proto.NumbersGrpc;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Calls each RPC kind of {@code Numbers} and returns what the client saw, in order: the values received, then how
 * the call ended ({@code OK}, or the status code and its description). Unary and server streaming use the blocking
 * stub, the two kinds with a request stream the async stub.
 */
public final class KindsClient {

  private final NumbersGrpc.NumbersBlockingStub blocking;
  private final NumbersGrpc.NumbersStub async;

  public KindsClient(Channel channel) {
    this.blocking = NumbersGrpc.newBlockingStub(channel);
    this.async = NumbersGrpc.newStub(channel);
  }

  /** Unary: the square, or the status the call failed with. */
  public List<String> square(NumberRequest request, Duration deadline) {
    try {
      return List.of(String.valueOf(blocking.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
          .square(request).getValue()));
    } catch (StatusRuntimeException e) {
      return List.of(describe(e.getStatus()));
    }
  }

  /** Server streaming: each number as it arrives, then how the stream ended. */
  public List<String> countTo(NumberRequest request, Duration deadline) {
    List<String> seen = new ArrayList<>();
    // The deadline covers the whole stream, not each message.
    Iterator<NumberReply> replies =
        blocking.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS).countTo(request);
    try {
      while (replies.hasNext()) {
        seen.add(String.valueOf(replies.next().getValue()));
      }
      seen.add("OK");
    } catch (StatusRuntimeException e) {
      // Messages the server sent before failing have all been seen by now: a failure comes after them, in order.
      seen.add(describe(e.getStatus()));
    }
    return seen;
  }

  /** Client streaming: sends every request, half-closes, and returns the sum or the status. */
  public List<String> sum(List<NumberRequest> requests, Duration deadline) throws InterruptedException {
    Recorder recorder = new Recorder(false);
    StreamObserver<NumberRequest> call =
        async.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS).sum(recorder);
    // A handful of small messages: no need to wait for isReady(). Sending after the server has already failed the
    // call is harmless; gRPC drops those messages.
    requests.forEach(call::onNext);
    call.onCompleted();
    return recorder.await(deadline);
  }

  /** Bidi streaming: sends every request, half-closes, and returns each running total, then the status. */
  public List<String> runningTotal(List<NumberRequest> requests, Duration deadline) throws InterruptedException {
    Recorder recorder = new Recorder(true);
    StreamObserver<NumberRequest> call =
        async.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS).runningTotal(recorder);
    requests.forEach(call::onNext);
    call.onCompleted();
    return recorder.await(deadline);
  }

  /**
   * Bidi streaming, cancelled by the client: sends every request and, once a total has come back for each, cancels
   * the call with {@code reason} instead of half-closing.
   */
  public List<String> runningTotalThenCancel(List<NumberRequest> requests, String reason, Duration deadline)
      throws InterruptedException {
    Recorder recorder = new Recorder(true) {
      @Override
      void received(int count) {
        if (count == requests.size()) {
          // Runs on the channel's executor: cancelling from a callback is fine; the call ends with CANCELLED
          // and our reason on this side, and the server sees the call cancelled.
          callObserver.cancel(reason, null);
        }
      }
    };
    StreamObserver<NumberRequest> call =
        async.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS).runningTotal(recorder);
    requests.forEach(call::onNext);
    return recorder.await(deadline);
  }

  /** How a call ended, as a client would print it: {@code CODE: description}, or {@code OK}. */
  static String describe(Status status) {
    return status.getDescription() == null
        ? status.getCode().toString()
        : status.getCode() + ": " + status.getDescription();
  }

  /** Collects an async call's replies and its end; {@code streamed} when the server streams its replies. */
  private static class Recorder implements ClientResponseObserver<NumberRequest, NumberReply> {
    private final boolean streamed;
    private final List<String> seen = Collections.synchronizedList(new ArrayList<>());
    private final CompletableFuture<List<String>> done = new CompletableFuture<>();
    ClientCallStreamObserver<NumberRequest> callObserver;

    Recorder(boolean streamed) {
      this.streamed = streamed;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<NumberRequest> requests) {
      callObserver = requests;
    }

    @Override
    public void onNext(NumberReply reply) {
      seen.add(String.valueOf(reply.getValue()));
      received(seen.size());
    }

    void received(int count) {
    }

    @Override
    public void onError(Throwable t) {
      seen.add(describe(Status.fromThrowable(t)));
      done.complete(List.copyOf(seen));
    }

    @Override
    public void onCompleted() {
      if (streamed) {   // a single response (Sum) is its own proof of success
        seen.add("OK");
      }
      done.complete(List.copyOf(seen));
    }

    /** Waits for the end; the call's own deadline ends it, so this wait has a margin only for a busy machine. */
    List<String> await(Duration deadline) throws InterruptedException {
      try {
        return done.get(deadline.toMillis() + 10_000, TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException e) {
        throw new IllegalStateException("the call did not end within its deadline", e);
      }
    }
  }
}
