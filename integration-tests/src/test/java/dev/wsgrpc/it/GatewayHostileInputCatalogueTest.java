package dev.wsgrpc.it;

import java.util.List;

/** The hostile-input catalogue against {@code tunnel-server.jar} in gateway mode (proxy, the default). */
class GatewayHostileInputCatalogueTest extends JarHostileInputCatalogue {

  @Override
  List<String> modeOptions() {
    return List.of();
  }

  @Override
  String expected(String name, String answer) {
    switch (name) {
      case "HTTP/2 preface where an upgrade belongs":
        // The jar serves native gRPC on the same port, behind the same gate as tunnels (issue 12 item 1): the call
        // without a token ends UNAUTHENTICATED (16) and never reaches the upstream.
        return "native gRPC: probe call grpc-status 16";
      case "GET /metrics on the tunnel port":
        // Without --admin-port the jar serves /metrics on its port, as documented (docs/GATEWAY.md, What the default
        // exposes), to those its authenticator admits: this request has no token. The relay-mode target has an
        // admin port.
        return "HTTP/1.1 401 Unauthorized";
      default:
        return super.expected(name, answer);
    }
  }
}
