package dev.wsgrpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A server that sends HTTP/2 PINGs and reads nothing: gRPC's client acknowledges each, and the acknowledgements wait
 * for a server that never takes them. The tunnel ends once the client's limit of them waits, and the call fails
 * saying why, instead of the client's memory growing with every PING.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class UnreadingServerTest {

  /** An unmasked binary WebSocket frame (a server's) carrying {@code payload}. */
  private static byte[] binaryFrame(byte[] payload) {
    if (payload.length < 126) {
      return ByteBuffer.allocate(2 + payload.length).put((byte) 0x82).put((byte) payload.length).put(payload).array();
    }
    return ByteBuffer.allocate(4 + payload.length).put((byte) 0x82).put((byte) 126)
        .putShort((short) payload.length).put(payload).array();
  }

  @Test
  void aServerThatPingsAndReadsNothingHasTheTunnelEndedSayingWhy() throws Exception {
    ByteArrayOutputStream pings = new ByteArrayOutputStream();
    for (int i = 0; i < 1000; i++) {
      pings.writeBytes(new byte[] {0, 0, 8, 6, 0, 0, 0, 0, 0}); // PING, 8 bytes, stream 0
      pings.writeBytes(ByteBuffer.allocate(8).putLong(i).array());
    }
    byte[] flood = binaryFrame(pings.toByteArray());
    try (DialerTest.Scripted server = new DialerTest.Scripted((self, in, out) -> {
      out.write(DialerTest.accept(self.readHead(in)));
      out.write(binaryFrame(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0})); // the server's SETTINGS, empty
      for (long sent = 0; sent < 1L << 30; sent += flood.length) {
        out.write(flood); // until the client closes the connection
      }
    })) {
      server.socket.setReceiveBufferSize(4096); // a server that reads nothing, with little room for what it gets
      String url = "ws://127.0.0.1:" + server.port() + "/grpc";
      ManagedChannel channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
          .proxy(ProxyOptions.DIRECT).build()).build();
      try {
        Status status = assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(
            channel, AnyUnary.METHOD, CallOptions.DEFAULT.withDeadlineAfter(100, TimeUnit.SECONDS), new byte[0]))
            .getStatus();
        assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
        assertEquals("expected the server to read what this client sends, but 10000 acknowledgements of its HTTP/2 "
            + "PING and SETTINGS frames wait unsent (from " + url + "; sent close 1001 (Going Away))",
            status.getDescription());
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }
}
