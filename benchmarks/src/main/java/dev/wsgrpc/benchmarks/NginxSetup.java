package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.ExternalProgram;
import io.grpc.ManagedChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The tunnel through nginx (Debian's nginx-full), as a reverse proxy is usually configured for WebSocket: HTTP/1.1
 * to the upstream with {@code Upgrade} and {@code Connection} passed on, and {@code proxy_buffering off}. One worker
 * process, started from a configuration of our own on loopback ports.
 */
final class NginxSetup extends RelaySetup {

  NginxSetup() {
    super("nginx", "the tunnel over ws through nginx (1 worker, HTTP/1.1 upstream, proxy_buffering off)",
        TunnelSetup.ws());
  }

  @Override
  ExternalProgram startProgram(int port, int backendPort) throws Exception {
    return start(port, "1", String.join("\n",
        "  server {",
        "    listen 127.0.0.1:" + port + ";",
        "    location /grpc {",
        "      proxy_pass http://127.0.0.1:" + backendPort + ";",
        "      proxy_http_version 1.1;",
        "      proxy_set_header Upgrade $http_upgrade;",
        "      proxy_set_header Connection \"upgrade\";",
        "      proxy_set_header Host $host;",
        "      proxy_buffering off;",
        "      proxy_read_timeout 3600s;",
        "      proxy_send_timeout 3600s;",
        "    }",
        "  }"));
  }

  /**
   * Starts nginx with {@code workers} worker processes and {@code site} inside its {@code http} block, in a
   * temporary directory of its own, and waits until it listens on {@code port}.
   */
  static ExternalProgram start(int port, String workers, String site) throws Exception {
    String exe = require("nginx", "nginx-full");
    Path dir = Files.createTempDirectory("wsgrpc-bench-nginx");
    String conf = String.join("\n",
        "worker_processes " + workers + ";",
        "daemon off;",
        "pid " + dir.resolve("nginx.pid") + ";",
        "error_log " + dir.resolve("error.log") + " warn;",
        "events { worker_connections 4096; }",
        "http {",
        "  access_log off;",
        "  client_body_temp_path " + dir.resolve("body") + ";",
        "  proxy_temp_path " + dir.resolve("proxy") + ";",
        "  fastcgi_temp_path " + dir.resolve("fastcgi") + ";",
        "  uwsgi_temp_path " + dir.resolve("uwsgi") + ";",
        "  scgi_temp_path " + dir.resolve("scgi") + ";",
        site,
        "}",
        "");
    Path file = dir.resolve("nginx.conf");
    // Running as root, nginx would hand its workers to 'nobody', which cannot use our temporary directory.
    String user = "root".equals(System.getProperty("user.name")) ? "user root;\n" : "";
    Files.write(file, (user + conf).getBytes(StandardCharsets.US_ASCII));
    return listening(ExternalProgram.start("nginx", exe, "-e", dir.resolve("error.log").toString(), "-p",
        dir.toString(), "-c", file.toString()), port);
  }

  @Override
  ManagedChannel newChannel(Transports transports, int port) {
    return TunnelSetup.Client.of("ws://127.0.0.1:" + port + "/grpc", null, true).newChannel(transports);
  }
}
