package dev.wsgrpc.it;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.it.UpstreamReplicas.JavaReplica;
import io.grpc.ManagedChannel;
import java.io.File;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The hostile-input catalogue against {@code tunnel-server.jar} as a process, in front of a grpc-java upstream in this
 * JVM, configured like the library's target (a bearer token from a file, a 5 s handshake timeout, 64 KiB frames) plus
 * an Origin allow-list and the options of the mode under test. Its memory is read from its own {@code /metrics}
 * ({@code wsgrpc_jvm_heap_used_bytes}, {@code wsgrpc_netty_direct_memory_used_bytes},
 * {@code wsgrpc_netty_allocator_used_bytes}), after {@code jcmd PID GC.run} has collected its garbage.
 */
abstract class JarHostileInputCatalogue extends HostileInputCatalogue {

  private JavaReplica upstream;
  TunnelServerJar jar;

  /** The options that choose the mode, added to the common ones. */
  abstract List<String> modeOptions();

  /** The port that serves {@code /metrics}. */
  int metricsPort() {
    return jar.port();
  }

  @Override
  String expected(String name, String answer) {
    if (name.equals("same-site upgrade with a session cookie")) {
      // The jar has no cookie authenticator, and its Origin allow-list does not list the Host's own page.
      return "HTTP/1.1 403 Forbidden";
    }
    return answer;
  }

  @Override
  ManagedChannel startServer() throws Exception {
    upstream = closer.add(new JavaReplica("upstream"));
    File tokens = File.createTempFile("tokens", ".txt");
    tokens.deleteOnExit();
    Files.write(tokens.toPath(), List.of(TOKEN + " good"));
    List<String> args = new ArrayList<>(List.of("--port", "0", "--bind", "127.0.0.1", "--upstream",
        upstream.address(), "--auth-tokens", tokens.getPath(), "--allowed-origins", ORIGIN, "--handshake-timeout",
        "5s", "--max-inbound-frame", String.valueOf(MAX_FRAME),
        // The close storm opens 200 tunnels from 127.0.0.1 at once.
        "--max-tunnels-per-client", "1000", "--max-handshakes-per-client", "1000"));
    args.addAll(modeOptions());
    jar = closer.add(TunnelServerJar.start(args.toArray(new String[0])));
    closer.add(() -> { // a graceful exit first
      jar.terminate();
      jar.awaitExit(Duration.ofSeconds(60));
    });
    String url = jar.awaitUrl();
    return WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
        .header("Authorization", "Bearer " + TOKEN).build()).build();
  }

  @Override
  int port() {
    return jar.port();
  }

  @Override
  TunnelServerJar.Memory memory() throws Exception {
    return jar.memory(metricsPort());
  }
}
