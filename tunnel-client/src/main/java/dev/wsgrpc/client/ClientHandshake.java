package dev.wsgrpc.client;

import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.UrlRedaction;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The client's half of the RFC 6455 opening handshake, as bytes on the wire: the upgrade request and the checks of
 * the answer, used by {@link ClientUpgradeHandler}, which channels and the command-line tool's
 * {@link InternalWebSocketClient.Dialer} both run: one request, one wording for a bad answer.
 */
final class ClientHandshake {

  /** A {@code Location} is quoted up to this many characters; other values the server sent up to 64. */
  private static final int MAX_QUOTED_LONG = 200;

  /**
   * The upgrade request for {@code options} with the nonce {@code key}: {@code Host}, the WebSocket headers, the
   * offered subprotocols, {@code Origin}, {@code User-Agent: userAgent}, then the options' headers and those of
   * their supplier, which may replace the {@code User-Agent}.
   *
   * @throws IllegalArgumentException when the supplier returns a header the options would refuse
   */
  static FullHttpRequest newRequest(WebSocketClientOptions options, String key, String userAgent) {
    FullHttpRequest request = new DefaultFullHttpRequest(
        HttpVersion.HTTP_1_1, HttpMethod.GET, options.requestTarget(), Unpooled.EMPTY_BUFFER);
    HttpHeaders h = request.headers();
    h.set(HttpHeaderNames.HOST, options.hostHeader());
    h.set(HttpHeaderNames.UPGRADE, "websocket");
    h.set(HttpHeaderNames.CONNECTION, "Upgrade");
    h.set(HttpHeaderNames.SEC_WEBSOCKET_KEY, key);
    h.set(HttpHeaderNames.SEC_WEBSOCKET_VERSION, "13");
    if (!options.subprotocols().isEmpty()) {
      h.set(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL, String.join(", ", options.subprotocols()));
    }
    if (options.origin() != null) {
      h.set(HttpHeaderNames.ORIGIN, options.origin());
    }
    h.set(HttpHeaderNames.USER_AGENT, userAgent);
    for (Map.Entry<String, String> e : options.headers().entrySet()) {
      h.set(e.getKey(), e.getValue());
    }
    if (options.headersSupplier() != null) {
      Map<String, String> supplied = options.headersSupplier().get();
      if (supplied != null) {
        for (Map.Entry<String, String> e : supplied.entrySet()) {
          WebSocketClientOptions.checkSuppliedHeader(e.getKey(), e.getValue());
          h.set(e.getKey(), e.getValue());
        }
      }
    }
    return request;
  }

