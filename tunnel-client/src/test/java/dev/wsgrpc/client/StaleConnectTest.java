package dev.wsgrpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.testing.UnansweredPort;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A connect whose SYNs go unanswered (a black-holed address, a server whose accept queue is full) fails at the
 * handshake timeout, as in the OkHttp client and the command-line tool, not after Netty's default of 30 s; so does a
 * server that answers the upgrade and then never sends HTTP/2's SETTINGS, not after gRPC's keepalive (40 s).
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class StaleConnectTest {

  @Test
  void aConnectThatGetsNoAnswerFailsAtTheHandshakeTimeout() throws Exception {
    try (UnansweredPort unanswered = new UnansweredPort()) {
      String url = "ws://127.0.0.1:" + unanswered.port() + "/grpc";
      ManagedChannel channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
          .proxy(ProxyOptions.DIRECT)
          .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(1)).build()).build()).build();
      try {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(
            channel, AnyUnary.METHOD, CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS), new byte[0]));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
        assertEquals("cannot connect to " + url + ": connection timed out after 1000 ms: /127.0.0.1:"
            + unanswered.port(), e.getStatus().getDescription());
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void aServerSilentAfterThe101FailsAtTheHandshakeTimeout() throws Exception {
    try (DialerTest.Scripted server = new DialerTest.Scripted(
        (self, in, out) -> out.write(DialerTest.accept(self.readHead(in))))) {
      String url = "ws://127.0.0.1:" + server.port() + "/grpc";
      ManagedChannel channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
          .proxy(ProxyOptions.DIRECT)
          .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(1)).build()).build()).build();
      try {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(
            channel, AnyUnary.METHOD, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), new byte[0]));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
        assertEquals("WebSocket handshake with " + url + " timed out after 1000 ms while waiting for the server's "
            + "HTTP/2 SETTINGS in the tunnel after the 101", e.getStatus().getDescription());
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }
}
