package dev.wsgrpc.examples.hello;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Server;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The quick start, end to end over real loopback sockets: HelloServer on a free port, HelloClient over ws. */
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
}
