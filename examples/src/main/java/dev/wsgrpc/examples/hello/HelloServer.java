package dev.wsgrpc.examples.hello;

import dev.wsgrpc.examples.hello.proto.GreeterGrpc;
import dev.wsgrpc.examples.hello.proto.HelloReply;
import dev.wsgrpc.examples.hello.proto.HelloRequest;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.Server;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * A gRPC server that clients reach through WebSocket: {@code ws://localhost:PORT/grpc}.
 *
 * <p>Usage: {@code HelloServer [port]} (default 8080; 0 picks a free port). It prints the URL to dial, then serves
 * until interrupted.
 */
public final class HelloServer {

  /** The Greeter service: ordinary grpc-java code that knows nothing about WebSocket. */
  static final class GreeterImpl extends GreeterGrpc.GreeterImplBase {
    @Override
    public void sayHello(HelloRequest request, StreamObserver<HelloReply> responses) {
      responses.onNext(HelloReply.newBuilder().setMessage("Hello, " + request.getName() + "!").build());
      responses.onCompleted();
    }

    @Override
    public StreamObserver<HelloRequest> sayHelloToEach(StreamObserver<HelloReply> responses) {
      return new StreamObserver<HelloRequest>() {
        @Override
        public void onNext(HelloRequest request) {
          responses.onNext(HelloReply.newBuilder().setMessage("Hello, " + request.getName() + "!").build());
        }

        @Override
        public void onError(Throwable t) {
          // The client cancelled or the tunnel ended: nothing to answer.
        }

        @Override
        public void onCompleted() {
          responses.onCompleted();
        }
      };
    }
  }

  /** Starts the server on {@code port}; the returned server's port is the one to dial. */
  public static Server start(int port) throws IOException {
    // The only wsgrpc line: a Netty server builder whose connections arrive as WebSocket upgrades on /grpc.
    return WebSocketServers.newServerBuilder(port)
        .addService(new GreeterImpl())
        .build()
        .start();
  }

  public static void main(String[] args) throws Exception {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : 8080;
    Server server = start(port);
    int bound = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    System.out.println("HelloServer listening on ws://localhost:" + bound + "/grpc");
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      // Finish in-flight calls (GOAWAY, then WebSocket close 1001) before the JVM exits.
      server.shutdown();
      try {
        server.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }));
    server.awaitTermination();
  }

  private HelloServer() {}
}
