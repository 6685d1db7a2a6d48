package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.ProtocolException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.WebSocket;
import okio.ByteString;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link Tunnel}'s answers to OkHttp's events, with a WebSocket that OkHttp has failed. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TunnelTest {

  private static final String URL = "ws://127.0.0.1:1/grpc";

  /** A WebSocket OkHttp has failed: it refuses every message. */
  private static final class FailedWebSocket implements WebSocket {
    @Override
    public Request request() {
      return new Request.Builder().url(URL.replace("ws:", "http:")).build();
    }

    @Override
    public long queueSize() {
      return 0;
    }

    @Override
    public boolean send(String text) {
      return false;
    }

    @Override
    public boolean send(ByteString bytes) {
      return false;
    }

    @Override
    public boolean close(int code, String reason) {
      return false;
    }

    @Override
    public void cancel() {}
  }

  @Test
  void aMessageRefusedWhileOkHttpFailsTheWebSocketThrowsWhyItFailed() throws Exception {
    Tunnel tunnel = new Tunnel(OkHttpWebSocketOptions.newBuilder(URL).build());
    WebSocket ws = new FailedWebSocket();
    tunnel.onOpen(ws, new Response.Builder().request(ws.request()).protocol(Protocol.HTTP_1_1).code(101)
        .message("Switching Protocols").header("Upgrade", "websocket").header("Connection", "Upgrade").build());
    // OkHttp refuses messages from the moment it fails the WebSocket, and says why a moment later on its reader
    // thread: here once the writer is waiting, or once it has given up.
    Thread writer = Thread.currentThread();
    AtomicBoolean thrown = new AtomicBoolean();
    Thread reader = new Thread(() -> {
      while (writer.getState() != Thread.State.TIMED_WAITING && !thrown.get()) {
        Thread.onSpinWait();
      }
      tunnel.onFailure(ws, new ProtocolException("Unknown opcode: 3"), null);
    }, "okhttp-reader");
    reader.start();
    TunnelFailure e;
    try {
      e = assertThrows(TunnelFailure.class, () -> tunnel.send(ByteString.of((byte) 1)));
    } finally {
      thrown.set(true);
      reader.join();
    }
    assertEquals("Unknown opcode: 3 (from " + URL + ")", e.getMessage());
  }
}
