package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

/**
 * The Echo service as the benchmark needs it: unary echoes, a server stream that sends as fast as flow control lets
 * it (download), and a client stream that counts what arrives (upload). Responses reuse the request's payload, so
 * every setup serialises exactly the same bytes.
 */
final class BenchService extends EchoGrpc.EchoImplBase {

  @Override
  public void unary(EchoRequest request, StreamObserver<EchoResponse> responses) {
    responses.onNext(EchoResponse.newBuilder().setPayload(request.getPayload()).build());
    responses.onCompleted();
  }

  /** Sends {@code count} responses carrying the request's payload, whenever the transport is ready for more. */
  @Override
  public void serverStream(EchoRequest request, StreamObserver<EchoResponse> responses) {
    ServerCallStreamObserver<EchoResponse> call = (ServerCallStreamObserver<EchoResponse>) responses;
    EchoResponse message = EchoResponse.newBuilder().setPayload(request.getPayload()).build();
    int count = request.getCount();
    Runnable drain = new Runnable() {
      int sent;
      boolean done;

      @Override
      public void run() {
        while (!done && call.isReady() && !call.isCancelled()) {
          if (sent == count) {
            done = true;
            call.onCompleted();
            return;
          }
          call.onNext(message);
          sent++;
        }
      }
    };
    call.setOnReadyHandler(drain);
    drain.run();
  }

  /** Counts the messages and payload bytes received; answers once the client half-closes. */
  @Override
  public StreamObserver<EchoRequest> clientStream(StreamObserver<EchoResponse> responses) {
    return new StreamObserver<EchoRequest>() {
      long messages;
      long bytes;

      @Override
      public void onNext(EchoRequest request) {
        messages++;
        bytes += request.getPayload().size();
      }

      @Override
      public void onError(Throwable t) {
        // The client went away; nothing to answer.
      }

      @Override
      public void onCompleted() {
        responses.onNext(EchoResponse.newBuilder().setMessagesReceived(messages).setBytesReceived(bytes).build());
        responses.onCompleted();
      }
    };
  }
}
