package dev.wsgrpc.okhttp;

import java.net.InetSocketAddress;

/**
 * The local address of a tunnel's socket, as grpc-okhttp reports it in the transport's attributes
 * ({@code Grpc.TRANSPORT_ATTR_LOCAL_ADDR}): the address of OkHttp's TCP socket, carrying the tunnel so that {@link
 * TunnelStatusInterceptor} can tell an RPC why its tunnel ended.
 */
final class TunnelLocalAddress extends InetSocketAddress {

  private static final long serialVersionUID = 1L;

  private final transient Tunnel tunnel;

  TunnelLocalAddress(InetSocketAddress local, Tunnel tunnel) {
    super(local == null ? null : local.getAddress(), local == null ? 0 : local.getPort());
    this.tunnel = tunnel;
  }

  /** The tunnel, or null after deserialization. */
  Tunnel tunnel() {
    return tunnel;
  }
}
