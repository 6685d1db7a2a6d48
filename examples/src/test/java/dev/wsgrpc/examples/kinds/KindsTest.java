package dev.wsgrpc.examples.kinds;

import static dev.wsgrpc.examples.kinds.proto.Trouble.CANCEL;
import static dev.wsgrpc.examples.kinds.proto.Trouble.CRASH;
import static dev.wsgrpc.examples.kinds.proto.Trouble.FAIL;
import static dev.wsgrpc.examples.kinds.proto.Trouble.NONE;
import static dev.wsgrpc.examples.kinds.proto.Trouble.STALL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.examples.kinds.proto.NumberRequest;
import dev.wsgrpc.examples.kinds.proto.Trouble;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What a client sees from each RPC kind, through a ws:// tunnel on loopback; and the README's table, verbatim. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KindsTest {

  private static final Duration NORMAL = KindsDemo.NORMAL;
  private static final Duration SHORT = KindsDemo.SHORT;
  /**
   * The description varies: usually "CallOptions deadline exceeded after 0.99...s. ..." from the client's timer, or
   * "ClientCall was cancelled at or after deadline. ..." when the server's timer fired first on a busy machine.
   */
  private static final String DEADLINE = "DEADLINE_EXCEEDED: ";

  private static final BlockingQueue<String> serverNotes = new LinkedBlockingQueue<>();
  private static Server server;
  private static ManagedChannel channel;
  private static KindsClient client;

  @BeforeAll
  static void start() throws Exception {
    server = KindsServer.start(0, serverNotes::add);
    int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    channel = WebSocketChannels.newChannel("ws://localhost:" + port + "/grpc");
    client = new KindsClient(channel);
  }

  @AfterAll
  static void stop() throws Exception {
    channel.shutdownNow();
    server.shutdownNow();
    assertTrue(channel.awaitTermination(10, TimeUnit.SECONDS), "channel did not terminate");
    assertTrue(server.awaitTermination(10, TimeUnit.SECONDS), "server did not terminate");
  }

  @Test
  void unary() throws Exception {
    assertEquals(List.of("49"), client.square(request(7, NONE), NORMAL));
    assertEquals(List.of("INVALID_ARGUMENT: Square(7): asked to fail"), client.square(request(7, FAIL), NORMAL));
    // The exception's message stays on the server: the client only learns that something broke.
    assertEquals(List.of("UNKNOWN: Application error processing RPC"), client.square(request(7, CRASH), NORMAL));
    assertEquals(List.of("CANCELLED: Square(7): the server gave up"), client.square(request(7, CANCEL), NORMAL));
    assertEnds(client.square(request(7, STALL), SHORT), List.of(), DEADLINE);
    assertEquals("Square(7) cancelled", serverNotes.poll(10, TimeUnit.SECONDS));
  }

  @Test
  void serverStreaming() throws Exception {
    assertEquals(List.of("1", "2", "3", "OK"), client.countTo(request(3, NONE), NORMAL));
    // Numbers sent before a failure still arrive, then the status.
    assertEquals(List.of("1", "2", "INVALID_ARGUMENT: CountTo(3) at 3: asked to fail"),
        client.countTo(request(3, FAIL), NORMAL));
    assertEquals(List.of("1", "2", "CANCELLED: CountTo(3) at 3: the server gave up"),
        client.countTo(request(3, CANCEL), NORMAL));
    assertEnds(client.countTo(request(3, STALL), SHORT), List.of("1", "2"), DEADLINE);
    assertEquals("CountTo(3) cancelled", serverNotes.poll(10, TimeUnit.SECONDS));
  }

  @Test
  void clientStreaming() throws Exception {
    assertEquals(List.of("6"), client.sum(oneTwoThree(NONE), NORMAL));
    assertEquals(List.of("INVALID_ARGUMENT: Sum at 3: asked to fail"), client.sum(oneTwoThree(FAIL), NORMAL));
    assertEquals(List.of("CANCELLED: Sum at 3: the server gave up"), client.sum(oneTwoThree(CANCEL), NORMAL));
    assertEnds(client.sum(oneTwoThree(STALL), SHORT), List.of(), DEADLINE);
    assertEquals("Sum cancelled", serverNotes.poll(10, TimeUnit.SECONDS));
  }

  @Test
  void bidiStreaming() throws Exception {
    assertEquals(List.of("1", "3", "6", "OK"), client.runningTotal(oneTwoThree(NONE), NORMAL));
    assertEquals(List.of("1", "3", "INVALID_ARGUMENT: RunningTotal at 3: asked to fail"),
        client.runningTotal(oneTwoThree(FAIL), NORMAL));
    assertEquals(List.of("1", "3", "CANCELLED: RunningTotal at 3: the server gave up"),
        client.runningTotal(oneTwoThree(CANCEL), NORMAL));
    assertEnds(client.runningTotal(oneTwoThree(STALL), SHORT), List.of("1", "3"), DEADLINE);
    assertEquals("RunningTotal cancelled", serverNotes.poll(10, TimeUnit.SECONDS));
    // The client's own cancel: its reason is the description on this side; the server sees a cancelled call.
    assertEquals(List.of("1", "3", "6", "CANCELLED: the user pressed stop"),
        client.runningTotalThenCancel(oneTwoThree(NONE), "the user pressed stop", NORMAL));
    assertEquals("RunningTotal cancelled", serverNotes.poll(10, TimeUnit.SECONDS));
  }

  /** The README's table is the demo's output, line by line ("..." stands for details that vary per run). */
  @Test
  void demoPrintsTheReadmeTable() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
      KindsDemo.run(out);
    }
    List<String> printed = bytes.toString(StandardCharsets.UTF_8).lines().toList();
    List<String> readme = readmeTable();
    assertEquals(readme.size(), printed.size(), "printed:\n" + String.join("\n", printed));
    for (int i = 0; i < readme.size(); i++) {
      String expected = readme.get(i);
      Pattern pattern = Pattern.compile(String.join(".*", quoteAll(expected.split("\\.\\.\\.", -1))));
      assertTrue(pattern.matcher(printed.get(i)).matches(),
          "line " + (i + 1) + ": expected '" + expected + "' but was '" + printed.get(i) + "'");
    }
  }

  /** The fenced block in the README that starts with the demo's first line. */
  private static List<String> readmeTable() throws Exception {
    List<String> lines = Files.readAllLines(Path.of("src/main/java/dev/wsgrpc/examples/kinds/README.md"));
    int start = lines.indexOf("# unary: Square");
    assertTrue(start > 0, "README has no table starting with '# unary: Square'");
    int end = lines.subList(start, lines.size()).indexOf("```");
    return lines.subList(start, start + end);
  }

  private static List<String> quoteAll(String[] parts) {
    List<String> quoted = new ArrayList<>();
    for (String part : parts) {
      quoted.add(Pattern.quote(part));
    }
    return quoted;
  }

  private static void assertEnds(List<String> seen, List<String> values, String statusPrefix) {
    assertEquals(values, seen.subList(0, seen.size() - 1), seen.toString());
    assertTrue(seen.get(seen.size() - 1).startsWith(statusPrefix), seen.toString());
  }

  private static NumberRequest request(long value, Trouble trouble) {
    return NumberRequest.newBuilder().setValue(value).setTrouble(trouble).build();
  }

  private static List<NumberRequest> oneTwoThree(Trouble trouble) {
    return List.of(request(1, NONE), request(2, NONE), request(3, trouble));
  }
}
