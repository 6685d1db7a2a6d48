package dev.wsgrpc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.InternalWebSocketClient;
import dev.wsgrpc.client.InternalWebSocketClient.Step;
import dev.wsgrpc.client.ProxyOptions;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.integration.EmptyProtos.Empty;
import io.grpc.testing.integration.Messages.StreamingInputCallRequest;
import io.grpc.testing.integration.Messages.StreamingInputCallResponse;
import io.grpc.testing.integration.TestServiceGrpc;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * {@code probe}: values it cannot measure with are refused before anything is dialled, saying what was expected; a
 * server that says it is not serving, or miscounts an upload, fails the probe; a dial that never ends names the step
 * it waits for.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProbeCommandTest {

  /** Runs {@code probe ARGS} in this JVM as the jar does; returns its exit code and what it printed on stderr. */
  private static String run(String... args) {
    StringWriter err = new StringWriter();
    CommandLine cli = WsgrpcCli.commandLine();
    cli.setErr(new PrintWriter(err));
    int exit = cli.execute(args);
    return exit + " " + err.toString().replace(System.lineSeparator(), "\n");
  }

  @Test
  void callsAndMessageSizeOutOfRangeAreRefusedWithTheValueAndWhatWasExpected() {
    assertEquals("2 probe: --calls: 0 (expected: > 0)\n", run("probe", "ws://127.0.0.1:1/grpc", "--calls", "0"));
    assertEquals("2 probe: --message-size: -1 (expected: 1 to 67108864)\n",
        run("probe", "ws://127.0.0.1:1/grpc", "--message-size", "-1"));
    // Built in memory before the upload: this size ended the command with an OutOfMemoryError and exit code 1.
    assertEquals("2 probe: --message-size: 2147483647 (expected: 1 to 67108864)\n",
        run("probe", "ws://127.0.0.1:1/grpc", "--message-size", "2147483647"));
  }

  /**
   * A value picocli cannot read, or an option it does not know, gets one line and where the command's options are
   * described (with picocli's suggestions for a mistyped option), not the whole usage, where the line scrolled away.
   */
  @Test
  void anUnreadableValueOrUnknownOptionGetsItsLineAndWhereTheOptionsAre() {
    String hint = "Run 'java -jar wsgrpc-cli.jar probe --help' for the options.\n";
    assertEquals("2 Invalid value for option '--calls': 'many' is not an int\n" + hint,
        run("probe", "ws://127.0.0.1:1/grpc", "--calls", "many"));
    assertEquals("2 Unknown option: '--call' (its value is not shown)\nPossible solutions: --calls\n" + hint,
        run("probe", "ws://127.0.0.1:1/grpc", "--call=3"));
    assertEquals("2 expected a command: forward, probe or interop\n"
        + "Run 'java -jar wsgrpc-cli.jar --help' for the options.\n", run());
  }

  /**
   * Arguments picocli cannot place are often a secret split off its option: an unquoted header value, credentials
   * with a space for a colon, a mistyped option name. They are never printed; unknown options are named up to '='.
   */
  @Test
  void argumentsThatFitNoOptionAreNotEchoedSinceTheyMayBeSecrets() {
    String hint = "Run 'java -jar wsgrpc-cli.jar probe --help' for the options.\n";
    String unquoted = run("probe", "ws://127.0.0.1:1/grpc", "--header", "Authorization:", "Bearer", "eyJhbGciOi");
    assertEquals("2 expected no more arguments but there were 2 (not shown: it may be a secret; quote an option's "
        + "value that contains spaces)\n" + hint, unquoted);
    String credentials = run("probe", "ws://127.0.0.1:1/grpc", "--proxy-credentials", "alice", "s3cret");
    assertFalse(credentials.contains("s3cret"), credentials);
    assertTrue(credentials.startsWith("2 expected no more arguments but there was 1 (not shown"), credentials);
    String dashed = run("probe", "ws://127.0.0.1:1/grpc", "--header", "Authorization:", "Bearer", "-AbC_secret");
    assertFalse(dashed.contains("AbC_secret"), "a token may begin with '-': " + dashed);
    String mistyped = run("probe", "ws://127.0.0.1:1/grpc", "--Header=Authorization: Bearer x");
    assertFalse(mistyped.contains("Bearer"), mistyped);
    assertTrue(mistyped.startsWith("2 Unknown option: '--Header' (its value is not shown)\n"), mistyped);
    // A mistyped command is named, and the options after it are not blamed.
    String command = run("forwrd", "--to", "ws://127.0.0.1:1/grpc");
    assertTrue(command.startsWith("2 Unknown command: 'forwrd' (expected forward, probe or interop)\n"), command);
  }

  /** Runs {@code probe ARGS} in this JVM; returns its exit code, then what it printed on stdout and on stderr. */
  private static String[] runAll(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = WsgrpcCli.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int exit = cli.execute(args);
    return new String[] {String.valueOf(exit), out.toString().replace(System.lineSeparator(), "\n"),
        err.toString().replace(System.lineSeparator(), "\n")};
  }

  /** A tunnel server on a free loopback port with {@code services}. */
  private static Server server(io.grpc.BindableService... services) throws Exception {
    io.grpc.ServerBuilder<?> builder = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.DEFAULT);
    for (io.grpc.BindableService service : services) {
      builder.addService(service);
    }
    return builder.build().start();
  }

  private static String url(Server server) {
    return "ws://127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort() + "/grpc";
  }

  /** A script that checks a server with probe must not hear "ok" from one that says it is not serving. */
  @Test
  void aServerThatSaysItIsNotServingFailsTheProbe() throws Exception {
    HealthStatusManager health = new HealthStatusManager();
    health.setStatus("", ServingStatus.NOT_SERVING);
    Server server = server(health.getHealthService());
    try {
      String[] r = runAll("probe", url(server), "--calls", "1", "--duration", "0");
      assertEquals("1", r[0], String.join("\n", r)); // was 0, and "ok"
      assertEquals("probe failed at rpc: grpc.health.v1.Health/Check: NOT_SERVING (the server answers through the "
          + "tunnel but says it is not serving)\n", r[2]);
      assertTrue(!r[1].contains("ok\n"), r[1]);
    } finally {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /**
   * The upload's figure is what was sent: the server's count is an int32, which wrapped past 2 GiB (a fast path and
   * a long --duration printed a negative rate). A server whose count disagrees with it fails the probe.
   */
  @Test
  void anUploadTheServerMiscountsFailsTheProbeSayingBothCounts() throws Exception {
    Server server = server(new TestServiceGrpc.TestServiceImplBase() {
      @Override
      public void emptyCall(Empty request, StreamObserver<Empty> response) {
        response.onNext(Empty.getDefaultInstance());
        response.onCompleted();
      }

      @Override
      public StreamObserver<StreamingInputCallRequest> streamingInputCall(
          StreamObserver<StreamingInputCallResponse> response) {
        return new StreamObserver<>() {
          private long total;

          @Override
          public void onNext(StreamingInputCallRequest value) {
            total += value.getPayload().getBody().size();
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {
            response.onNext(StreamingInputCallResponse.newBuilder().setAggregatedPayloadSize((int) total - 1).build());
            response.onCompleted();
          }
        };
      }
    });
    try {
      String[] r = runAll("probe", url(server), "--calls", "1", "--duration", "200ms", "--message-size", "1000");
      assertEquals("1", r[0], String.join("\n", r));
      assertTrue(r[2].matches("probe failed at upload: grpc\\.testing\\.TestService/StreamingInputCall: the server "
          + "counted (\\d+) bytes \\(modulo 2\\^32\\) but (\\d+) were sent\\n"), r[2]);
    } finally {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /** When the dial outlasts the probe's backstop (a name lookup, which has no limit of its own), the step is named. */
  @Test
  void theStepAwaitedIsTheOneAfterTheLastDone() throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      WebSocketClientOptions ws = WebSocketClientOptions.newBuilder("ws://example.test/grpc")
          .proxy(ProxyOptions.DIRECT).build();
      WebSocketClientOptions wss = WebSocketClientOptions.newBuilder("wss://example.test/grpc")
          .proxy(ProxyOptions.DIRECT).build();
      WebSocketClientOptions proxied = WebSocketClientOptions.newBuilder("wss://example.test/grpc")
          .proxy(ProxyOptions.of("127.0.0.1", 3128)).build();
      InternalWebSocketClient.Dialer plain = InternalWebSocketClient.newDialer(ws, group, Runnable::run);
      InternalWebSocketClient.Dialer secure = InternalWebSocketClient.newDialer(wss, group, Runnable::run);
      InternalWebSocketClient.Dialer viaProxy = InternalWebSocketClient.newDialer(proxied, group, Runnable::run);
      assertEquals(Step.DNS, ProbeCommand.pending(null, plain, ws));
      assertEquals(Step.TCP, ProbeCommand.pending(Step.DNS, plain, ws));
      assertEquals(Step.UPGRADE, ProbeCommand.pending(Step.TCP, plain, ws));
      assertEquals(Step.TLS, ProbeCommand.pending(Step.TCP, secure, wss));
      assertEquals(Step.PROXY, ProbeCommand.pending(Step.TCP, viaProxy, proxied));
      assertEquals(Step.TLS, ProbeCommand.pending(Step.PROXY, viaProxy, proxied));
      assertEquals(Step.UPGRADE, ProbeCommand.pending(Step.TLS, secure, wss));
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
    }
  }
}
