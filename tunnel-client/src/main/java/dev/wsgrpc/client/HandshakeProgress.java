package dev.wsgrpc.client;

import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.ssl.SslHandler;

/**
 * Hears what a connection's TLS and upgrade steps found, for the command-line tool's step report
 * ({@link InternalWebSocketClient.Dialer}); channels use {@link #NONE}. Called on the channel's event loop; must not
 * block or keep the objects it is given.
 */
interface HandshakeProgress {

  /** Hears nothing. */
  HandshakeProgress NONE = new HandshakeProgress() {};

  /** The TLS handshake succeeded on {@code ssl}; the upgrade starts next. */
  default void tlsDone(SslHandler ssl) {}

  /** The server answered the upgrade request with {@code answer}, before the answer is checked. */
  default void upgradeAnswered(HttpResponse answer) {}
}
