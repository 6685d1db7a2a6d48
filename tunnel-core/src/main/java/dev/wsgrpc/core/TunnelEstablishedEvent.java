package dev.wsgrpc.core;

/**
 * Fired down a tunnel's pipeline once the upgrade has succeeded and the frame handlers are in place, just before
 * gRPC's HTTP/2 handler takes over. Handlers that care about a tunnel's life (metrics, liveness) start here.
 */
public final class TunnelEstablishedEvent {

  private final String path;
  private final String subprotocol;

  public TunnelEstablishedEvent(String path, String subprotocol) {
    this.path = path;
    this.subprotocol = subprotocol;
  }

  /** The request target of the upgrade, e.g. {@code "/grpc"}. */
  public String path() {
    return path;
  }

  /** The subprotocol both sides agreed on, or {@code null} when none was negotiated. */
  public String subprotocol() {
    return subprotocol;
  }

  @Override
  public String toString() {
    return "TunnelEstablishedEvent(path=" + path + ", subprotocol=" + subprotocol + ")";
  }
}
