package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.ExternalProgram;
import io.grpc.ManagedChannel;

/**
 * A generic bridge for comparison: our client, offering no subprotocol, through websockify (Debian's package, the
 * usual WebSocket-to-TCP bridge) to a plain grpc-java h2c server.
 */
final class WebsockifySetup extends RelaySetup {

  WebsockifySetup() {
    super("websockify", "our client through websockify (generic WebSocket-to-TCP bridge) to a plain h2c server",
        DirectSetup.h2c());
  }

  @Override
  ExternalProgram startProgram(int port, int backendPort) throws Exception {
    String exe = require("websockify", "websockify");
    return listening(ExternalProgram.start("websockify", exe, "127.0.0.1:" + port, "127.0.0.1:" + backendPort),
        port);
  }

  @Override
  ManagedChannel newChannel(Transports transports, int port) {
    return TunnelSetup.Client.of("ws://127.0.0.1:" + port + "/", null, false).newChannel(transports);
  }
}
