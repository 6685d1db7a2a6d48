package dev.wsgrpc.examples.hello;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.examples.hello.proto.GreeterGrpc;
import dev.wsgrpc.examples.hello.proto.HelloReply;
import dev.wsgrpc.examples.hello.proto.HelloRequest;
import io.grpc.ManagedChannel;
import java.util.concurrent.TimeUnit;

/**
 * Calls the Greeter through a WebSocket URL and prints what was exchanged.
 *
 * <p>Usage: {@code HelloClient [url] [name]} (default {@code ws://localhost:8080/grpc}, {@code world}).
 */
public final class HelloClient {

  /** Sends one greeting to {@code url} and returns the reply's text. */
  public static String greet(String url, String name) throws InterruptedException {
    // One line turns a ws:// or wss:// URL into an ordinary ManagedChannel. A channel per greeting keeps the example
    // short; an application keeps one channel (one tunnel, reconnected as needed) for all its calls.
    ManagedChannel channel = WebSocketChannels.newChannel(url);
    try {
      HelloReply reply = GreeterGrpc.newBlockingStub(channel)
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .sayHello(HelloRequest.newBuilder().setName(name).build());
      return reply.getMessage();
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  public static void main(String[] args) throws Exception {
    String url = args.length > 0 ? args[0] : "ws://localhost:8080/grpc";
    String name = args.length > 1 ? args[1] : "world";
    System.out.println("-> SayHello(name=\"" + name + "\") via " + url);
    System.out.println("<- \"" + greet(url, name) + "\"");
  }

  private HelloClient() {}
}
