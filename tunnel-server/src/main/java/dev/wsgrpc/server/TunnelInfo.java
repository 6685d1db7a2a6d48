package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.ControlFrameHandler;
import io.netty.channel.Channel;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One tunnel, or one native gRPC connection ({@link TunnelListener#nativeConnectionOpened}), as a
 * {@link TunnelListener} sees it. Thread-safe.
 */
public final class TunnelInfo {

  private final Channel channel;
  private final SocketAddress clientAddress;
  private final String path;
  private final String subprotocol;
  private final Object principal;
  private final long openedNanos = System.nanoTime();
  private final AtomicLong bytesIn;
  private final AtomicLong bytesOut;
  private volatile long closedNanos;

  /** Created by the server; not for applications. */
  TunnelInfo(Channel channel, SocketAddress clientAddress, String path, String subprotocol, Object principal,
      AtomicLong bytesIn, AtomicLong bytesOut) {
    this.channel = channel;
    this.clientAddress = clientAddress;
    this.path = path;
    this.subprotocol = subprotocol;
    this.principal = principal;
    this.bytesIn = bytesIn;
    this.bytesOut = bytesOut;
  }

  /** The client's address: the socket's peer, or what a trusted proxy said it was. */
  public SocketAddress clientAddress() {
    return clientAddress;
  }

  /** The socket's peer (a proxy, when there is one). */
  public SocketAddress peerAddress() {
    return channel.remoteAddress();
  }

  /** The upgrade's path; null for a native gRPC connection. */
  public String path() {
    return path;
  }

  /** The negotiated subprotocol, or {@code null} (always for a native gRPC connection). */
  public String subprotocol() {
    return subprotocol;
  }

  /** Who the {@link TunnelAuthenticator} admitted the tunnel for, or {@code null}. */
  public Object principal() {
    return principal;
  }

  /**
   * The close code when the server began the close handshake (1001 on shutdown or a silent client, 1002/1003/1009
   * on bad input...), else -1 (always for a native gRPC connection).
   */
  public int closeCodeSent() {
    Integer code = channel.attr(ControlFrameHandler.CLOSE_SENT).get();
    return code == null ? -1 : code;
  }

  /** The close code when the client began the close handshake, else -1 (also for a Close without a code). */
  public int closeCodeReceived() {
    Integer code = channel.attr(ControlFrameHandler.CLOSE_RECEIVED).get();
    return code == null ? -1 : code;
  }

  /** Bytes received on the socket so far (TLS records and WebSocket framing included). */
  public long bytesIn() {
    return bytesIn.get();
  }

  /** Bytes sent on the socket so far (TLS records and WebSocket framing included). */
  public long bytesOut() {
    return bytesOut.get();
  }

  /** How long the tunnel has been (or was) open. */
  public Duration duration() {
    long end = closedNanos != 0 ? closedNanos : System.nanoTime();
    return Duration.ofNanos(end - openedNanos);
  }

  /**
   * Starts a graceful close: on a gRPC server, GOAWAY inside the tunnel, then the close once in-flight calls have
   * finished (WebSocket close 1001); on a native gRPC connection, grpc-java's own GOAWAY, then the close once its
   * calls have finished. New calls then go to a new connection. Returns at once.
   */
  public void close() {
    channel.close();
  }

  void markClosed() {
    closedNanos = System.nanoTime();
  }

  @Override
  public String toString() {
    return "TunnelInfo{client=" + clientAddress + ", path=" + path + ", subprotocol=" + subprotocol + "}";
  }
}
