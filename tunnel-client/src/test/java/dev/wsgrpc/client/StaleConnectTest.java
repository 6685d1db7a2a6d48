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
 * handshake timeout, as in the OkHttp client and the command-line tool, not after Netty's default of 30 s. A server
 * that answers the upgrade and then sends nothing fails the calls at the ping timeout, not after gRPC's keepalive
 * (40 s).
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class StaleConnectTest {

  /** The status of a call through a channel to {@code url} with {@code settings}. */
  private static Status callFails(String url, TunnelSettings settings) throws InterruptedException {
    ManagedChannel channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
        .proxy(ProxyOptions.DIRECT).settings(settings).build()).build();
    try {
      return assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(
          channel, AnyUnary.METHOD, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), new byte[0]))
          .getStatus();
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aConnectThatGetsNoAnswerFailsAtTheHandshakeTimeout() throws Exception {
    try (UnansweredPort unanswered = new UnansweredPort()) {
      String url = "ws://127.0.0.1:" + unanswered.port() + "/grpc";
      Status status = callFails(url, TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(1)).build());
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
      assertEquals("cannot connect to " + url + ": connection timed out after 1000 ms: /127.0.0.1:"
          + unanswered.port(), status.getDescription());
    }
  }

  @Test
  void aServerSilentAfterThe101FailsTheCallAtThePingTimeout() throws Exception {
    try (DialerTest.Scripted server = new DialerTest.Scripted(
        (self, in, out) -> out.write(DialerTest.accept(self.readHead(in))))) {
      String url = "ws://127.0.0.1:" + server.port() + "/grpc";
      Status status = callFails(url, TunnelSettings.newBuilder().pingTimeout(Duration.ofMillis(300)).build());
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
      assertEquals("expected the server's HTTP/2 SETTINGS within 300ms of the WebSocket upgrade (101) but they did not "
          + "arrive (from " + url + "; sent close 1001 (Going Away))", status.getDescription());
    }
  }
}
