package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A server that pings but does not read the Pongs: OkHttp queues a Pong for every Ping, without bound, so the client
 * reads no further than {@link Tunnel#MAX_OWED_PONGS} Pings past what its socket has taken. Before, it read every
 * Ping (48 MiB of them grew the client's heap by 67 MiB) and whatever followed; over wss it still did until the
 * plaintext inside TLS was followed. Over ws and over wss.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class UnreadPongsTest {

  /**
   * 2,000,000 Pings of 125 bytes (242 MiB): far more than the kernel's socket buffers both ways hold, even grown to
   * their largest (on Linux by default 32 MiB to receive, 4 MiB to send).
   */
  private static final int PINGS = 2_000_000;
  private static final int BATCH = 1000;

  private final Closer closer = new Closer();
  /** Completes once the server has sent every Ping and its Close. */
  private final CompletableFuture<Void> floodSent = new CompletableFuture<>();
  /** Completes once a write of the server's fails: the client has closed its socket. */
  private final CompletableFuture<Void> serverCut = new CompletableFuture<>();
  private ManagedChannel channel;

  @AfterEach
  void closeAll() throws Exception {
    closer.close();
  }

  @ParameterizedTest(name = "tls: {0}")
  @ValueSource(booleans = {false, true})
  void aServerThatPingsButReadsNothingIsReadNoFurtherThanThePongsItTakes(boolean tls) throws Exception {
    AtomicLong pingsSent = new AtomicLong();
    Status status = callAgainst(tls, PINGS, false, pingsSent, 10);

    // The client's reader waits at a Ping while its Pongs are not taken: the server's Close is never read.
    assertEquals(Status.Code.DEADLINE_EXCEEDED, status.getCode(), status.toString());
    // What the kernel's buffers took (here about 66,000 Pings, 8 MiB), far from all of them.
    long sent = pingsSent.get();
    assertTrue(sent < PINGS / 2, "the server could send " + sent + " of its " + PINGS + " Pings");

    // Closing the channel queues OkHttp's Close behind the unwritten Pongs, and OkHttp answers Pings until that Close
    // is written: the reader stays held.
    channel.shutdownNow();
    long closed = System.nanoTime();
    assertTrue(channel.awaitTermination(10, TimeUnit.SECONDS));
    assertThrows(TimeoutException.class, () -> floodSent.get(2, TimeUnit.SECONDS),
        "the client read the rest of the Pings once its channel was closed");
    // Nor is the connection held for good: once its socket has taken nothing for 5 s, the closing tunnel is cut, and
    // the server's writes fail. It stayed open, with OkHttp's reader and writer threads, for as long as the server
    // wished (the server here, and a gateway whose keepalive pings a client that does not read, ping on and on).
    serverCut.get(30, TimeUnit.SECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closed);
    assertTrue(millis >= Tunnel.CLOSE_STALL_MILLIS - 100, "cut after " + millis + " ms");
  }

  @ParameterizedTest(name = "tls: {0}")
  @ValueSource(booleans = {false, true})
  void aServerThatTakesThePongsHasEveryPingRead(boolean tls) throws Exception {
    AtomicLong pingsSent = new AtomicLong();
    Status status = callAgainst(tls, 100_000, true, pingsSent, 60);

    // Every Ping was read and answered, then the Close that follows them ended the call.
    assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    assertTrue(status.getDescription().contains("1000"), status.toString());
    assertEquals(100_000, pingsSent.get());
  }

  /**
   * Runs a unary call (with a deadline of {@code deadlineSeconds}) against a server that answers the upgrade and
   * HTTP/2 SETTINGS, then sends {@code pings} Pings of 125 bytes and Close 1000, reading what the client sends only
   * when {@code readPongs}, over TLS when {@code tls}; returns the call's status.
   */
  private Status callAgainst(boolean tls, int pings, boolean readPongs, AtomicLong pingsSent, int deadlineSeconds)
      throws IOException {
    ScriptedHttpServer server = new ScriptedHttpServer(TestTls.server(tls), (Socket s, String head) -> {
      Thread reader = new Thread(() -> discardAll(s), "pong-reader");
      reader.setDaemon(true);
      if (readPongs) {
        reader.start();
      }
      OutputStream out = s.getOutputStream();
      out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Accept: " + UpgradeAnswer.acceptFor(ScriptedHttpServer.webSocketKey(head)) + "\r\n"
          + "Sec-WebSocket-Protocol: wsgrpc.v1\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      // An empty HTTP/2 SETTINGS in a binary message: grpc-okhttp starts calls once the server's SETTINGS came.
      out.write(new byte[] {(byte) 0x82, 9, 0, 0, 0, 0x4, 0, 0, 0, 0, 0});
      byte[] batch = new byte[127 * BATCH];
      for (int i = 0; i < BATCH; i++) {
        batch[127 * i] = (byte) 0x89;
        batch[127 * i + 1] = 125;
      }
      try {
        for (int i = 0; i < pings / BATCH; i++) {
          out.write(batch);
          pingsSent.addAndGet(BATCH);
        }
      } catch (IOException e) {
        serverCut.complete(null);
        throw e;
      }
      out.write(new byte[] {(byte) 0x88, 0x02, 0x03, (byte) 0xE8});
      out.flush();
      floodSent.complete(null);
      if (readPongs) {
        join(reader);
      } else {
        discardAll(s);
      }
    });
    closer.add(server);
    channel = closer.add(
        OkHttpWebSocketChannels.newChannelBuilder(TestTls.options(server.url()).build()).build());
    return assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
        .withDeadlineAfter(deadlineSeconds, TimeUnit.SECONDS).unary(TestEcho.payload(1))).getStatus();
  }

  private static void join(Thread t) {
    try {
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Reads and drops what the client sends until it closes. */
  private static void discardAll(Socket s) {
    try {
      InputStream in = s.getInputStream();
      byte[] b = new byte[8192];
      while (in.read(b) != -1) {
        // dropped
      }
    } catch (IOException ignored) {
      // closed
    }
  }
}
