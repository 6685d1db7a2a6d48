package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import dev.wsgrpc.testing.proto.EchoGrpc;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ProtocolException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.WebSocket;
import okio.ByteString;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Tunnel}'s answers to OkHttp's events, with a WebSocket that OkHttp has failed. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TunnelTest {

  private static final String URL = "ws://127.0.0.1:1/grpc";

  /** A WebSocket OkHttp has failed: it refuses every message. */
  private static class FailedWebSocket implements WebSocket {
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
    assertEquals("expected a defined opcode but was reserved opcode 0x3 (from " + URL + ")", e.getMessage());
  }

  /** An interrupt of OkHttp's reader while it waits for room drops a message: the tunnel ends, saying so. */
  @Test
  void anInterruptWhileAMessageWaitsForRoomEndsTheTunnel() throws Exception {
    Tunnel tunnel = new Tunnel(OkHttpWebSocketOptions.newBuilder(URL).build());
    java.util.concurrent.atomic.AtomicInteger cancels = new java.util.concurrent.atomic.AtomicInteger();
    WebSocket ws = new FailedWebSocket() {
      @Override
      public void cancel() {
        cancels.incrementAndGet();
      }
    };
    tunnel.onMessage(ws, ByteString.of(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0})); // SETTINGS
    tunnel.onMessage(ws, ByteString.of(new byte[Tunnel.INBOUND_LIMIT])); // the buffer is full: nobody reads
    Thread reader = new Thread(() -> tunnel.onMessage(ws, ByteString.of((byte) 1)), "okhttp-reader");
    reader.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (reader.getState() != Thread.State.WAITING && reader.isAlive() && System.nanoTime() < deadline) {
      Thread.onSpinWait(); // until it waits for room
    }
    assertEquals(Thread.State.WAITING, reader.getState(), "the reader waits for room");
    reader.interrupt();
    reader.join(30_000);
    assertEquals(false, reader.isAlive());
    assertEquals("OkHttp's reader was interrupted while waiting for room for a message from " + URL
        + "; the message was dropped", tunnel.failure().getMessage());
    assertEquals(1, cancels.get());
  }

  @Test
  void aTunnelThatDoesNotBeginWithHttp2SettingsFailsWith1002QuotingHowItBegan() throws Exception {
    byte[] notHttp2 = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    try (ScriptedHttpServer server = new ScriptedHttpServer((socket, head) -> {
      answer101(socket, head);
      // One binary message, as a relay in front of a port that speaks HTTP/1.1 passes its answer on.
      socket.getOutputStream().write(new byte[] {(byte) 0x82, (byte) notHttp2.length});
      socket.getOutputStream().write(notHttp2);
      socket.getOutputStream().flush();
      socket.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
    })) {
      String url = "ws://127.0.0.1:" + server.port() + "/grpc";
      ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(OkHttpWebSocketOptions.newBuilder(url)
          .build()).build();
      try {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
            .withDeadlineAfter(30, TimeUnit.SECONDS).unary(TestEcho.payload(1)));
        assertEquals(Status.Code.INTERNAL, e.getStatus().getCode(), e.getStatus().toString());
        assertEquals("expected HTTP/2 in the tunnel, a SETTINGS frame first, but it began with 'HTTP/1.1 400 Bad "
            + "Request??Conten...' (from " + url + "; sent close 1002 (Protocol Error))",
            e.getStatus().getDescription());
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * A server that answers the upgrade and then sends nothing: calls fail at the ping timeout, as with the Netty
   * client, where grpc-okhttp alone waited for its SETTINGS until its keepalive gave up (40 s); with pings off too.
   */
  @ParameterizedTest(name = "pingInterval {0} ms")
  @ValueSource(longs = {30_000, 0})
  void aServerSilentAfterThe101FailsTheCallAtThePingTimeout(long pingIntervalMillis) throws Exception {
    assertTheCallFailsWithoutSettings(pingIntervalMillis, 300, (socket, head) -> {
      answer101(socket, head);
      socket.getInputStream().transferTo(java.io.OutputStream.nullOutputStream()); // then silent
    });
  }

  /**
   * The wait for the server's SETTINGS is a deadline from the 101: a server that sends Pongs (or answers Pings)
   * but no HTTP/2 (a relay whose upstream accepted TCP and hung) does not extend it; it did, since a read timeout
   * starts again with every byte read. The client's own pings are off, so that OkHttp's check of their Pongs
   * (within one interval) cannot end the tunnel first on a busy machine; the server sends a Pong every 50 ms.
   */
  @Test
  void pongsDoNotExtendTheWaitForTheServersSettings() throws Exception {
    AtomicInteger pongs = new AtomicInteger();
    ScheduledExecutorService pacer = Executors.newSingleThreadScheduledExecutor();
    try {
      assertTheCallFailsWithoutSettings(0, 1000, (socket, head) -> {
        socket.setTcpNoDelay(true);
        answer101(socket, head);
        OutputStream out = socket.getOutputStream();
        ScheduledFuture<?> sending = pacer.scheduleAtFixedRate(() -> {
          try {
            out.write(new byte[] {(byte) 0x8a, 0}); // an unsolicited Pong, which RFC 6455 allows
            out.flush();
            pongs.incrementAndGet();
          } catch (IOException e) {
            throw new UncheckedIOException(e); // the client has gone: no more
          }
        }, 0, 50, TimeUnit.MILLISECONDS);
        try {
          socket.getInputStream().transferTo(OutputStream.nullOutputStream()); // until the client closes
        } finally {
          sending.cancel(false);
        }
      });
    } finally {
      pacer.shutdownNow();
    }
    assertTrue(pongs.get() > 1, "Pongs sent: " + pongs.get());
  }

  /**
   * The wait ends with the server's SETTINGS, not with any message: an empty one, or one shorter than a frame
   * header, leaves it running.
   */
  @ParameterizedTest(name = "{0} bytes")
  @ValueSource(ints = {0, 5})
  void aServerSilentAfterLessThanAFrameHeaderFailsTheCallAtThePingTimeout(int length) throws Exception {
    assertTheCallFailsWithoutSettings(30_000, 300, (socket, head) -> {
      answer101(socket, head);
      socket.getOutputStream().write(new byte[] {(byte) 0x82, (byte) length});
      socket.getOutputStream().write(new byte[] {0, 0, 0, 4, 0}, 0, length); // the start of a SETTINGS frame
      socket.getOutputStream().flush();
      socket.getInputStream().transferTo(java.io.OutputStream.nullOutputStream()); // then silent
    });
  }

  private static void answer101(Socket socket, String head) throws IOException {
    socket.getOutputStream().write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        + "Connection: Upgrade\r\nSec-WebSocket-Accept: "
        + UpgradeAnswer.acceptFor(ScriptedHttpServer.webSocketKey(head)) + "\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1));
    socket.getOutputStream().flush();
  }

  /** A call to a server that plays {@code script} fails at the ping timeout for want of the server's SETTINGS. */
  private static void assertTheCallFailsWithoutSettings(long pingIntervalMillis, long pingTimeoutMillis,
      ScriptedHttpServer.Script script) throws Exception {
    try (ScriptedHttpServer server = new ScriptedHttpServer(script)) {
      String url = "ws://127.0.0.1:" + server.port() + "/grpc";
      ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(OkHttpWebSocketOptions.newBuilder(url)
          .settings(TunnelSettings.newBuilder().pingInterval(pingIntervalMillis, TimeUnit.MILLISECONDS)
              .pingTimeout(pingTimeoutMillis, TimeUnit.MILLISECONDS).build()).build()).build();
      try {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
            .withDeadlineAfter(20, TimeUnit.SECONDS).unary(TestEcho.payload(1)));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
        assertEquals("expected the server's HTTP/2 SETTINGS within " + pingTimeoutMillis + " ms of the WebSocket "
            + "upgrade (101) but they did not arrive (from " + url + ")", e.getStatus().getDescription());
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  /** A socket takes at most Integer.MAX_VALUE ms as its read timeout: the text tells that wait, not the sum. */
  @Test
  void silenceTellsTheReadTimeoutTheSocketTakes() {
    Tunnel tunnel = new Tunnel(OkHttpWebSocketOptions.newBuilder(URL).settings(TunnelSettings.newBuilder()
        .pingInterval(TunnelSettings.MAX_DURATION_MILLIS, TimeUnit.MILLISECONDS)
        .pingTimeout(TunnelSettings.MAX_DURATION_MILLIS, TimeUnit.MILLISECONDS).build()).build());
    tunnel.onMessage(new FailedWebSocket(), ByteString.of(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0})); // SETTINGS
    InputStream silent = tunnel.watchSilence(new InputStream() {
      @Override
      public int read() throws IOException {
        throw new SocketTimeoutException("Read timed out");
      }
    });
    Tunnel.Silence e = assertThrows(Tunnel.Silence.class, silent::read);
    assertEquals("nothing arrived within 2147483647 ms, a WebSocket Ping's interval and timeout (2147483647 + "
        + "2147483647 ms): the server or a hop on the path has gone silent", e.getMessage());
  }
}
