package dev.wsgrpc.examples.auth;

import dev.wsgrpc.client.WebSocketClientOptions;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * Both checks, passing and failing in each way: starts {@link AuthServer} on a free port, calls it with good, missing
 * and wrong credentials, prints what the client sees each time, and exits.
 */
public final class AuthDemo {

  public static void main(String[] args) throws Exception {
    run(System.out);
  }

  /** Runs every case and prints one line each to {@code out}. */
  public static void run(PrintStream out) throws Exception {
    Server server = AuthServer.start(0);
    int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    String url = "ws://localhost:" + port + "/grpc";
    try {
      show(out, "alice's token, billing's key", url, "alice-token-3f9a", "billing-key-5e2d");
      show(out, "no token", url, null, "billing-key-5e2d");
      show(out, "a wrong token", url, "alice-token-0000", "billing-key-5e2d");
      show(out, "bob's token (bob is suspended)", url, "bob-token-77c1", "billing-key-5e2d");
      show(out, "alice's token, no key", url, "alice-token-3f9a", null);
      show(out, "alice's token, a wrong key", url, "alice-token-3f9a", "billing-key-0000");
      // The same server under a name that is not this machine's: over ws:// the key stays home.
      ManagedChannel remote = AuthClient.newChannel(
          WebSocketClientOptions.newBuilder("ws://api.example.test:" + port + "/grpc").connectTo("localhost", port),
          () -> "alice-token-3f9a");
      try {
        print(out, "key over ws:// to another host", AuthClient.whoAmI(remote, "billing-key-5e2d"));
      } finally {
        remote.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } finally {
      server.shutdown().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static void show(PrintStream out, String label, String url, String token, String apiKey)
      throws InterruptedException {
    // A channel per case, because the token belongs to the channel (it goes out with each tunnel), while the API
    // key belongs to the call.
    ManagedChannel channel = AuthClient.newChannel(WebSocketClientOptions.newBuilder(url), () -> token);
    try {
      print(out, label, AuthClient.whoAmI(channel, apiKey));
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static void print(PrintStream out, String label, String seen) {
    out.println(String.format("%-32s -> %s", label, seen));
  }

  private AuthDemo() {}
}
