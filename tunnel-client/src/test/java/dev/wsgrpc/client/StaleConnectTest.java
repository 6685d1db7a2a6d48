package dev.wsgrpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.TunnelSettings;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A connect whose SYNs go unanswered (a black-holed address, a server whose accept queue is full) fails at the
 * handshake timeout, as in the OkHttp client and the command-line tool, not after Netty's default of 30 s.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class StaleConnectTest {

  @Test
  void aConnectThatGetsNoAnswerFailsAtTheHandshakeTimeout() throws Exception {
    List<Socket> queued = new ArrayList<>();
    try (ServerSocket full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      // Never accepted: once its queue is full, the kernel drops further SYNs and a connect waits unanswered.
      InetSocketAddress address = new InetSocketAddress(full.getInetAddress(), full.getLocalPort());
      boolean unanswered = false;
      for (int i = 0; i < 16 && !unanswered; i++) {
        Socket s = new Socket();
        queued.add(s);
        try {
          s.connect(address, 500);
        } catch (SocketTimeoutException e) {
          unanswered = true;
        }
      }
      assertTrue(unanswered, "the accept queue filled up");
      String url = "ws://127.0.0.1:" + full.getLocalPort() + "/grpc";
      ManagedChannel channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
          .proxy(ProxyOptions.DIRECT)
          .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(1)).build()).build()).build();
      try {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(
            channel, AnyUnary.METHOD, CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS), new byte[0]));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
        assertEquals("cannot connect to " + url + ": connection timed out after 1000 ms: /127.0.0.1:"
            + full.getLocalPort(), e.getStatus().getDescription());
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    } finally {
      for (Socket s : queued) {
        close(s);
      }
    }
  }

  private static void close(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing a test's socket
    }
  }
}
