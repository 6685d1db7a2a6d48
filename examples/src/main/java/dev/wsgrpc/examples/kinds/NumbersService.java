package dev.wsgrpc.examples.kinds;

import dev.wsgrpc.examples.kinds.proto.NumberReply;
import dev.wsgrpc.examples.kinds.proto.NumberRequest;
import dev.wsgrpc.examples.kinds.proto.NumbersGrpc;
import dev.wsgrpc.examples.kinds.proto.Trouble;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.function.Consumer;

/**
 * The four RPC kinds, each of which goes wrong when a request asks for {@link Trouble}. Nothing here blocks a
 * thread: a stalled call simply never answers, and gRPC cleans it up when the client's deadline cancels it.
 */
final class NumbersService extends NumbersGrpc.NumbersImplBase {

  private final Consumer<String> notes;

  /** {@code notes} hears what only the server sees: calls the client cancelled or gave up on. */
  NumbersService(Consumer<String> notes) {
    this.notes = notes;
  }

  @Override
  public void square(NumberRequest request, StreamObserver<NumberReply> responses) {
    String where = "Square(" + request.getValue() + ")";
    noteCancellation(responses, where);
    if (!troubleEnds(request.getTrouble(), where, responses)) {
      responses.onNext(reply(request.getValue() * request.getValue()));
      responses.onCompleted();
    }
  }

  @Override
  public void countTo(NumberRequest request, StreamObserver<NumberReply> responses) {
    String where = "CountTo(" + request.getValue() + ")";
    noteCancellation(responses, where);
    for (long i = 1; i <= request.getValue(); i++) {
      // The trouble strikes instead of the last number: the client has seen the others by then.
      if (i == request.getValue() && troubleEnds(request.getTrouble(), where + " at " + i, responses)) {
        return;
      }
      // A short count: no need to wait for isReady() here (see the chat example for a stream that must).
      responses.onNext(reply(i));
    }
    responses.onCompleted();
  }

  @Override
  public StreamObserver<NumberRequest> sum(StreamObserver<NumberReply> responses) {
    noteCancellation(responses, "Sum");
    return new StreamObserver<>() {
      private long sum;
      private boolean ended;   // gRPC calls these methods one at a time, so plain fields are safe

      @Override
      public void onNext(NumberRequest request) {
        // Messages already on their way still arrive after we ended the call; they are ignored.
        if (!ended) {
          ended = troubleEnds(request.getTrouble(), "Sum at " + request.getValue(), responses);
          sum += ended ? 0 : request.getValue();
        }
      }

      @Override
      public void onError(Throwable t) {
        // The client cancelled, or its deadline passed; the cancel handler has noted it.
      }

      @Override
      public void onCompleted() {
        if (!ended) {
          ended = true;
          responses.onNext(reply(sum));
          responses.onCompleted();
        }
      }
    };
  }

  @Override
  public StreamObserver<NumberRequest> runningTotal(StreamObserver<NumberReply> responses) {
    noteCancellation(responses, "RunningTotal");
    return new StreamObserver<>() {
      private long total;
      private boolean ended;

      @Override
      public void onNext(NumberRequest request) {
        if (!ended) {
          ended = troubleEnds(request.getTrouble(), "RunningTotal at " + request.getValue(), responses);
          if (!ended) {
            total += request.getValue();
            responses.onNext(reply(total));
          }
        }
      }

      @Override
      public void onError(Throwable t) {
      }

      @Override
      public void onCompleted() {
        if (!ended) {
          ended = true;
          responses.onCompleted();
        }
      }
    };
  }

  /**
   * Does what {@code trouble} asks and says whether the call is over for the server (failed, cancelled, stalled).
   * An exception thrown here ends the call with UNKNOWN and is logged by gRPC on the server, never sent.
   */
  private static boolean troubleEnds(Trouble trouble, String where, StreamObserver<NumberReply> responses) {
    switch (trouble) {
      case FAIL:
        // The normal way to fail: a status code and a message meant for the client.
        responses.onError(Status.INVALID_ARGUMENT.withDescription(where + ": asked to fail").asRuntimeException());
        return true;
      case CRASH:
        throw new IllegalStateException(where + ": asked to crash");
      case CANCEL:
        responses.onError(Status.CANCELLED.withDescription(where + ": the server gave up").asRuntimeException());
        return true;
      case STALL:
        // Never answer. The call stays open, holding no thread, until the client's deadline cancels it.
        return true;
      default:
        return false;
    }
  }

  /**
   * Reports a cancellation by the client. A passing deadline looks exactly the same to the server: the call is
   * cancelled, and {@code Context.current().isCancelled()} turns true, which long-running work should check.
   * Setting a handler also stops late {@code onNext} calls from throwing after the cancellation.
   */
  private void noteCancellation(StreamObserver<NumberReply> responses, String where) {
    ((ServerCallStreamObserver<NumberReply>) responses).setOnCancelHandler(() -> notes.accept(where + " cancelled"));
  }

  private static NumberReply reply(long value) {
    return NumberReply.newBuilder().setValue(value).build();
  }
}
