package dev.wsgrpc.server;

/** The protocols a browser page speaks to the server, each translated into gRPC calls on the same connection. */
enum BrowserProtocol {
  /** gRPC-Web on HTTP/1.1: unary and server streaming, one call per request. */
  GRPC_WEB("grpc-web"),
  /** gRPC over WebSocket (subprotocol {@code grpc-websockets}): every kind, one call per WebSocket. */
  GRPC_WEBSOCKETS("grpc-websockets");

  private final String label;

  BrowserProtocol(String label) {
    this.label = label;
  }

  /** How logs, metrics and {@link dev.wsgrpc.core.TunnelEstablishedEvent#subprotocol()} name it. */
  String label() {
    return label;
  }
}
