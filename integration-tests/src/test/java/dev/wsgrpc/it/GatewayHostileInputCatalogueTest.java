package dev.wsgrpc.it;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.it.UpstreamReplicas.JavaReplica;
import io.grpc.ManagedChannel;
import java.io.File;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;

/**
 * The hostile-input catalogue against {@code tunnel-server.jar} as a process in gateway mode (proxy, the default),
 * in front of a grpc-java upstream in this JVM. Its memory is read from its own {@code /metrics}
 * ({@code wsgrpc_jvm_heap_used_bytes}, {@code wsgrpc_netty_direct_memory_used_bytes},
 * {@code wsgrpc_netty_allocator_used_bytes}), after {@code jcmd PID GC.run} has collected its garbage.
 */
class GatewayHostileInputCatalogueTest extends HostileInputCatalogue {

  private JavaReplica upstream;
  private TunnelServerJar jar;

  @Override
  ManagedChannel startServer() throws Exception {
    upstream = new JavaReplica("upstream");
    File tokens = File.createTempFile("tokens", ".txt");
    tokens.deleteOnExit();
    Files.write(tokens.toPath(), List.of(TOKEN + " good"));
    jar = TunnelServerJar.start("--port", "0", "--bind", "127.0.0.1", "--upstream", upstream.address(),
        "--auth-tokens", tokens.getPath(), "--allowed-origins", ORIGIN, "--handshake-timeout", "5s",
        "--max-inbound-frame", String.valueOf(MAX_FRAME),
        // The close storm opens 200 tunnels from 127.0.0.1 at once.
        "--max-tunnels-per-client", "1000");
    String url = jar.awaitUrl();
    return WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
        .header("Authorization", "Bearer " + TOKEN).build()).build();
  }

  @Override
  int port() {
    return jar.port();
  }

  @Override
  String expected(String name, String answer) {
    switch (name) {
      case "HTTP/2 preface where an upgrade belongs":
        // The jar serves native gRPC on the same port, behind the same gate as tunnels (issue 12 item 1): the call
        // without a token ends UNAUTHENTICATED (16) and never reaches the upstream.
        return "native gRPC: probe call grpc-status 16";
      case "GET /metrics on the tunnel port":
        // Without --admin-port the jar serves /metrics on its port, as documented (docs/GATEWAY.md, What the default
        // exposes); the relay-mode target has an admin port.
        return "HTTP/1.1 200 OK";
      default:
        return answer;
    }
  }

  @Override
  TunnelServerJar.Memory memory() throws Exception {
    return jar.memory(jar.port());
  }

  @Override
  void stopServer() throws Exception {
    try {
      jar.terminate();
      jar.awaitExit(Duration.ofSeconds(60));
    } finally {
      jar.close();
      upstream.close();
    }
  }
}
