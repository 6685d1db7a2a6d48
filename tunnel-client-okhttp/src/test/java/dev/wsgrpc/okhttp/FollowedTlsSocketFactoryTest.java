package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;

/**
 * The wss socket factory configures the TLS provider's own socket before wrapping it: OkHttp's Android code sets the
 * SNI (Android 5), session tickets and ALPN only on a socket class it recognises, never on the wrapper.
 */
class FollowedTlsSocketFactoryTest {

  @Test
  void theProvidersSocketIsConfiguredWithTheHostBeforeItIsWrapped() throws Exception {
    List<Object> configured = new ArrayList<>();
    FollowedTlsSocketFactory factory = new FollowedTlsSocketFactory(SSLContext.getDefault().getSocketFactory(),
        new Tunnel(OkHttpWebSocketOptions.newBuilder("wss://edge.example.com/grpc").build()),
        new FollowedTlsSocketFactory.Extensions() {
          @Override
          public void configure(SSLSocket socket, String host) {
            configured.add(socket);
            configured.add(host);
          }

          @Override
          public void afterHandshake(SSLSocket socket) {
            configured.add("after " + (socket == configured.get(0)));
          }
        });
    try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        Socket raw = new Socket(listener.getInetAddress(), listener.getLocalPort());
        Socket accepted = listener.accept();
        SSLSocket wrapped = (SSLSocket) factory.createSocket(raw, "edge.example.com", 443, true)) {
      assertEquals(2, configured.size());
      SSLSocket inner = (SSLSocket) configured.get(0);
      assertNotSame(wrapped, inner, "the provider's socket, not the wrapper, is configured");
      assertEquals("edge.example.com", configured.get(1));
      // Calls pass through to the provider's socket.
      wrapped.setEnabledProtocols(new String[] {"TLSv1.3"});
      assertEquals(List.of("TLSv1.3"), List.of(inner.getEnabledProtocols()));
      // A handshake (failing here: the peer says nothing and is closed) is followed by the platform's clean-up on
      // the provider's socket.
      accepted.close();
      assertThrows(IOException.class, wrapped::startHandshake);
      assertEquals("after true", configured.get(2));
      wrapped.close();
      assertTrue(inner.isClosed());
      assertTrue(raw.isClosed(), "autoClose: the raw socket closes with the TLS socket");
    }
  }

  @Test
  void aConfigurationThatFailsClosesTheProvidersSocket() throws Exception {
    FollowedTlsSocketFactory factory = new FollowedTlsSocketFactory(SSLContext.getDefault().getSocketFactory(),
        new Tunnel(OkHttpWebSocketOptions.newBuilder("wss://edge.example.com/grpc").build()),
        new FollowedTlsSocketFactory.Extensions() {
          @Override
          public void configure(SSLSocket socket, String host) {
            throw new IllegalStateException("no adapter for this socket");
          }

          @Override
          public void afterHandshake(SSLSocket socket) {}
        });
    try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        Socket raw = new Socket(listener.getInetAddress(), listener.getLocalPort());
        Socket accepted = listener.accept()) {
      assertEquals("no adapter for this socket", assertThrows(IllegalStateException.class,
          () -> factory.createSocket(raw, "edge.example.com", 443, true)).getMessage());
      assertTrue(raw.isClosed(), "the TLS socket, and with it the raw socket, closed");
    }
  }

  @Test
  void socketsThatAreNotLayeredOverTheTunnelsConnectionAreRefused() throws Exception {
    FollowedTlsSocketFactory factory = new FollowedTlsSocketFactory(SSLContext.getDefault().getSocketFactory(),
        new Tunnel(OkHttpWebSocketOptions.newBuilder("wss://edge.example.com/grpc").build()));
    SocketException e = assertThrows(SocketException.class, () -> factory.createSocket("edge.example.com", 443));
    assertEquals("a tunnel's TLS socket is layered over its TCP socket", e.getMessage());
  }
}
