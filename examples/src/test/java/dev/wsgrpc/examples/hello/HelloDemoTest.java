package dev.wsgrpc.examples.hello;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Server;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The quick start, end to end over real loopback sockets: HelloServer on a free port, HelloClient over ws; and the
 * demo's output as the root README shows it.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HelloDemoTest {

  @Test
  void clientGreetsThroughWebSocket() throws Exception {
    Server server = HelloServer.start(0);
    try {
      int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
      assertEquals("Hello, world!", HelloClient.greet("ws://localhost:" + port + "/grpc", "world"));
    } finally {
      server.shutdownNow();
      assertTrue(server.awaitTermination(10, TimeUnit.SECONDS), "server did not terminate");
    }
  }

  /**
   * The root README's quick start shows what the demo prints: its lines, with {@code PORT} for the port and a line
   * {@code ...} for any lines between.
   */
  @Test
  void theDemoPrintsWhatTheRootReadmeShows() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
      HelloDemo.run(out);
    }
    String printed = bytes.toString(StandardCharsets.UTF_8);
    StringBuilder expected = new StringBuilder();
    for (String line : readmeBlock()) {
      expected.append(line.equals("...") ? "(?:.*\\n)*"
          : Pattern.quote(line).replace("PORT", "\\E[0-9]+\\Q") + "\\n");
    }
    assertTrue(Pattern.compile(expected.toString()).matcher(printed).matches(),
        "expected what README.md shows:\n" + String.join("\n", readmeBlock()) + "\nbut the demo printed:\n" + printed);
  }

  /** The fenced block of the root README that starts with the demo's first line. */
  private static List<String> readmeBlock() throws Exception {
    List<String> lines = Files.readAllLines(Path.of("..", "README.md"));
    int start = -1;
    for (int i = 0; i < lines.size() && start < 0; i++) {
      if (lines.get(i).startsWith("server: listening on ")) {
        start = i;
      }
    }
    assertTrue(start > 0, "README.md has no block starting with 'server: listening on '");
    int end = lines.subList(start, lines.size()).indexOf("```");
    return lines.subList(start, start + end);
  }
}
