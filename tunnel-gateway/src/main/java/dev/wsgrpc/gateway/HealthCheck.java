package dev.wsgrpc.gateway;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import picocli.CommandLine;

/**
 * {@code java -cp tunnel-server.jar dev.wsgrpc.gateway.HealthCheck [gateway options]}: the container image's
 * health check. It asks the gateway in the same container for {@code GET /healthz} and exits 0 on 200, 1 on anything
 * else (503 while draining, refused, no answer within 5 s). With {@code --health-file} (the image sets
 * {@code TUNNEL_HEALTH_FILE}) it dials the URL the gateway wrote there once it listened ({@link HealthFile}), so that
 * options given to the gateway on the command line count too; without, it reads the port and TLS the way the gateway
 * does: the same options, the same {@code TUNNEL_*} variables, the same defaults, and with {@code --admin-port} it
 * asks the admin listener instead (plain HTTP). It dials {@code --bind} (or {@code --admin-address}), or 127.0.0.1
 * for a wildcard address. Over TLS it accepts the certificate it is shown: it only ever dials the gateway beside it.
 */
public final class HealthCheck {

  private static final int TIMEOUT_MILLIS = 5000;

  public static void main(String[] args) {
    String status = status(args);
    boolean healthy = status.startsWith("HTTP/1.1 200");
    System.out.println((healthy ? "healthy: " : "unhealthy: ") + status);
    System.exit(healthy ? 0 : 1);
  }

  /** The status line of the gateway's {@code /healthz}, or why there is none. */
  static String status(String[] args) {
    TunnelServerMain gateway = new TunnelServerMain();
    new CommandLine(gateway).setDefaultValueProvider(new EnvironmentDefaults()).parseArgs(args);
    try {
      URI url;
      if (gateway.healthFile != null) {
        url = HealthFile.read(gateway.healthFile.toPath());
      } else if (gateway.adminPort != null) {
        url = HealthFile.url(gateway.adminAddress, gateway.adminPort, false);
      } else {
        url = HealthFile.url(gateway.bind, gateway.port, gateway.tlsCert != null);
      }
      return statusLine(url.getHost(), url.getPort(), "https".equals(url.getScheme()));
    } catch (IOException | RuntimeException e) {
      return e.toString();
    }
  }

  /** The status line of {@code GET /healthz} on {@code host}:{@code port}. */
  static String statusLine(String host, int port, boolean tls) throws IOException {
    try (Socket socket = tls ? trustingTls() : new Socket()) {
      // A URL's IPv6 host comes in brackets, which a socket address does not take.
      String address = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
      socket.connect(new InetSocketAddress(address, port), TIMEOUT_MILLIS);
      socket.setSoTimeout(TIMEOUT_MILLIS);
      OutputStream out = socket.getOutputStream();
      String authority = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
      out.write(("GET /healthz HTTP/1.1\r\nHost: " + authority + ":" + port + "\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      StringBuilder line = new StringBuilder();
      for (int b = in.read(); b != -1 && b != '\n' && line.length() < 200; b = in.read()) {
        line.append((char) b);
      }
      return line.toString().trim();
    }
  }

  private static Socket trustingTls() throws IOException {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, new TrustManager[] {new X509TrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public X509Certificate[] getAcceptedIssuers() {
          return new X509Certificate[0];
        }
      }}, new SecureRandom());
      SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket();
      return socket;
    } catch (java.security.GeneralSecurityException e) {
      throw new IOException("cannot set up TLS: " + e.getMessage(), e);
    }
  }

  private HealthCheck() {}
}
