package dev.wsgrpc.examples.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.examples.auth.proto.IdentityGrpc;
import dev.wsgrpc.examples.auth.proto.WhoAmIRequest;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The two checks end to end through ws:// tunnels on loopback, and the README's tables, verbatim. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AuthTest {

  private static final Path README = Path.of("src/main/java/dev/wsgrpc/examples/auth/README.md");

  /** The README's table is the demo's output, line by line ("..." stands for the port). */
  @Test
  void demoPrintsTheReadmeTable() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
      AuthDemo.run(out);
    }
    assertMatches(readmeBlock("alice's token, billing's key "), bytes.toString(StandardCharsets.UTF_8).lines().toList());
  }

  /** What a wrong token looks like on the wire: the README's raw answer, header for header. */
  @Test
  void wrongTokenIsA401WithABearerChallenge() throws Exception {
    Server server = AuthServer.start(0);
    try {
      int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
      String answer;
      try (Socket socket = new Socket("127.0.0.1", port)) {
        socket.setSoTimeout(30_000);
        socket.getOutputStream().write(("GET /grpc HTTP/1.1\r\nHost: localhost:" + port + "\r\n"
            + "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer wrong-token\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
        // The server closes the connection after a refusal, so the answer ends where the stream does.
        answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      }
      assertMatches(readmeBlock("HTTP/1.1 401 Unauthorized"), answer.lines().toList());
    } finally {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /** The token supplier is asked at every connect: fix the token, and the same channel gets in. */
  @Test
  void refreshedTokenIsUsedByTheNextTunnel() throws Exception {
    Server server = AuthServer.start(0);
    AtomicReference<String> token = new AtomicReference<>("expired-token");
    int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    ManagedChannel channel =
        AuthClient.newChannel(WebSocketClientOptions.newBuilder("ws://localhost:" + port + "/grpc"), token::get);
    try {
      String refused = AuthClient.whoAmI(channel, "billing-key-5e2d");
      assertTrue(refused.startsWith("UNAVAILABLE: expected HTTP 101 but was 401 Unauthorized"), refused);

      token.set("alice-token-3f9a");
      // The channel retries with backoff by itself; this only saves the test the wait.
      channel.resetConnectBackoff();
      String reply = IdentityGrpc.newBlockingStub(channel)
          .withWaitForReady()
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .withCallCredentials(new ApiKeyCredentials("billing-key-5e2d"))
          .whoAmI(WhoAmIRequest.getDefaultInstance())
          .getTunnelPrincipal();
      assertEquals("alice", reply);
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /** The fenced block in the README that starts with {@code firstLine}. */
  private static List<String> readmeBlock(String firstLine) throws Exception {
    List<String> lines = Files.readAllLines(README);
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).startsWith(firstLine) && lines.get(i - 1).startsWith("```")) {
        int end = lines.subList(i, lines.size()).indexOf("```");
        return lines.subList(i, i + end);
      }
    }
    throw new AssertionError("README has no block starting with '" + firstLine + "'");
  }

  private static void assertMatches(List<String> expected, List<String> actual) {
    assertEquals(expected.size(), actual.size(), "printed:\n" + String.join("\n", actual));
    for (int i = 0; i < expected.size(); i++) {
      List<String> parts = new ArrayList<>();
      for (String part : expected.get(i).split("\\.\\.\\.", -1)) {
        parts.add(Pattern.quote(part));
      }
      assertTrue(Pattern.compile(String.join(".*", parts)).matcher(actual.get(i)).matches(),
          "line " + (i + 1) + ": expected '" + expected.get(i) + "' but was '" + actual.get(i) + "'");
    }
  }
}