  /**
   * Returns what is wrong with the answer to the request sent with {@code key}, or null when it accepts the
   * upgrade. The text names the URL (query redacted), the answering {@code Server} and a redirect's
   * {@code Location} (redacted as the URL is), e.g. {@code "expected HTTP 101 but was 403 Forbidden from
   * wss://host/grpc (Server: nginx)"}. What the server sent is quoted as {@link Http11Tokens#printable} shows it
   * (at most 64 characters, a {@code Location} 200, anything but printable ASCII as {@code ?}): a reason phrase
   * or header value may carry terminal escapes, and a header may be kilobytes long.
   */
  static String check(WebSocketClientOptions options, String key, HttpResponse response) {
    String from = " from " + options.safeUrl() + serverSuffix(response.headers());
    if (response.decoderResult().isFailure()) {
      // Netty's reason quotes the server's bytes ("invalid version format: ..."): made printable as the rest.
      return "expected an HTTP/1.1 response to the upgrade but the answer was malformed" + from + ": "
          + Http11Tokens.printable(String.valueOf(response.decoderResult().cause().getMessage()));
    }
    HttpHeaders h = response.headers();
    if (response.status().code() != HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
      return "expected HTTP 101 but was " + shownStatus(response) + from + hint(response);
    }
    if (!"websocket".equalsIgnoreCase(h.get(HttpHeaderNames.UPGRADE))) {
      return "expected 'Upgrade: websocket' in the 101 but was " + quoted(h.get(HttpHeaderNames.UPGRADE)) + from;
    }
    if (!Http11Tokens.containsToken(h.getAll(HttpHeaderNames.CONNECTION), "upgrade")) {
      return "expected 'Connection: Upgrade' in the 101 but was " + quoted(h.get(HttpHeaderNames.CONNECTION)) + from;
    }
    String expectedAccept = Http11Tokens.acceptFor(key);
    String accept = h.get(HttpHeaderNames.SEC_WEBSOCKET_ACCEPT);
    if (!expectedAccept.equals(accept)) {
      return "expected Sec-WebSocket-Accept '" + expectedAccept + "' but was " + quoted(accept) + from;
    }
    String extensions = h.get(HttpHeaderNames.SEC_WEBSOCKET_EXTENSIONS);
    if (extensions != null) {
      return "expected no WebSocket extensions but the server chose " + quoted(extensions) + from;
    }
    List<String> chosen = Http11Tokens.elements(h.getAll(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL));
    if (chosen.size() > 1 || (chosen.size() == 1 && !options.subprotocols().contains(chosen.get(0)))) {
      // A bearer.<token> offer is a credential, and a server may echo it.
      List<String> shown = new ArrayList<>();
      for (String c : chosen) {
        shown.add(Http11Tokens.printable(c));
      }
      return "expected a subprotocol among " + options.shownSubprotocols() + " but the server chose "
          + WebSocketClientOptions.shownSubprotocols(shown) + from;
    }
    return null;
  }

  /** The subprotocol an accepted answer chose, or null for none. */
  static String subprotocol(HttpResponse accepted) {
    List<String> chosen = Http11Tokens.elements(accepted.headers().getAll(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL));
    return chosen.isEmpty() ? null : chosen.get(0);
  }

  /** The answer's status as messages quote it: {@code "403 Forbidden"}, the reason phrase made printable. */
  static String shownStatus(HttpResponse response) {
    return response.status().code() + " " + Http11Tokens.printable(response.status().reasonPhrase());
  }

  /** The answer's {@code Server} as messages quote it, or null when there is none. */
  static String shownServer(HttpHeaders headers) {
    String server = headers.get(HttpHeaderNames.SERVER);
    return server == null ? null : Http11Tokens.printable(server);
  }

  private static String quoted(String value) {
    return value == null ? "missing" : "'" + Http11Tokens.printable(value) + "'";
  }

  private static String serverSuffix(HttpHeaders headers) {
    String server = shownServer(headers);
    return server == null ? "" : " (Server: " + server + ")";
  }

  /** Says which hop most likely broke the upgrade, when the answer makes that plain. */
  private static String hint(HttpResponse response) {
    int code = response.status().code();
    HttpHeaders h = response.headers();
    if (code >= 200 && code < 300 && !h.contains(HttpHeaderNames.UPGRADE)) {
      return ": a proxy on the path did not pass the Upgrade and Connection headers, or the URL is not a "
          + "WebSocket endpoint";
    }
    if (code == 426 && h.contains(HttpHeaderNames.SEC_WEBSOCKET_VERSION)) {
      return ": the server speaks WebSocket version "
          + Http11Tokens.printable(h.get(HttpHeaderNames.SEC_WEBSOCKET_VERSION));
    }
    if (code >= 300 && code < 400 && h.contains(HttpHeaderNames.LOCATION)) {
      // The Location may repeat the request's query (nginx's "return 301 https://$host$request_uri"), and a token
      // with it: it is shown as the dialed URL is.
      return ": redirected to " + Http11Tokens.printable(UrlRedaction.redact(h.get(HttpHeaderNames.LOCATION)),
          MAX_QUOTED_LONG);
    }
    return "";
  }

  private ClientHandshake() {}
}
