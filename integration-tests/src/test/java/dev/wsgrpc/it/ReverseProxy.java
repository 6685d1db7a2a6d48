package dev.wsgrpc.it;

import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.TestCertificates;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;

/**
 * A real nginx or HAProxy on a loopback port, started by a test with its own configuration in a temporary
 * directory. The tunnel configurations come from {@code src/test/resources/proxies/}, the files
 * {@code docs/DEPLOYMENT.md} quotes; tests may also pass any nginx {@code server} block of their own.
 */
final class ReverseProxy implements AutoCloseable {

  enum Kind {
    NGINX("nginx", "nginx-full"),
    HAPROXY("haproxy", "haproxy");

    final String program;
    final String debianPackage;

    Kind(String program, String debianPackage) {
      this.program = program;
      this.debianPackage = debianPackage;
    }

    /** The program's path; skips the calling test when it is not installed. */
    String require() {
      String path = ExternalProgram.which(program);
      if (path == null) {
        for (String dir : new String[] {"/usr/sbin", "/usr/local/sbin", "/sbin"}) {
          File f = new File(dir, program);
          if (f.canExecute()) {
            path = f.getAbsolutePath();
            break;
          }
        }
      }
      Assumptions.assumeTrue(path != null, program + " is not installed (apt-get install " + debianPackage
          + "); .ci/run installs it. Skipping.");
      return path;
    }
  }

  private final Kind kind;
  private final Path dir;
  private final int port;
  private final List<String> command;
  private ExternalProgram program;

  private ReverseProxy(Kind kind, Path dir, int port, List<String> command) {
    this.kind = kind;
    this.dir = dir;
    this.port = port;
    this.command = command;
  }

  /**
   * nginx in front of the tunnel server at {@code 127.0.0.1:upstreamPort}, configured from
   * {@code proxies/nginx-tunnel.conf}: TLS terminated here when {@code certs} is given.
   */
  static ReverseProxy nginxTunnel(int upstreamPort, TestCertificates certs, String idleTimeout) throws IOException {
    return nginxTunnel(upstreamPort, certs, idleTimeout, "localhost", "");
  }

  /**
   * Like {@link #nginxTunnel(int, TestCertificates, String)} for virtual host {@code serverName}, with
   * {@code extraSite} added to the configuration ({@code ${PORT}} in it is the listening port).
   */
  static ReverseProxy nginxTunnel(int upstreamPort, TestCertificates certs, String idleTimeout, String serverName,
      String extraSite) throws IOException {
    int port = ExternalProgram.freePort();
    Map<String, String> values = new LinkedHashMap<>();
    values.put("LISTEN", "127.0.0.1:" + port + (certs != null ? " ssl" : ""));
    values.put("TLS", certs == null ? "" : "ssl_certificate " + certs.serverCertPem() + ";\n"
        + "    ssl_certificate_key " + certs.serverKeyPem() + ";\n    ssl_protocols TLSv1.2 TLSv1.3;");
    values.put("SERVER_NAME", serverName);
    values.put("UPSTREAM", "127.0.0.1:" + upstreamPort);
    values.put("IDLE_TIMEOUT", idleTimeout);
    return nginx(port, template("proxies/nginx-tunnel.conf", values) + extraSite.replace("${PORT}",
        String.valueOf(port)));
  }

  /**
   * nginx passing native gRPC calls ({@code grpc_pass}) to the server at {@code 127.0.0.1:upstreamPort}, configured
   * from {@code proxies/nginx-native-grpc.conf}: with {@code certs}, TLS (ALPN h2) at nginx and TLS to the server
   * (verified against the certificates' CA, name {@code localhost}); without, h2c on both hops. {@code extraSite} is
   * added to the configuration.
   */
  static ReverseProxy nginxNativeGrpc(int upstreamPort, TestCertificates certs, String extraSite) throws IOException {
    int port = ExternalProgram.freePort();
    Map<String, String> values = new LinkedHashMap<>();
    values.put("LISTEN", "127.0.0.1:" + port + (certs != null ? " ssl" : "") + " http2");
    values.put("TLS", certs == null ? "" : "ssl_certificate " + certs.serverCertPem() + ";\n"
        + "    ssl_certificate_key " + certs.serverKeyPem() + ";\n    ssl_protocols TLSv1.2 TLSv1.3;");
    values.put("UPSTREAM", "127.0.0.1:" + upstreamPort);
    values.put("UPSTREAM_SCHEME", certs == null ? "grpc" : "grpcs");
    values.put("UPSTREAM_TLS", certs == null ? "" : "grpc_ssl_trusted_certificate " + certs.caPem() + ";\n"
        + "        grpc_ssl_verify on;\n        grpc_ssl_name localhost;");
    return nginx(port, template("proxies/nginx-native-grpc.conf", values) + extraSite);
  }

  /** HAProxy in front of the tunnel server, from {@code proxies/haproxy-tunnel.cfg}; TLS here when certs given. */
  static ReverseProxy haproxyTunnel(int upstreamPort, TestCertificates certs, String idleTimeout) throws IOException {
    return haproxyTunnel("127.0.0.1:" + upstreamPort, certs, idleTimeout);
  }

