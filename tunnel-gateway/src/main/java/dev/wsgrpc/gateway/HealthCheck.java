package dev.wsgrpc.gateway;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
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
 * health check. It asks the gateway in the same container for {@code GET /healthz} on loopback and exits 0 on 200,
 * 1 on anything else (503 while draining, refused, no answer within 5 s). It reads the port and TLS the way the
 * gateway does: the same options, the same {@code TUNNEL_*} variables, the same defaults. Over TLS it accepts the
 * certificate it is shown: it only ever dials 127.0.0.1 inside the container. With {@code --admin-port} it asks the
 * admin listener instead (plain HTTP, on {@code --admin-address}, or 127.0.0.1 when that is a wildcard address).
 */
public final class HealthCheck {

  private static final int TIMEOUT_MILLIS = 5000;

  public static void main(String[] args) {
    TunnelServerMain gateway = new TunnelServerMain();
    new CommandLine(gateway).setDefaultValueProvider(new EnvironmentDefaults()).parseArgs(args);
    String status;
    try {
      if (gateway.adminPort != null) {
        InetAddress admin = InetAddress.getByName(gateway.adminAddress);
        String host = admin.isAnyLocalAddress() ? "127.0.0.1" : admin.getHostAddress();
        status = statusLine(host, gateway.adminPort, false);
      } else {
        status = statusLine("127.0.0.1", gateway.port, gateway.tlsCert != null);
      }
    } catch (IOException | RuntimeException e) {
      status = e.toString();
    }
    boolean healthy = status.startsWith("HTTP/1.1 200");
    System.out.println((healthy ? "healthy: " : "unhealthy: ") + status);
    System.exit(healthy ? 0 : 1);
  }

  /** The status line of {@code GET /healthz} on {@code host}:{@code port}. */
  static String statusLine(String host, int port, boolean tls) throws IOException {
    try (Socket socket = tls ? trustingTls() : new Socket()) {
      socket.connect(new InetSocketAddress(host, port), TIMEOUT_MILLIS);
      socket.setSoTimeout(TIMEOUT_MILLIS);
      OutputStream out = socket.getOutputStream();
      String authority = host.contains(":") ? "[" + host + "]" : host;
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
