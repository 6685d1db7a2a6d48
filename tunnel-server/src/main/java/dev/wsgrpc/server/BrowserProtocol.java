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

  /**
   * The protocol whose connection a {@link dev.wsgrpc.core.TunnelEstablishedEvent} with this subprotocol announces
   * (gRPC-Web announces its label, the WebSocket protocols their subprotocol), or null for a tunnel.
   */
  static BrowserProtocol forEventSubprotocol(String subprotocol) {
    for (BrowserProtocol protocol : values()) {
      if (protocol.label.equals(subprotocol) || (protocol.subprotocol != null
          && protocol.subprotocol.equals(subprotocol))) {
        return protocol;
      }
    }
    return null;
  }

  boolean webSocketPerCall() {
    return subprotocol != null;
  }
}
