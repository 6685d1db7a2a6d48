package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.ExternalProgram;
import io.grpc.ManagedChannel;

/**
 * No WebSocket: direct gRPC over h2c through nginx's gRPC proxy ({@code grpc_pass}, Debian's nginx-full), a layer-7
 * gRPC proxy that ends the client's HTTP/2 and forwards every call over its own HTTP/2 connections to the server. One
 * worker per core ({@code worker_processes auto}), upstream connections kept alive, no limit on calls per connection;
 * otherwise nginx's defaults.
 * What proxy mode ({@code gateway_proxy_h2c}) is compared with.
 */
final class NginxGrpcSetup extends RelaySetup {

  NginxGrpcSetup() {
    super("nginx_grpc", "direct gRPC over h2c through nginx grpc_pass (layer 7, a worker per core, h2c upstream "
        + "kept alive)", DirectSetup.h2c());
  }

  @Override
  ExternalProgram startProgram(int port, int backendPort) throws Exception {
    return NginxSetup.start(port, "auto", String.join("\n",
        // Streams of 1 MiB messages: no body size limit (a stream is one request body to nginx).
        "  client_max_body_size 0;",
        // Millions of calls per connection: nginx's default of 1,000 requests per connection (client side and kept-
        // alive upstream side) would end connections mid-workload, as no gRPC deployment would leave it.
        "  keepalive_requests 100000000;",
        "  keepalive_timeout 3600s;",
        "  upstream backend {",
        "    server 127.0.0.1:" + backendPort + ";",
        "    keepalive 32;",
        "    keepalive_requests 100000000;",
        "    keepalive_timeout 3600s;",
        "  }",
        "  server {",
        "    listen 127.0.0.1:" + port + " http2;",
        "    location / {",
        "      grpc_pass grpc://backend;",
        "      grpc_read_timeout 3600s;",
        "      grpc_send_timeout 3600s;",
        "    }",
        "  }"));
  }

  @Override
  ManagedChannel newChannel(Transports transports, int port) {
    return DirectSetup.h2cChannel(transports, port);
  }
}
