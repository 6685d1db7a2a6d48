package dev.wsgrpc.okhttp;

import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.ProtocolException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import okhttp3.Response;
import okio.Buffer;
import okio.BufferedSource;
import okio.ByteString;

/**
 * The client's checks of the answer to the upgrade request and the words for every way opening a tunnel fails:
 * the same texts as the Netty client's, e.g. {@code "expected HTTP 101 but was 403 Forbidden from
 * wss://host/grpc (Server: nginx)"}. OkHttp checks the status, {@code Upgrade}, {@code Connection} and
 * {@code Sec-WebSocket-Accept} itself; this class says what it found in wsgrpc's words, and adds the checks OkHttp
 * leaves to the application (no extension chosen, a subprotocol that was offered).
 */
final class UpgradeAnswer {

  private static final String ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  private static final int MAX_QUOTED_BODY = 200;
  /** How long a refusal's plain-text body may take to arrive: what came by then is quoted. */
  static final long BODY_WAIT_MILLIS = 1000;
  /** The most characters of a header value or reason phrase quoted, as the Netty client quotes them. */
  private static final int MAX_VALUE = 64;

  /** What is wrong with an answer OkHttp accepted, or null when the tunnel may open. */
  static String problemWithAccepted(OkHttpWebSocketOptions options, Response response) {
    String from = from(options, response);
    String extensions = response.header("Sec-WebSocket-Extensions");
    if (extensions != null) {
      return "expected no WebSocket extensions but the server chose '" + Checks.printable(extensions, MAX_VALUE) + "'"
          + from;
    }
    List<String> chosen = elements(response.headers("Sec-WebSocket-Protocol"));
    if (chosen.size() > 1 || (chosen.size() == 1 && !options.subprotocols().contains(chosen.get(0)))) {
      // A server may echo the bearer token's subprotocol (a credential), alone or with others.
      List<String> shown = new ArrayList<String>(chosen.size());
      for (String name : chosen) {
        shown.add(name.regionMatches(true, 0, OkHttpWebSocketOptions.BEARER_SUBPROTOCOL_PREFIX, 0,
            OkHttpWebSocketOptions.BEARER_SUBPROTOCOL_PREFIX.length())
            ? name.substring(0, OkHttpWebSocketOptions.BEARER_SUBPROTOCOL_PREFIX.length()) + "<redacted>"
            : Checks.printable(name, MAX_VALUE));
      }
      return "expected a subprotocol among " + options.subprotocols() + " but the server chose " + shown + from;
    }
    return null;
  }

  /** What is wrong with an answer OkHttp refused ({@code okHttpReason} is its own text). */
  static String problemWithRefused(OkHttpWebSocketOptions options, Response response, String okHttpReason) {
    String from = from(options, response);
    if (response.code() != 101) {
      String status = response.code() + (response.message().isEmpty() ? ""
          : " " + Checks.printable(response.message(), MAX_VALUE));
      return "expected HTTP 101 but was " + status + from + hint(response) + quotedBody(response);
    }
    String upgrade = response.header("Upgrade");
    if (!"websocket".equalsIgnoreCase(upgrade)) {
      return "expected 'Upgrade: websocket' in the 101 but was " + quoted(upgrade) + from;
    }
    String connection = response.header("Connection");
    if (!"upgrade".equalsIgnoreCase(connection)) {
      return "expected 'Connection: Upgrade' in the 101 but was " + quoted(connection) + from;
    }
    String key = response.request().header("Sec-WebSocket-Key");
    String accept = response.header("Sec-WebSocket-Accept");
    String expected = key == null ? null : acceptFor(key);
    if (expected != null && !expected.equals(accept)) {
      return "expected Sec-WebSocket-Accept '" + expected + "' but was " + quoted(accept) + from;
    }
    return "WebSocket upgrade refused" + from + ": " + okHttpReason;
  }

