package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.ExternalProgram;
import io.grpc.ManagedChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * No WebSocket at all: direct gRPC over h2c through haproxy in TCP mode (one thread), which copies bytes from one
 * socket to the other and does nothing else. What any extra process in the path costs on this machine: the floor
 * for every relay setup (nginx, websockify, the gateway).
 */
final class TcpRelaySetup extends RelaySetup {

  TcpRelaySetup() {
    super("tcp_relay", "direct gRPC over h2c through haproxy in TCP mode (1 thread): the cost of any extra hop",
        DirectSetup.h2c());
  }

  @Override
  ExternalProgram startProgram(int port, int backendPort) throws Exception {
    return start(port, String.join("\n",
        "global",
        "  nbthread 1",
        "defaults",
        "  mode tcp",
        "  timeout connect 5s",
        "  timeout client 1h",
        "  timeout server 1h",
        "listen relay",
        "  bind 127.0.0.1:" + port,
        "  server backend 127.0.0.1:" + backendPort,
        ""));
  }

  /** Starts HAProxy with configuration {@code cfg} and waits until it listens on {@code port}. */
  static ExternalProgram start(int port, String cfg) throws Exception {
    String exe = require("haproxy", "haproxy");
    Path dir = Files.createTempDirectory("wsgrpc-bench-haproxy");
    Path file = dir.resolve("haproxy.cfg");
    Files.write(file, cfg.getBytes(StandardCharsets.US_ASCII));
    return listening(ExternalProgram.start("haproxy", exe, "-db", "-f", file.toString()), port);
  }

  @Override
  ManagedChannel newChannel(Transports transports, int port) {
    return DirectSetup.h2cChannel(transports, port);
  }
}
