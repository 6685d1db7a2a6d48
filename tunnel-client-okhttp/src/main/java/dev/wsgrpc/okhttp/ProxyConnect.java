package dev.wsgrpc.okhttp;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import okhttp3.Credentials;

/**
 * The HTTP {@code CONNECT} exchange with a proxy, on a socket already connected to it: the same request the Netty
 * client's {@code HttpProxyHandler} sends, and its failures in the Netty client's words. Used for ws and wss alike;
 * OkHttp then speaks TLS (wss) and the upgrade through the tunnel as if the socket were connected to the server.
 *
 * <pre>
 * CONNECT edge.example.com:443 HTTP/1.1
 * Host: edge.example.com:443
 * Proxy-Authorization: Basic YWxpY2U6czNjcmV0      (when the proxy has credentials: sent at once, as Netty does)
 *
 * HTTP/1.1 200 Connection established             (any 2xx: the tunnel is open; nothing follows the head)
 * </pre>
 *
 * <p>The answer's head is read one byte at a time, so that not a byte of what the server sends later is taken,
 * and at most {@value #MAX_HEAD} bytes of it, each read within the handshake timeout. Every failure is a {@link
 * Refused} whose message is the final description, e.g. {@code "HTTP proxy 127.0.0.1:3128 (from HTTP_PROXY)
 * answered CONNECT edge.example.com:80 with 407 Proxy Authentication Required (Server: tinyproxy/1.11.1): the proxy
 * credentials were refused"}.
 */
final class ProxyConnect {

  /** Most bytes of the proxy's answer head read before giving up: {@value}. */
  static final int MAX_HEAD = 8192;

  private static final Charset LATIN_1 = StandardCharsets.ISO_8859_1;
  private static final Charset UTF_8 = StandardCharsets.UTF_8;

  /** The CONNECT failed; the message says how, naming the proxy and the target. */
  static final class Refused extends IOException {
    Refused(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private ProxyConnect() {}

  /**
   * Asks the proxy that {@code socket} is connected to for a tunnel to {@code target} ({@code host:port}, IPv6
   * literals bracketed) and reads its answer; returns when the tunnel is open.
   */
  static void open(Socket socket, String target, ProxyChooser.Choice proxy, int timeoutMillis) throws IOException {
    String named = proxy.describe();
    StringBuilder request = new StringBuilder()
        .append("CONNECT ").append(target).append(" HTTP/1.1\r\n")
        .append("Host: ").append(target).append("\r\n");
    if (proxy.username != null) {
      // UTF-8, as Netty's HttpProxyHandler encodes them.
      request.append("Proxy-Authorization: ")
          .append(Credentials.basic(proxy.username, proxy.password == null ? "" : proxy.password, UTF_8))
          .append("\r\n");
    }
    request.append("\r\n");
    int savedTimeout = socket.getSoTimeout();
    socket.setSoTimeout(timeoutMillis);
    String head;
    try {
      OutputStream out = socket.getOutputStream();
      out.write(request.toString().getBytes(UTF_8));
      out.flush();
      head = readHead(socket.getInputStream(), named, target);
    } catch (SocketTimeoutException e) {
      throw new Refused(named + " did not answer CONNECT " + target + " within " + timeoutMillis + " ms", e);
    } catch (Refused e) {
      throw e;
    } catch (IOException e) {
      throw new Refused(named + " failed CONNECT " + target + ": "
          + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()), e);
    }
    socket.setSoTimeout(savedTimeout);
    String problem = problemWith(head, named, target, proxy.username != null);
    if (problem != null) {
      throw new Refused(problem, null);
    }
  }

  /** The answer's head up to the empty line, without it. */
  private static String readHead(InputStream in, String named, String target) throws IOException {
    byte[] head = new byte[MAX_HEAD];
    int n = 0;
    while (true) {
      int b = in.read();
      if (b < 0) {
        throw new Refused(named + " closed the connection before answering CONNECT " + target
            + (n == 0 ? "" : " (after " + n + " bytes of its answer: " + printable(head, n) + ")"), null);
      }
      if (n == MAX_HEAD) {
        throw new Refused(named + " answered CONNECT " + target + " with a head of more than " + MAX_HEAD
            + " bytes (expected: a status line and headers ending in an empty line); it began "
            + printable(head, n), null);
      }
      head[n++] = (byte) b;
      if (n >= 4 && head[n - 4] == '\r' && head[n - 3] == '\n' && head[n - 2] == '\r' && head[n - 1] == '\n') {
        return new String(head, 0, n - 4, LATIN_1);
      }
      if (n >= 2 && head[n - 2] == '\n' && head[n - 1] == '\n') {
        return new String(head, 0, n - 2, LATIN_1); // Bare LF line ends, which lenient readers (Netty's) accept.
      }
    }
  }

  /** What is wrong with the answer {@code head}, or null when the proxy opened the tunnel. */
  static String problemWith(String head, String named, String target, boolean hadCredentials) {
    String[] lines = head.split("\r?\n");
    String status = lines[0].trim();
    // "HTTP/1.1 407 Proxy Authentication Required"
    if (!status.matches("HTTP/1\\.[01] [0-9]{3}( .*)?")) {
      return named + " answered CONNECT " + target + " with '" + printable(status) + "' (expected: an HTTP/1.1 "
          + "status line such as 'HTTP/1.1 200 Connection established')";
    }
    int code = Integer.parseInt(status.substring(9, 12));
    if (code >= 200 && code < 300) {
      return null;
    }
    String server = "";
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon > 0 && lines[i].substring(0, colon).trim().equalsIgnoreCase("Server")) {
        server = " (Server: " + printable(lines[i].substring(colon + 1).trim()) + ")";
        break;
      }
    }
    String hint = "";
    // 407 asks for credentials; some proxies (tinyproxy) answer wrong ones with 401.
    if (code == 407 || code == 401) {
      hint = hadCredentials ? ": the proxy credentials were refused" : ": the proxy wants credentials and none were given";
    } else if (code == 403) {
      hint = ": the proxy does not allow CONNECT to this host or port";
    }
    return named + " answered CONNECT " + target + " with " + printable(status.substring(9).trim()) + server + hint;
  }

  private static String printable(byte[] bytes, int n) {
    return "'" + printable(new String(bytes, 0, n, LATIN_1)) + "'";
  }

  /** At most 80 characters ({@link Checks#printable}). */
  private static String printable(String s) {
    return Checks.printable(s, 80);
  }
}
