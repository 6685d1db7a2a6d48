package dev.wsgrpc.examples.kinds;

import dev.wsgrpc.server.WebSocketServers;
import io.grpc.Server;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Serves the {@code Numbers} service (all four RPC kinds) at {@code ws://localhost:PORT/grpc}.
 *
 * <p>Usage: {@code KindsServer [port]} (default 8080; 0 picks a free port). It prints the URL to dial, then serves
 * until interrupted, printing a line whenever a client cancels a call or its deadline passes.
 */
public final class KindsServer {

  /** Starts the server on {@code port}; {@code notes} hears the cancellations only the server sees. */
  public static Server start(int port, Consumer<String> notes) throws IOException {
    return WebSocketServers.newServerBuilder(port)
        .addService(new NumbersService(notes))
        .build()
        .start();
  }

  public static void main(String[] args) throws Exception {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : 8080;
    Server server = start(port, note -> System.out.println("server: " + note));
    int bound = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    System.out.println("KindsServer listening on ws://localhost:" + bound + "/grpc");
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      // Stalled calls never finish by themselves; shutdownNow cancels them, so the JVM can exit at once.
      server.shutdownNow();
      try {
        server.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }));
    server.awaitTermination();
  }

  private KindsServer() {}
}
