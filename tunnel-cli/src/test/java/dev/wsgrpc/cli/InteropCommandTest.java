package dev.wsgrpc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.interop.InteropCases;
import dev.wsgrpc.okhttp.OkHttpWebSocketOptions;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.integration.Messages.Payload;
import io.grpc.testing.integration.Messages.SimpleRequest;
import io.grpc.testing.integration.Messages.SimpleResponse;
import io.grpc.testing.integration.Messages.StreamingOutputCallRequest;
import io.grpc.testing.integration.Messages.StreamingOutputCallResponse;
import io.grpc.testing.integration.TestServiceGrpc;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * {@code interop --client okhttp}: the shared options reach the OkHttp client as they reach the Netty client. What a
 * hostile server says or sends reaches the output as printable ASCII, and fills no memory.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class InteropCommandTest {

  private static OkHttpWebSocketOptions okHttp(String... args) {
    InteropCommand interop = new InteropCommand();
    new CommandLine(interop).parseArgs(args);
    return interop.toOkHttp(interop.client.toOptions(interop.url));
  }

  /** Runs {@code interop ARGS} in this JVM as the jar does; returns what it printed on stderr and its exit code. */
  private static String run(String... args) {
    StringWriter err = new StringWriter();
    CommandLine cli = WsgrpcCli.commandLine();
    cli.setErr(new PrintWriter(err));
    int exit = cli.execute(args);
    return exit + " " + err;
  }

  @Test
  void aBearerSubprotocolBecomesTheOkHttpClientsBearerTokenAndTheOthersStayProtocols() {
    OkHttpWebSocketOptions o = okHttp("ws://h/grpc", "--client", "okhttp", "--subprotocols",
        "wsgrpc.v1,bearer.S3CRET-t0ken,binary");
    assertEquals(Arrays.asList("wsgrpc.v1", "binary"), o.subprotocols());
    assertTrue(o.hasBearerTokenSubprotocol());
    assertFalse(o.toString().contains("S3CRET"), o.toString());
    assertTrue(o.toString().contains("bearerTokenSubprotocol=bearer.<redacted>"), o.toString());
    // The gateway reads the prefix in any case; so does the command.
    o = okHttp("ws://h/grpc", "--subprotocols", "BEARER.S3CRET-t0ken");
    assertEquals(Arrays.asList(), o.subprotocols());
    assertTrue(o.hasBearerTokenSubprotocol());
    o = okHttp("ws://h/grpc");
    assertEquals(Arrays.asList("wsgrpc.v1"), o.subprotocols());
    assertFalse(o.hasBearerTokenSubprotocol());
  }

  @Test
  void theTimeoutsAndPingSettingsReachTheOkHttpClient() {
    dev.wsgrpc.okhttp.TunnelSettings s = okHttp("ws://h/grpc", "--client", "okhttp", "--handshake-timeout", "3s",
        "--ping-interval", "2s", "--ping-timeout", "5s").settings();
    assertEquals(3000, s.handshakeTimeoutMillis());
    assertEquals(2000, s.pingIntervalMillis());
    assertEquals(5000, s.pingTimeoutMillis());
    assertEquals(dev.wsgrpc.okhttp.TunnelSettings.DEFAULT, okHttp("ws://h/grpc", "--client", "okhttp").settings());
  }

  @Test
  void anUnknownCaseIsRefusedListingTheCases() {
    // It read "--case: foo (expected one of [empty_unary, ...])", not as the other refusals.
    assertEquals("2 interop: --case: foo (expected: one of empty_unary, large_unary, client_streaming, "
        + "server_streaming, ping_pong, empty_stream, cancel_after_begin, cancel_after_first_response, "
        + "timeout_on_sleeping_server, custom_metadata, status_code_and_message, special_status_message, "
        + "unimplemented_method, unimplemented_service)\n",
        run("interop", "--case", "foo", "ws://127.0.0.1:1/grpc").replace(System.lineSeparator(), "\n"));
  }

  @Test
  void twoBearerSubprotocolsAreRefusedWithoutShowingEither() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> okHttp("ws://h/grpc", "--subprotocols", "bearer.S3CRET-one,wsgrpc.v1,Bearer.S3CRET-two"));
    assertEquals("--subprotocols: bearer.<redacted>,bearer.<redacted> (expected: at most one bearer.<token> with "
        + "--client okhttp)", e.getMessage());
    assertEquals("2 interop: --subprotocols: bearer.<redacted>,bearer.<redacted> (expected: at most one "
        + "bearer.<token> with --client okhttp)\n", run("interop", "--client", "okhttp", "ws://127.0.0.1:1/grpc",
        "--subprotocols", "bearer.S3CRET-one,wsgrpc.v1,Bearer.S3CRET-two").replace(System.lineSeparator(), "\n"));
  }

  @Test
  void whatOnlyTheNettyClientCanSendIsRefusedUnderItsFlagAndNotShown() {
    // OkHttp sends header values, the Origin and proxy credentials in printable ASCII; the Netty client Latin-1.
    assertEquals("2 interop: --header X-Name: <redacted> (expected: printable ASCII without line breaks; found U+00E9 "
        + "at index 3)\n", run("interop", "--client", "okhttp", "ws://127.0.0.1:1/grpc", "--header",
        "X-Name: caf\u00e9-S3CRET").replace(System.lineSeparator(), "\n"));
    assertEquals("2 interop: --origin: https://caf\u00e9.example (expected: a header value)\n",
        run("interop", "--client", "okhttp", "ws://127.0.0.1:1/grpc", "--origin", "https://caf\u00e9.example")
            .replace(System.lineSeparator(), "\n"));
    assertEquals("2 interop: --proxy-credentials: proxy password: <redacted> (expected: printable ASCII without line "
        + "breaks; found U+00E4 at index 1)\n", run("interop", "--client", "okhttp", "ws://127.0.0.1:1/grpc",
        "--proxy", "127.0.0.1:9", "--proxy-credentials", "alice:p\u00e4ss-S3CRET")
        .replace(System.lineSeparator(), "\n"));
    assertEquals("2 interop: --proxy: proxy password: <redacted> (expected: printable ASCII without line breaks; "
        + "found U+00E4 at index 1)\n", run("interop", "--client", "okhttp", "ws://127.0.0.1:1/grpc",
        "--proxy", "http://alice:p%C3%A4ss-S3CRET@127.0.0.1:9").replace(System.lineSeparator(), "\n"));
  }

  /** A hostile test server: status descriptions with terminal controls, a stream that does not end. */
  private static final class Hostile extends TestServiceGrpc.TestServiceImplBase {
    @Override
    public void unaryCall(SimpleRequest request, StreamObserver<SimpleResponse> response) {
      // C1's CSI and a right-to-left override pass a filter of C0 controls alone.
      response.onError(Status.INTERNAL.withDescription("\u009b2J\u202eevil\u001b[0m\r\nPASS all").asException());
    }

    @Override
    public void streamingOutputCall(StreamingOutputCallRequest request,
        StreamObserver<StreamingOutputCallResponse> response) {
      StreamingOutputCallResponse one = StreamingOutputCallResponse.newBuilder()
          .setPayload(Payload.newBuilder().setBody(com.google.protobuf.ByteString.copyFrom(new byte[1024]))).build();
      for (int i = 0; i < 10_000; i++) {
        response.onNext(one);
      }
      response.onCompleted();
    }
  }

  /** Runs {@code cases} against a {@link Hostile} server; returns what was printed. */
  private static String againstAHostileServer(String... cases) throws Exception {
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new Hostile())
        .build().start();
    ManagedChannel channel = NettyChannelBuilder.forAddress((InetSocketAddress) server.getListenSockets().get(0))
        .usePlaintext().build();
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
      InteropCases.run(channel, List.of(cases), out);
      return bytes.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n");
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aServersWordsReachTheFailLineAsPrintableAsciiOnly() throws Exception {
    String out = againstAHostileServer("large_unary");
    assertEquals("FAIL large_unary: expected the call to succeed but it failed with INTERNAL (\"?2J?evil\\u001b[0m"
        + "\\r\\nPASS all\")\n0 passed, 1 failed\n", out);
  }

  /** Each case expects a few responses: a server that streams on is cut off there, not kept in memory. */
  @Test
  void aServerThatStreamsMoreThanTheCaseExpectsFailsItWithoutHoldingItAll() throws Exception {
    String out = againstAHostileServer("server_streaming");
    assertEquals("FAIL server_streaming: expected at most " + InteropCases.MAX_RESPONSES + " responses but the "
        + "server sent more\n0 passed, 1 failed\n", out);
  }
}
