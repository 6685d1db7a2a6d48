package dev.wsgrpc.cli;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.interop.InteropCases;
import io.grpc.ManagedChannel;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code interop URL}: the standard gRPC interop cases ({@code grpc.testing.TestService}) through the tunnel, one
 * {@code PASS name} or {@code FAIL name: reason} line per case, then {@code N passed, M failed}. Exits 0 when all
 * passed, 1 otherwise.
 */
@Command(name = "interop", mixinStandardHelpOptions = true,
    description = "Run the standard gRPC interop cases against a grpc.testing.TestService behind a tunnel.")
final class InteropCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "URL", description = "The tunnel server's ws:// or wss:// URL.")
  String url;

  @Option(names = "--case", paramLabel = "NAME", description = "A case to run (repeatable). Default: all of "
      + "empty_unary, large_unary, client_streaming, server_streaming, ping_pong, empty_stream, cancel_after_begin, "
      + "cancel_after_first_response, timeout_on_sleeping_server, custom_metadata, status_code_and_message, "
      + "special_status_message, unimplemented_method, unimplemented_service.")
  List<String> cases = new ArrayList<>();

  @Mixin
  ClientOptions client;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    WebSocketClientOptions options;
    try {
      for (String c : cases) {
        if (!InteropCases.ALL_CASES.contains(c)) {
          throw new IllegalArgumentException("--case: " + c + " (expected one of " + InteropCases.ALL_CASES + ")");
        }
      }
      options = client.toOptions(url);
    } catch (IllegalArgumentException e) {
      spec.commandLine().getErr().println("interop: " + e.getMessage());
      spec.commandLine().getErr().flush();
      return WsgrpcCli.USAGE;
    }
    ManagedChannel channel = WebSocketChannels.newChannelBuilder(options).build();
    try {
      PrintStream out = new PrintStream(new WriterOutputStream(spec.commandLine().getOut()), true,
          StandardCharsets.UTF_8.name());
      int failed = InteropCases.run(channel, cases.isEmpty() ? InteropCases.ALL_CASES : cases, out);
      out.flush();
      return failed == 0 ? WsgrpcCli.OK : WsgrpcCli.FAILED;
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** Feeds a PrintStream's UTF-8 bytes into picocli's writer. */
  private static final class WriterOutputStream extends java.io.OutputStream {
    private final java.io.PrintWriter writer;
    private final java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();

    WriterOutputStream(java.io.PrintWriter writer) {
      this.writer = writer;
    }

    @Override
    public void write(int b) {
      line.write(b);
      if (b == '\n') {
        flush();
      }
    }

    @Override
    public void flush() {
      writer.print(new String(line.toByteArray(), StandardCharsets.UTF_8));
      writer.flush();
      line.reset();
    }
  }
}
