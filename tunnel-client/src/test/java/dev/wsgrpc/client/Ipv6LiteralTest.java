package dev.wsgrpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Channels for an IPv6 literal, in the URL or in {@code connectTo}: grpc-java 1.85 refuses {@code dns:///[::1]:443}
 * as a target ("Could not find a NameResolverProvider"), so the brackets are percent-encoded. {@code
 * ::ffff:127.0.0.1} is dialed as 127.0.0.1, so these tests need no IPv6 on the machine.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class Ipv6LiteralTest {

  @Test
  void targetsPercentEncodeTheBrackets() {
    assertEquals("dns:///%5B::1%5D:8080", WebSocketClientOptions.newBuilder("ws://[::1]:8080/grpc").build().target());
    assertEquals("dns:///%5B2001:db8::7%5D:443", WebSocketClientOptions.newBuilder("ws://h/grpc")
        .connectTo("2001:db8::7", 443).build().target());
  }

  @Test
  void anIpv6LiteralInTheUrlIsDialed() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      String url = "ws://[::ffff:127.0.0.1]:" + server.getLocalPort() + "/grpc";
      assertEquals("expected HTTP 101 but was 403 Forbidden from " + url,
          callRefusedWith403(server, WebSocketClientOptions.newBuilder(url).proxy(ProxyOptions.DIRECT).build()));
    }
  }

  @Test
  void anIpv6LiteralInConnectToIsDialed() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      assertEquals("expected HTTP 101 but was 403 Forbidden from ws://edge.example.com/grpc",
          callRefusedWith403(server, WebSocketClientOptions.newBuilder("ws://edge.example.com/grpc")
              .connectTo("[::ffff:127.0.0.1]", server.getLocalPort()).proxy(ProxyOptions.DIRECT).build()));
    }
  }

  /** Calls through a channel for {@code options}; {@code server} answers the upgrade 403. The Status description. */
  private static String callRefusedWith403(ServerSocket server, WebSocketClientOptions options) throws Exception {
    CompletableFuture<Void> answered = CompletableFuture.runAsync(() -> {
      try (Socket s = server.accept()) {
        InputStream in = s.getInputStream();
        StringBuilder head = new StringBuilder();
        int b;
        while (!head.toString().endsWith("\r\n\r\n") && (b = in.read()) >= 0) {
          head.append((char) b);
        }
        OutputStream out = s.getOutputStream();
        out.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .getBytes(StandardCharsets.US_ASCII));
        out.flush();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    ManagedChannel channel = WebSocketChannels.newChannelBuilder(options).build();
    try {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(
          channel, AnyUnary.METHOD, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), new byte[0]));
      assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
      answered.get(30, TimeUnit.SECONDS);
      return e.getStatus().getDescription();
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
