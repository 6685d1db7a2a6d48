package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.testing.NoopChannelLogger;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslHandler;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The TLS step on an EmbeddedChannel with a frozen clock: the handshake timeout is the configured one. */
class ServerTlsHandlerTest {

  private static final TestCertificates CERTS = TestCertificates.create();

  /** The first 9 bytes of a TLS 1.2 ClientHello record that announces 512 bytes: the rest never comes. */
  private static final byte[] HALF_CLIENT_HELLO = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc};

  private final List<RejectReason> rejected = new CopyOnWriteArrayList<>();

  private EmbeddedChannel connect(Duration handshakeTimeout) {
    WebSocketServerOptions options = WebSocketServerOptions.newBuilder()
        .tls(ServerTls.pemFiles(CERTS.serverCertPem(), CERTS.serverKeyPem()))
        .settings(TunnelSettings.newBuilder().handshakeTimeout(handshakeTimeout).build())
        .listener(new TunnelListener() {
          @Override
          public void upgradeRejected(SocketAddress clientAddress, int status, RejectReason reason) {
            rejected.add(reason);
          }
        })
        .build();
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    ch.pipeline().addLast(new ServerTlsHandler(new ChannelInboundHandlerAdapter(), options,
        NoopChannelLogger.INSTANCE));
    ch.pipeline().fireUserEventTriggered(InternalProtocolNegotiationEvent.getDefault());
    return ch;
  }

  private void assertClosedAtTheTimeout(EmbeddedChannel ch, long timeoutMillis) {
    assertEquals(timeoutMillis, ch.pipeline().get(SslHandler.class).getHandshakeTimeoutMillis());
    ch.advanceTimeBy(timeoutMillis - 1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertTrue(ch.isOpen(), "closed before the handshake timeout");
    ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    ch.runPendingTasks();
    assertFalse(ch.isOpen(), "open after the handshake timeout");
    assertEquals(List.of(RejectReason.TLS), rejected);
    ch.finishAndReleaseAll();
  }

  @Test
  void aClientThatSendsNothingIsClosedAtTheConfiguredHandshakeTimeout() {
    assertClosedAtTheTimeout(connect(Duration.ofSeconds(25)), 25_000); // longer than Netty's own 10 s
  }

  @Test
  void halfAClientHelloIsClosedAtTheConfiguredHandshakeTimeout() {
    EmbeddedChannel ch = connect(Duration.ofMillis(1500)); // shorter than Netty's own 10 s
    ch.writeInbound(Unpooled.wrappedBuffer(HALF_CLIENT_HELLO));
    assertClosedAtTheTimeout(ch, 1500);
  }

  @Test
  void plainTextIsCountedAsAFailedHandshakeAndClosed() {
    EmbeddedChannel ch = connect(Duration.ofSeconds(10));
    try {
      ch.writeInbound(Unpooled.copiedBuffer("GET / HTTP/1.1\r\nHost: x\r\n\r\n", java.nio.charset.StandardCharsets.US_ASCII));
    } catch (RuntimeException expected) {
      // The decoder's failure, after the handshake failure was reported: it reaches no one else.
    }
    ch.runPendingTasks();
    assertFalse(ch.isOpen());
    assertEquals(List.of(RejectReason.TLS), rejected);
    ch.finishAndReleaseAll();
  }
}
