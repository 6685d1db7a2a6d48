package dev.wsgrpc.examples.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.interop.InteropCases;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Every interop case, our client against our server, through a ws:// tunnel on loopback. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class InteropOverWebSocketTest {

  @Test
  void allCasesPassOverWs() throws Exception {
    Server server = InteropServer.start(0, dev.wsgrpc.server.WebSocketServerOptions.DEFAULT);
    ManagedChannel channel = null;
    try {
      int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
      channel = WebSocketChannels.newChannel("ws://localhost:" + port + "/grpc");
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      int failed;
      try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
        failed = InteropCases.run(channel, InteropCases.ALL_CASES, out);
      }
      String output = bytes.toString(StandardCharsets.UTF_8);
      assertEquals(0, failed, output);
      assertTrue(output.contains("14 passed, 0 failed"), output);
    } finally {
      if (channel != null) {
        channel.shutdownNow();
        assertTrue(channel.awaitTermination(10, TimeUnit.SECONDS), "channel did not terminate");
      }
      server.shutdownNow();
      assertTrue(server.awaitTermination(10, TimeUnit.SECONDS), "server did not terminate");
    }
  }
}
