package dev.wsgrpc.examples.interop;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.interop.InteropCases;
import io.grpc.ManagedChannel;
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the standard gRPC interop test cases ({@link InteropCases}) against a {@code grpc.testing.TestService} reached
 * through a ws:// or wss:// URL: {@link InteropServer}, a peer in another language behind a wsgrpc-compatible
 * endpoint, or either of them behind a CDN or proxy. The cases take any channel; this program builds a WebSocket one.
 *
 * <p>Usage: {@code InteropClient <ws-or-wss-url> [--trust-cert CA_PEM] [--case NAME]...}. Without {@code --case} it
 * runs {@link InteropCases#ALL_CASES}. It prints {@code PASS name} or {@code FAIL name: reason} per case and a
 * summary line, and exits 0 when all passed, 1 when any failed, 2 on bad arguments.
 */
public final class InteropClient {

  private static final String USAGE =
      "usage: InteropClient <ws-or-wss-url> [--trust-cert CA_PEM] [--case NAME]...";

  public static void main(String[] args) throws Exception {
    String url = null;
    File trustCert = null;
    List<String> cases = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("--trust-cert") && i + 1 < args.length) {
        trustCert = new File(args[++i]);
      } else if (arg.equals("--case") && i + 1 < args.length) {
        String name = args[++i];
        if (!InteropCases.ALL_CASES.contains(name)) {
          exitWithUsage("unknown case " + name + "; cases: " + String.join(", ", InteropCases.ALL_CASES));
        }
        cases.add(name);
      } else if (url == null && !arg.startsWith("-")) {
        url = arg;
      } else {
        exitWithUsage("unexpected argument: " + arg);
      }
    }
    if (url == null) {
      exitWithUsage("missing the server's URL");
    }
    if (trustCert != null && !trustCert.canRead()) {
      exitWithUsage("cannot read " + trustCert);
    }

    WebSocketClientOptions options = null;
    try {
      WebSocketClientOptions.Builder builder = WebSocketClientOptions.newBuilder(url);
      if (trustCert != null) {
        // Trust the CA (or self-signed certificate) that issued the server's certificate, e.g. a test CA.
        builder.tls(ClientTls.trusting(trustCert));
      }
      options = builder.build();
    } catch (IllegalArgumentException e) {
      exitWithUsage(e.getMessage());
    }

    ManagedChannel channel = WebSocketChannels.newChannelBuilder(options).build();
    int failed;
    try {
      failed = InteropCases.run(channel, cases.isEmpty() ? InteropCases.ALL_CASES : cases, System.out);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    System.exit(failed == 0 ? 0 : 1);
  }

  private static void exitWithUsage(String problem) {
    System.err.println("InteropClient: " + problem);
    System.err.println(USAGE);
    System.exit(2);
  }

  private InteropClient() {}
}
