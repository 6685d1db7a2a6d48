package dev.wsgrpc.server;

import java.net.SocketAddress;

/**
 * Observes tunnels: for logs, metrics and orderly shutdown. Called on the tunnel's event loop: implementations must
 * be quick, must not block, and must be thread-safe (tunnels live on several event loops).
 */
public interface TunnelListener {

  /** A tunnel was established (after the 101). */
  default void tunnelOpened(TunnelInfo tunnel) {}

  /** A tunnel ended, for whatever reason. */
  default void tunnelClosed(TunnelInfo tunnel) {}

  /**
   * An upgrade request was refused before the 101.
   *
   * @param status the HTTP status answered, e.g. 404
   * @param reason why; its {@link RejectReason#label() label} is stable, for metrics
   */
  default void upgradeRejected(SocketAddress clientAddress, int status, RejectReason reason) {}
}
