package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.ExternalProgram;
import io.grpc.ManagedChannel;

/**
 * No WebSocket: direct gRPC over h2c through HAProxy at layer 7 ({@code mode http}, {@code proto h2} on the listener
 * and on the server line), which ends the client's HTTP/2 and forwards every stream over its own HTTP/2 connection
 * to the server. A thread per core (HAProxy's default); otherwise its defaults. What proxy mode
 * ({@code gateway_proxy_h2c}) is compared with.
 */
final class HaproxyH2Setup extends RelaySetup {

  HaproxyH2Setup() {
    super("haproxy_h2", "direct gRPC over h2c through HAProxy at layer 7 (mode http, proto h2 on both sides, a "
        + "thread per core)", DirectSetup.h2c());
  }

  @Override
  ExternalProgram startProgram(int port, int backendPort) throws Exception {
    return TcpRelaySetup.start(port, String.join("\n",
        "defaults",
        "  mode http",
        "  timeout connect 5s",
        "  timeout client 1h",
        "  timeout server 1h",
        "listen grpc",
        "  bind 127.0.0.1:" + port + " proto h2",
        "  server backend 127.0.0.1:" + backendPort + " proto h2",
        ""));
  }

  @Override
  ManagedChannel newChannel(Transports transports, int port) {
    return DirectSetup.h2cChannel(transports, port);
  }
}
