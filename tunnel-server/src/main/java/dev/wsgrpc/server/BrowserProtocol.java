package dev.wsgrpc.server;

/** The protocols a browser page speaks to the server, each translated into gRPC calls on the same connection. */
enum BrowserProtocol {
  /** gRPC-Web on HTTP/1.1: unary and server streaming, one call per request. */
  GRPC_WEB("grpc-web", null),
  /** gRPC over WebSocket (subprotocol {@code grpc-websockets}): every kind, one call per WebSocket. */
  GRPC_WEBSOCKETS("grpc-websockets", GrpcWebSocketsTranslator.SUBPROTOCOL),
  /** JSON over a plain WebSocket (subprotocol {@code wsgrpc-json}): every kind, one call per WebSocket. */
  JSON_WEBSOCKET("json-ws", JsonWebSocketTranslator.SUBPROTOCOL);

  private final String label;
  private final String subprotocol;

  BrowserProtocol(String label, String subprotocol) {
    this.label = label;
    this.subprotocol = subprotocol;
  }

  /** How logs and metrics name it. */
  String label() {
    return label;
  }

  /** The WebSocket subprotocol of a protocol with one WebSocket per call; null for gRPC-Web. */
  String subprotocol() {
    return subprotocol;
  }

  boolean webSocketPerCall() {
    return subprotocol != null;
  }
}
