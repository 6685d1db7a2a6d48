package dev.wsgrpc.core;

import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.UrlRedaction;
import java.net.SocketAddress;

/**
 * Fired down a tunnel's pipeline once the upgrade has succeeded and the frame handlers are in place, just before
 * the handler that consumes the byte stream (gRPC's HTTP/2 handler, or a gateway's relay) takes over. Handlers that
 * care about a tunnel's life (metrics, logs, liveness) start here.
 */
public final class TunnelEstablishedEvent {

  private final String path;
  private final String subprotocol;
  private final SocketAddress clientAddress;
  private final Object principal;

  /** An event for a tunnel on {@code path}; {@code subprotocol} and {@code principal} may be {@code null}. */
  public TunnelEstablishedEvent(String path, String subprotocol, SocketAddress clientAddress, Object principal) {
    this.path = path;
    this.subprotocol = subprotocol;
    this.clientAddress = clientAddress;
    this.principal = principal;
  }

  /** The request target of the upgrade, e.g. {@code "/grpc"}. */
  public String path() {
    return path;
  }

  /** The subprotocol both sides agreed on, or {@code null} when none was negotiated. */
  public String subprotocol() {
    return subprotocol;
  }

  /**
   * The client's address: on a server, the socket's peer unless a trusted proxy named another; on a client, the
   * server's socket address.
   */
  public SocketAddress clientAddress() {
    return clientAddress;
  }

  /** Who the server's authenticator admitted the tunnel for, or {@code null} (no authenticator, or a client). */
  public Object principal() {
    return principal;
  }

  @Override
  public String toString() {
    // As every log line of ours: a query (perhaps an access token) and a bearer.<token> subprotocol are not shown.
    return "TunnelEstablishedEvent(path=" + UrlRedaction.redact(path) + ", subprotocol="
        + Http11Tokens.shownSubprotocol(subprotocol) + ", client=" + clientAddress + ")";
  }
}