  /**
   * Like {@link #haproxyTunnel(int, TestCertificates, String)} with the backend's {@code server} line ending in
   * {@code upstream}: an address, optionally followed by server options such as {@code source 127.0.0.2}.
   */
  static ReverseProxy haproxyTunnel(String upstream, TestCertificates certs, String idleTimeout) throws IOException {
    String exe = Kind.HAPROXY.require();
    int port = ExternalProgram.freePort();
    Map<String, String> values = new LinkedHashMap<>();
    values.put("BIND", "127.0.0.1:" + port
        + (certs != null ? " ssl crt " + certs.serverBundlePem() + " alpn http/1.1" : ""));
    values.put("UPSTREAM", upstream);
    values.put("IDLE_TIMEOUT", idleTimeout);
    Path dir = workDir("haproxy");
    Path cfg = dir.resolve("haproxy.cfg");
    write(cfg, template("proxies/haproxy-tunnel.cfg", values));
    return new ReverseProxy(Kind.HAPROXY, dir, port, Arrays.asList(exe, "-db", "-f", cfg.toString()));
  }

  /** HAProxy with the configuration {@code resource} from the test resources, its placeholders filled in. */
  static ReverseProxy haproxy(int port, String resource, Map<String, String> values) throws IOException {
    String exe = Kind.HAPROXY.require();
    Path dir = workDir("haproxy");
    Path cfg = dir.resolve("haproxy.cfg");
    write(cfg, template(resource, values));
    return new ReverseProxy(Kind.HAPROXY, dir, port, Arrays.asList(exe, "-db", "-f", cfg.toString()));
  }

  /**
   * nginx with {@code site} (one or more {@code server} blocks, {@code map}s, {@code upstream}s) inside its
   * {@code http} block; the blocks must listen on {@code 127.0.0.1:port}.
   */
  static ReverseProxy nginx(int port, String site) throws IOException {
    String exe = Kind.NGINX.require();
    Path dir = workDir("nginx");
    write(dir.resolve("site.conf"), site);
    String main = "daemon off;\n"
        + "worker_processes 1;\n"
        + "pid " + dir.resolve("nginx.pid") + ";\n"
        + "error_log " + dir.resolve("error.log") + " info;\n"
        + "events { worker_connections 1024; }\n"
        + "http {\n"
        + "    access_log off;\n"
        + "    client_body_temp_path " + dir.resolve("body") + ";\n"
        + "    proxy_temp_path " + dir.resolve("proxy") + ";\n"
        + "    fastcgi_temp_path " + dir.resolve("fastcgi") + ";\n"
        + "    uwsgi_temp_path " + dir.resolve("uwsgi") + ";\n"
        + "    scgi_temp_path " + dir.resolve("scgi") + ";\n"
        + "    include " + dir.resolve("site.conf") + ";\n"
        + "}\n";
    write(dir.resolve("nginx.conf"), main);
    return new ReverseProxy(Kind.NGINX, dir, port, Arrays.asList(exe, "-p", dir.toString(), "-e",
        dir.resolve("error.log").toString(), "-c", dir.resolve("nginx.conf").toString()));
  }

  /** Starts the program and waits until it accepts connections. */
  ReverseProxy start() throws IOException, InterruptedException {
    program = ExternalProgram.start(kind.program, command).awaitListening(port, Duration.ofSeconds(30));
    return this;
  }

  /** Stops the program (SIGTERM: both close their connections at once), as a crash or restart would. */
  void stop() throws InterruptedException {
    if (program != null) {
      program.close();
      program = null;
    }
  }

  /** Stops and starts again on the same port with the same configuration. */
  void restart() throws IOException, InterruptedException {
    stop();
    start();
  }

  int port() {
    return port;
  }

  Kind kind() {
    return kind;
  }

  /** What the program printed, plus nginx's error log: for failure messages. */
  String output() {
    StringBuilder out = new StringBuilder(program != null ? program.output() : "");
    Path errorLog = dir.resolve("error.log");
    if (Files.exists(errorLog)) {
      try {
        out.append(new String(Files.readAllBytes(errorLog), StandardCharsets.UTF_8));
      } catch (IOException e) {
        out.append("(cannot read ").append(errorLog).append(")");
      }
    }
    return out.toString();
  }

  @Override
  public void close() throws InterruptedException {
    stop();
  }

  /** A resource with each {@code ${NAME}} replaced by its value. */
  static String template(String resource, Map<String, String> values) {
    String text;
    try (InputStream in = ReverseProxy.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("no resource " + resource);
      }
      text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    for (Map.Entry<String, String> e : values.entrySet()) {
      text = text.replace("${" + e.getKey() + "}", e.getValue());
    }
    return text;
  }

  private static Path workDir(String name) throws IOException {
    Path dir = Files.createTempDirectory("wsgrpc-" + name);
    // nginx workers may run as another user: let them in.
    dir.toFile().setReadable(true, false);
    dir.toFile().setExecutable(true, false);
    dir.toFile().deleteOnExit();
    return dir;
  }

  private static void write(Path file, String text) throws IOException {
    Files.write(file, text.getBytes(StandardCharsets.UTF_8));
    file.toFile().deleteOnExit();
  }
}
