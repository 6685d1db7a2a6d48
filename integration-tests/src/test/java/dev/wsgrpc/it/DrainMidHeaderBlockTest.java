package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wsgrpc.it.UpstreamReplicas.JavaReplica;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.Http2Wire;
import dev.wsgrpc.testing.RawTunnelClient;
import io.grpc.Server;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A drain that starts while the client is in the middle of a header block (issue 12 item 4): the client has sent
 * HEADERS without END_HEADERS when the server begins to drain, and sends the CONTINUATION after the server's GOAWAY.
 * The server's GOAWAY is no error for the client (its header block is its own direction), so nothing may end in a
 * protocol error: every GOAWAY is NO_ERROR, the call is either served or left unprocessed above the GOAWAY's last
 * stream id (safe to retry), and the tunnel ends with close 1001. The library, and the jar in proxy and relay mode.
 * (Relay mode's own GOAWAY inside the upstream's header blocks: RelayModeTest; a cancel during a drain:
 * GatewayModeTest and UpstreamRelayHandlerTest.)
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class DrainMidHeaderBlockTest {

  private final Closer closer = new Closer();

  @AfterEach
  void stop() throws Exception {
    closer.close();
  }

  /** Opens a unary call whose header block stops before its end; returns the tunnel. */
  private static RawTunnelClient openHalfAHeaderBlock(int port) throws IOException {
    RawTunnelClient client = RawTunnelClient.connect(new InetSocketAddress("127.0.0.1", port), "/grpc", "wsgrpc.v1",
        Duration.ofSeconds(90));
    client.sendPrefaceAndSettings();
    client.send(Http2Wire.headers(1, 0, Arrays.copyOfRange(BLOCK, 0, SPLIT)));
    client.readUntil(Http2Wire.SETTINGS);
    return client;
  }

  private static final byte[] BLOCK = TunnelH2.requestBlock("Unary");
  private static final int SPLIT = 20;

  /**
   * After the drain began: waits for the first GOAWAY, sends the rest of the header block and the request, answers
   * PINGs, and returns what the server said until the tunnel ended.
   */
  private static String finishTheCallDuringTheDrain(RawTunnelClient client) throws IOException {
    List<String> seen = new ArrayList<>();
    TunnelH2.Reader reader = new TunnelH2.Reader();
    Http2Wire.Frame goAway = readAnsweringPings(client, reader, Http2Wire.GOAWAY);
    seen.add(describe(goAway));
    client.send(Http2Wire.concat(
        Http2Wire.frame(Http2Wire.CONTINUATION, Http2Wire.FLAG_END_HEADERS, 1,
            Arrays.copyOfRange(BLOCK, SPLIT, BLOCK.length)),
        TunnelH2.message(1, new byte[0], true)));
    try {
      while (true) {
        Http2Wire.Frame f = readAnsweringPings(client, reader, -1);
        if (f.type == Http2Wire.GOAWAY) {
          seen.add(describe(f));
        }
      }
    } catch (EOFException end) {
      // the tunnel ended
    }
    String call = reader.grpcStatus.containsKey(1) ? "call grpc-status " + reader.grpcStatus.get(1)
        : reader.resetStreams.contains(1) ? "call reset" : "call not answered";
    return String.join(", ", seen) + "; " + call + "; close " + client.closeCode();
  }

  /** Reads frames, answering as a client does, until one of {@code type} (any frame when -1). */
  private static Http2Wire.Frame readAnsweringPings(RawTunnelClient client, TunnelH2.Reader reader, int type)
      throws IOException {
    while (true) {
      Http2Wire.Frame f = TunnelH2.readAsAClient(client, reader);
      if (type < 0 || f.type == type) {
        return f;
      }
    }
  }

  private static String describe(Http2Wire.Frame goAway) {
    int last = ((goAway.payload[0] & 0x7f) << 24) | ((goAway.payload[1] & 0xff) << 16)
        | ((goAway.payload[2] & 0xff) << 8) | (goAway.payload[3] & 0xff);
    return "GOAWAY " + TunnelH2.errorName(goAway.goAwayErrorCode()) + " last " + last;
  }

  @Test
  void library() throws Exception {
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder().build())
        .addService(new EchoService())
        .build().start();
    closer.add(server);
    try (RawTunnelClient client = openHalfAHeaderBlock(
        ((InetSocketAddress) server.getListenSockets().get(0)).getPort())) {
      server.shutdown();
      assertEquals(GRACEFUL + "; call grpc-status 0; close 1001", finishTheCallDuringTheDrain(client));
    }
  }

  private String jar(String... mode) throws Exception {
    JavaReplica upstream = new JavaReplica("upstream");
    closer.add(upstream);
    List<String> args = new ArrayList<>(List.of("--port", "0", "--bind", "127.0.0.1", "--upstream",
        upstream.address(), "--drain-timeout", "60s"));
    args.addAll(List.of(mode));
    TunnelServerJar jar = TunnelServerJar.start(args.toArray(new String[0]));
    closer.add(jar);
    jar.awaitUrl();
    try (RawTunnelClient client = openHalfAHeaderBlock(jar.port())) {
      jar.awaitLog("tunnel open");
      jar.terminate();
      String answer = finishTheCallDuringTheDrain(client);
      assertEquals(0, jar.awaitExit(Duration.ofSeconds(60)), jar.stderr());
      return answer;
    }
  }

  /** The two GOAWAYs of grpc-java's graceful shutdown, the second naming the call whose header block was open. */
  private static final String GRACEFUL = "GOAWAY NO_ERROR last 2147483647, GOAWAY NO_ERROR last 1";

  @Test
  void proxyMode() throws Exception {
    assertEquals(GRACEFUL + "; call grpc-status 0; close 1001", jar());
  }

  @Test
  void relayMode() throws Exception {
    // The relay drains as grpc-java does, on the upstream's behalf: the call whose header block was open is taken.
    assertEquals(GRACEFUL + "; call grpc-status 0; close 1001", jar("--mode", "relay"));
  }
}