  /**
   * What went wrong before any answer arrived: TLS, TCP, the proxy, or the connection closing early. {@code proxy}
   * is the proxy this connect went through, or null.
   */
  static String problemBeforeAnswer(OkHttpWebSocketOptions options, Throwable t, ProxyChooser.Choice proxy,
      String dialed) {
    String url = options.safeUrl();
    String reason = t.getMessage() == null ? t.getClass().getSimpleName() : firstLine(t.getMessage());
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof ProxyConnect.Refused) {
        return c.getMessage(); // It names the proxy, the target and what the proxy did.
      }
    }
    String viaProxy = proxy == null ? null : proxy.describe();
    if (t instanceof SSLException) {
      String pins = t.getMessage() == null ? null : pinningFailure(t.getMessage());
      return "TLS handshake with " + url + " failed: " + (pins != null ? pins : reason);
    }
    if (t instanceof ConnectException || t instanceof NoRouteToHostException || t instanceof UnknownHostException) {
      String cause = t.getCause() != null && t.getCause().getMessage() != null ? t.getCause().getMessage() + ": "
          : "";
      return "cannot connect to " + (viaProxy != null ? viaProxy + " for " + url : url + dialed) + ": " + cause
          + reason;
    }
    if (t instanceof EOFException || (t instanceof IOException && reason.startsWith("unexpected end of stream"))) {
      return "connection to " + url + " closed before the WebSocket upgrade completed";
    }
    if (t instanceof SocketTimeoutException) {
      return "WebSocket handshake with " + url + " timed out after " + options.settings().handshakeTimeoutMillis()
          + " ms while waiting for the answer to the upgrade request";
    }
    if (t instanceof ProtocolException && reason.startsWith("expected ")) {
      return "WebSocket handshake with " + url + " failed: " + reason; // Worded here (InboundFrameLimit).
    }
    return "WebSocket handshake with " + url + " failed: " + t;
  }

  static String acceptFor(String key) {
    try {
      byte[] sha1 = MessageDigest.getInstance("SHA-1").digest((key + ACCEPT_GUID).getBytes("US-ASCII"));
      return ByteString.of(sha1).base64();
    } catch (NoSuchAlgorithmException | IOException e) {
      throw new AssertionError(e);
    }
  }

  private static String from(OkHttpWebSocketOptions options, Response response) {
    String server = response.header("Server");
    return " from " + options.safeUrl() + (server == null ? "" : " (Server: " + Checks.printable(server, MAX_VALUE)
        + ")");
  }

  private static String hint(Response response) {
    int code = response.code();
    if (code >= 200 && code < 300 && response.header("Upgrade") == null) {
      return ": a proxy on the path did not pass the Upgrade and Connection headers, or the URL is not a "
          + "WebSocket endpoint";
    }
    if (code == 426 && response.header("Sec-WebSocket-Version") != null) {
      return ": the server speaks WebSocket version "
          + Checks.printable(response.header("Sec-WebSocket-Version"), MAX_VALUE);
    }
    if (code >= 300 && code < 400 && response.header("Location") != null) {
      // The Location may repeat the request's query (nginx's "return 301 https://$host$request_uri"), and a token
      // with it: it is shown as the dialed URL is.
      return ": redirected to " + Checks.printable(Checks.redactUrl(response.header("Location")), MAX_QUOTED_BODY);
    }
    return "";
  }

  /**
   * {@code "; it said: \"...\""} with the first line of a plain-text body, or empty. Reads at most 200 bytes, and
   * waits for them at most {@link #BODY_WAIT_MILLIS}: a body that stalls (a {@code Content-Length} the server does not
   * keep to, a stream of text) is quoted as far as it came, where the wait held OkHttp's thread until the handshake
   * timeout, which the refusal was then reported as.
   */
  private static String quotedBody(Response response) {
    String type = response.header("Content-Type");
    if (type == null || !type.toLowerCase(Locale.ROOT).startsWith("text/plain") || response.body() == null) {
      return "";
    }
    try {
      BufferedSource source = response.body().source();
      // A deadline for the whole body, not a limit per read: a server dribbling a byte at a time keeps each read short.
      source.timeout().deadline(BODY_WAIT_MILLIS, TimeUnit.MILLISECONDS);
      byte[] bytes;
      try {
        bytes = response.peekBody(MAX_QUOTED_BODY).bytes();
      } catch (IOException cut) {
        // Stalled past the deadline, or closed before its Content-Length: what arrived is quoted.
        Buffer arrived = source.getBuffer();
        bytes = arrived.clone().readByteArray(Math.min(arrived.size(), MAX_QUOTED_BODY));
      }
      StringBuilder line = new StringBuilder();
      for (byte b : bytes) {
        char c = (char) (b & 0xff);
        if (c == '\n' || c == '\r') {
          if (line.length() > 0) {
            break;
          }
          continue;
        }
        line.append(c >= 0x20 && c < 0x7f ? c : '?');
      }
      String said = line.toString().trim();
      return said.isEmpty() ? "" : "; it said: \"" + said + "\"";
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }

  private static List<String> elements(List<String> values) {
    List<String> out = new ArrayList<String>();
    for (String v : values) {
      for (String part : v.split(",")) {
        String t = part.trim();
        if (!t.isEmpty()) {
          out.add(t);
        }
      }
    }
    return out;
  }

  private static String quoted(String value) {
    return value == null ? "missing" : "'" + Checks.printable(value, MAX_VALUE) + "'";
  }

  /**
   * OkHttp's several-line text for a pin mismatch on one line, or null when {@code message} is not one:
   * {@code "certificate pinning failure: expected one of sha256/AAA= but the server's chain had sha256/BBB=,
   * sha256/CCC="}. OkHttp lists the chain as {@code "    sha256/BBB=: CN=..."} under {@code "Peer certificate
   * chain:"} and the pins under {@code "Pinned certificates for host:"}.
   */
  static String pinningFailure(String message) {
    if (!message.startsWith("Certificate pinning failure!")) {
      return null;
    }
    List<String> chain = new ArrayList<String>();
    List<String> pinned = new ArrayList<String>();
    List<String> into = null;
    for (String raw : message.split("\n")) {
      String line = raw.trim();
      if (line.startsWith("Peer certificate chain:")) {
        into = chain;
      } else if (line.startsWith("Pinned certificates for ")) {
        into = pinned;
      } else if (into != null && !line.isEmpty()) {
        int end = line.indexOf(": ");
        into.add(end < 0 ? line : line.substring(0, end));
      }
    }
    if (pinned.isEmpty() && chain.isEmpty()) {
      return null;
    }
    return "certificate pinning failure: expected one of " + join(pinned) + " but the server's chain had "
        + join(chain);
  }

  private static String join(List<String> items) {
    if (items.isEmpty()) {
      return "none";
    }
    StringBuilder b = new StringBuilder();
    for (String item : items) {
      b.append(b.length() == 0 ? "" : ", ").append(item);
    }
    return b.toString();
  }

  private static String firstLine(String s) {
    int nl = s.indexOf('\n');
    return (nl < 0 ? s : s.substring(0, nl)).trim();
  }

  private UpgradeAnswer() {}
}
