package dev.wsgrpc.examples.hello;

import io.grpc.Server;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The README's quick start in one process: starts {@link HelloServer} on a free port, runs {@link HelloClient}
 * against it through the tunnel, prints the exchange and exits.
 */
public final class HelloDemo {

  public static void main(String[] args) throws Exception {
    run(System.out);
  }

  /** Runs the demo, printing the exchange to {@code out}. */
  static void run(PrintStream out) throws Exception {
    Server server = HelloServer.start(0);
    try {
      int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
      String url = "ws://localhost:" + port + "/grpc";
      out.println("server: listening on " + url);
      for (String name : new String[] {"world", "WebSocket"}) {
        out.println("client: -> SayHello(name=\"" + name + "\")");
        out.println("client: <- \"" + HelloClient.greet(url, name) + "\"");
      }
      out.println("demo: gRPC over WebSocket works end to end");
    } finally {
      server.shutdown().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private HelloDemo() {}
}
