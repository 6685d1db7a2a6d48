package dev.wsgrpc.server;

import java.net.SocketAddress;

/**
 * Observes tunnels, and on a gRPC server native gRPC connections: for logs, metrics and orderly shutdown. Called on the tunnel's event loop: implementations must
 * be quick, must not block, and must be thread-safe (tunnels live on several event loops).
 */
public interface TunnelListener {

  /** A tunnel was established (after the 101). */
  default void tunnelOpened(TunnelInfo tunnel) {}

  /** A tunnel ended, for whatever reason. */
  default void tunnelClosed(TunnelInfo tunnel) {}

  /**
   * A native gRPC connection (HTTP/2 without a WebSocket: prior-knowledge h2c, or h2 chosen during TLS) was admitted
   * at its preface, on a server with {@link WebSocketServerOptions#nativeGrpc()} ({@link WebSocketServers} or
   * {@link WebSocketServerCredentials}). Reported here, not as a tunnel (though it takes a slot of the tunnel
   * limits): its {@link TunnelInfo#path() path} and {@link TunnelInfo#subprotocol() subprotocol} are null, its
   * {@link TunnelInfo#clientAddress() client address} is the socket's peer (each call finds its own, from a trusted
   * proxy's header, in the call's attributes), and its principal is the one it was admitted for as a whole (a client
   * certificate), else null. Its {@link TunnelInfo#close() close()} sends GOAWAY while the server goes on listening:
   * how a drain reaches native connections before {@code Server.shutdown()} closes the port. Where an authenticator
   * checks its calls one by one, it is reported here when gRPC takes it over, and takes its slot only at its first
   * accepted call; one that makes none within the handshake timeout is closed and also reported to
   * {@link #upgradeRejected} ({@link RejectReason#TIMEOUT}).
   */
  default void nativeConnectionOpened(TunnelInfo connection) {}

  /** A native gRPC connection reported to {@link #nativeConnectionOpened} ended, for whatever reason. */
  default void nativeConnectionClosed(TunnelInfo connection) {}

  /**
   * An upgrade request was refused before the 101.
   *
   * @param status the HTTP status answered, e.g. 404
   * @param reason why; its {@link RejectReason#label() label} is stable, for metrics
   */
  default void upgradeRejected(SocketAddress clientAddress, int status, RejectReason reason) {}
}
