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
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A server that stops reading while the client uploads, and pings on, so that no read of the client's times out:
 * OkHttp's writer then waits in a socket write for good, its own Ping behind our messages, and grpc-okhttp's writer
 * waited for room in OkHttp's queue for good too, holding the socket and four threads, and the channel's termination,
 * for as long as the server wished. Now the tunnel ends once the socket has taken nothing for {@code pingInterval +
 * pingTimeout}, and a tunnel that ended otherwise (a text frame refused with close 1003, queued behind what the server
 * never read) is cut once grpc-okhttp closes it and the socket takes nothing for {@link Tunnel#CLOSE_STALL_MILLIS}.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class UnreadUploadTest {

  /** Far more than the kernel's buffers take from a writer whose peer does not read (a few MiB). */
  private static final int UPLOAD = 32 * 1024 * 1024;

  private final Closer closer = new Closer();
  /** Completes once a write of the server's fails: the client has closed its socket. */
  private final CompletableFuture<Void> serverCut = new CompletableFuture<>();
  private ManagedChannel channel;

  @AfterEach
  void closeAll() throws Exception {
    closer.close();
  }

  @Test
  void anUploadToAServerThatStopsReadingButPingsEndsOnceTheSocketTakesNothingForPingIntervalAndTimeout()
      throws Exception {
    Status status = uploadAgainst(false);
    assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    assertTrue(status.getDescription().contains("to read what this client sent, but the socket took no byte for 3000 "
        + "ms (pingInterval + pingTimeout) with "), status.toString());
    channel.shutdownNow();
    assertTrue(channel.awaitTermination(10, TimeUnit.SECONDS), "the channel terminates");
    serverCut.get(30, TimeUnit.SECONDS);
  }

  @Test
  void aTunnelThatEndedBehindUnreadBytesIsCutOnceItsSocketTakesNothing() throws Exception {
    Status status = uploadAgainst(true);
    // The text frame: refused with close 1003, which waits behind the upload in OkHttp's queue.
    assertEquals(Status.Code.INTERNAL, status.getCode(), status.toString());
    assertTrue(status.getDescription().contains("1003"), status.toString());
    channel.shutdownNow();
    assertTrue(channel.awaitTermination(10, TimeUnit.SECONDS), "the channel terminates");
    // Cut by the close watch: the server's pings fail once the client's socket is closed.
    serverCut.get(30, TimeUnit.SECONDS);
  }

  /**
   * A unary call of {@value #UPLOAD} bytes against a server that answers the upgrade and HTTP/2 SETTINGS with
   * windows of 1 GiB, reads the first few KiB and then nothing, and pings every 100 ms (having sent a text frame once
   * the client wrote, with {@code textFrame}); returns the call's status. Pings every 2 s, answered within a second:
   * the upload fills the buffers long before OkHttp's first Ping, which then waits behind it.
   */
  private Status uploadAgainst(boolean textFrame) throws IOException {
    ScriptedHttpServer server = new ScriptedHttpServer((Socket s, String head) -> {
      OutputStream out = s.getOutputStream();
      out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Accept: " + UpgradeAnswer.acceptFor(ScriptedHttpServer.webSocketKey(head)) + "\r\n"
          + "Sec-WebSocket-Protocol: wsgrpc.v1\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      // SETTINGS with SETTINGS_INITIAL_WINDOW_SIZE 1 GiB, then a WINDOW_UPDATE of 1 GiB for the connection: the
      // client may send the whole upload without waiting for the server.
      out.write(new byte[] {(byte) 0x82, 15, 0, 0, 6, 0x4, 0, 0, 0, 0, 0, 0, 0x4, 0x40, 0, 0, 0});
      out.write(new byte[] {(byte) 0x82, 13, 0, 0, 4, 0x8, 0, 0, 0, 0, 0, 0x40, 0, 0, 0});
      out.flush();
      s.getInputStream().readNBytes(4096); // the client's preface and the call's start: then nothing more
      try {
        if (textFrame) {
          // Once the client's buffers are full (a second is ages for that on loopback): its Close 1003 then waits
          // behind the bytes this server does not read.
          Thread.sleep(1000);
          out.write(new byte[] {(byte) 0x81, 2, 'h', 'i'});
        }
        while (true) {
          out.write(new byte[] {(byte) 0x89, 0});
          out.flush();
          Thread.sleep(100); // a peer's pacing, not a wait for an event: the pings keep the client's reads alive
        }
      } catch (IOException e) {
        serverCut.complete(null);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    closer.add(server);
    channel = closer.add(OkHttpWebSocketChannels.newChannelBuilder(TestTls.options(server.url())
        .settings(TunnelSettings.newBuilder().pingInterval(2, TimeUnit.SECONDS).pingTimeout(1, TimeUnit.SECONDS)
            .build()).build()).build());
    return assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
        .withDeadlineAfter(60, TimeUnit.SECONDS).unary(TestEcho.payload(UPLOAD))).getStatus();
  }
}
