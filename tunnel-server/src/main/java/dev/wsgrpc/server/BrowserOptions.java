package dev.wsgrpc.server;

import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkDuration;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;

import dev.wsgrpc.core.internal.Http11Tokens;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.cors.CorsConfig;
import io.netty.handler.codec.http.cors.CorsConfigBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Which web pages may call the server's services from a browser, and what they may send and read. Setting these on
 * {@link WebSocketServerOptions.Builder#browser(BrowserOptions)} turns the browser protocols on, on the same port and
 * behind the same authenticator, admission and limits as tunnels:
 *
 * <ul>
 *   <li>gRPC-Web ({@code POST /package.Service/Method}, {@code application/grpc-web[+proto]} and the base64
 *       {@code application/grpc-web-text[+proto]}), unary and server streaming;
 *   <li>gRPC over WebSocket ({@code ws://host/package.Service/Method} with subprotocol {@code grpc-websockets}, one
 *       WebSocket per call), all four kinds;
 *   <li>with {@link Builder#json(JsonSchemas)}, JSON over a plain WebSocket ({@code ws://host/package.Service/Method}
 *       with subprotocol {@code wsgrpc-json}), all four kinds, for clients without protobuf code.
 * </ul>
 *
 * <p>Immutable; build one with {@link #newBuilder(List)}.
 */
public final class BrowserOptions {

  /** Request headers every page may send: the ones gRPC-Web clients send themselves. */
  static final List<String> STANDARD_REQUEST_HEADERS = List.of("content-type", "x-grpc-web", "x-user-agent",
      "grpc-timeout", "grpc-accept-encoding", "grpc-encoding", "authorization");
  /** Response headers every page may read: gRPC's own status headers. */
  static final List<String> STANDARD_EXPOSED_HEADERS = List.of("grpc-status", "grpc-message",
      "grpc-status-details-bin", "grpc-encoding", "grpc-accept-encoding");
  /** How long, in seconds, a browser may cache a CORS preflight answer: {@value}. */
  public static final long DEFAULT_PREFLIGHT_MAX_AGE_SECONDS = 600;
  /** The default {@link Builder#maxJsonMessageBytes}: 4 MiB, gRPC's default message limit. */
  public static final int DEFAULT_MAX_JSON_MESSAGE_BYTES = 4 * 1024 * 1024;
  /** The default {@link Builder#requestBodyTimeout}: 60 s, as nginx's {@code client_body_timeout}. */
  public static final Duration DEFAULT_REQUEST_BODY_TIMEOUT = Duration.ofSeconds(60);
  /** The default {@link Builder#keepAliveTimeout}: 75 s, as nginx's {@code keepalive_timeout}. */
  public static final Duration DEFAULT_KEEP_ALIVE_TIMEOUT = Duration.ofSeconds(75);
  /** The default {@link Builder#sendTimeout}: 60 s, as nginx's {@code send_timeout}. */
  public static final Duration DEFAULT_SEND_TIMEOUT = Duration.ofSeconds(60);

  private final List<String> allowedOrigins;
  private final List<String> allowedHeaders;
  private final List<String> exposedHeaders;
  private final CorsConfig cors;
  private final JsonSchemas json;
  private final int maxJsonMessageBytes;
  private final Duration requestBodyTimeout;
  private final Duration keepAliveTimeout;
  private final Duration sendTimeout;

  private BrowserOptions(Builder b) {
    this.allowedOrigins = Collections.unmodifiableList(new ArrayList<>(b.allowedOrigins));
    this.allowedHeaders = Collections.unmodifiableList(new ArrayList<>(b.allowedHeaders));
    this.exposedHeaders = Collections.unmodifiableList(new ArrayList<>(b.exposedHeaders));
    this.json = b.json;
    this.maxJsonMessageBytes = b.maxJsonMessageBytes;
    this.requestBodyTimeout = b.requestBodyTimeout;
    this.keepAliveTimeout = b.keepAliveTimeout;
    this.sendTimeout = b.sendTimeout;
    CorsConfigBuilder cors = anyOrigin()
        ? CorsConfigBuilder.forAnyOrigin()
        : CorsConfigBuilder.forOrigins(allowedOrigins.toArray(new String[0]));
    this.cors = cors
        .allowedRequestMethods(HttpMethod.POST)
        .allowedRequestHeaders(allRequestHeaders().toArray(new String[0]))
        .exposeHeaders(allExposedHeaders().toArray(new String[0]))
        .maxAge(DEFAULT_PREFLIGHT_MAX_AGE_SECONDS)
        // Not Netty's default Date: CorsHandler answers with combining headers, which quote a value with a comma
        // ("Sat, 05 Dec 2026 ..." in quotes is no HTTP-date). No other answer of the server carries a Date either;
        // CorsHandler sets the Content-Length: 0 itself.
        .noPreflightResponseHeaders()
        .build();
  }

  /**
   * Browser access for pages from {@code origins}, e.g. {@code https://app.example.com} (as browsers send
   * {@code Origin}: no path, not even {@code /}), or {@code *} for any page. An {@code http} or {@code https} origin
   * is kept as browsers send it: scheme and host in lower case, no default port ({@code https://App.example.com:443}
   * is {@code https://app.example.com}); give a host beyond ASCII in punycode, as browsers send it.
   *
   * @throws IllegalArgumentException for an empty list or a value that is not an origin
   */
  public static Builder newBuilder(List<String> origins) {
    return new Builder(origins);
  }

  /** Browser access for pages from {@code origins} with the default headers. */
  public static BrowserOptions forOrigins(String... origins) {
    return newBuilder(Arrays.asList(checkNotNull(origins, "origins"))).build();
  }

  /** A builder that starts from these options. */
  public Builder toBuilder() {
    Builder builder = new Builder(allowedOrigins);
    builder.allowedHeaders = allowedHeaders;
    builder.exposedHeaders = exposedHeaders;
    builder.json = json;
    builder.maxJsonMessageBytes = maxJsonMessageBytes;
    builder.requestBodyTimeout = requestBodyTimeout;
    builder.keepAliveTimeout = keepAliveTimeout;
    builder.sendTimeout = sendTimeout;
    return builder;
  }

  /** The origins allowed, in the form browsers send them ({@link Builder}; {@code *} for any). */
  public List<String> allowedOrigins() {
    return allowedOrigins;
  }

  /** The request headers pages may send beyond gRPC-Web's own, lower case. */
  public List<String> allowedHeaders() {
    return allowedHeaders;
  }

  /** The response headers and trailers pages may read beyond gRPC's own, lower case. */
  public List<String> exposedHeaders() {
    return exposedHeaders;
  }

  /** Where JSON calls find their schemas; null when the JSON protocol is off. */
  public JsonSchemas json() {
    return json;
  }

  /** The largest JSON text and protobuf message of a JSON call, either way, once the call is admitted. */
  public int maxJsonMessageBytes() {
    return maxJsonMessageBytes;
  }

  /** How long a gRPC-Web request's body may stop arriving before the call is cancelled and answered 408. */
  public Duration requestBodyTimeout() {
    return requestBodyTimeout;
  }

  /** How long a kept-alive gRPC-Web connection may carry no request before it is closed. */
  public Duration keepAliveTimeout() {
    return keepAliveTimeout;
  }

  /** How long what is written to a gRPC-Web client may wait without a byte of it leaving before the connection ends. */
  public Duration sendTimeout() {
    return sendTimeout;
  }

  boolean anyOrigin() {
    return allowedOrigins.contains("*");
  }

  /** Whether a request with this {@code Origin} (null when none was sent, as by non-browser clients) may call. */
  boolean allows(String origin) {
    if (origin == null || anyOrigin()) {
      return true;
    }
    String comparable = Origins.comparable(origin);
    return allowedOrigins.stream().anyMatch(comparable::equalsIgnoreCase);
  }

  CorsConfig cors() {
    return cors;
  }

  private Set<String> allRequestHeaders() {
    Set<String> all = new LinkedHashSet<>(STANDARD_REQUEST_HEADERS);
    all.addAll(allowedHeaders);
    return all;
  }

  private Set<String> allExposedHeaders() {
    Set<String> all = new LinkedHashSet<>(STANDARD_EXPOSED_HEADERS);
    all.addAll(exposedHeaders);
    return all;
  }

  @Override
  public String toString() {
    return "BrowserOptions(origins=" + allowedOrigins + ", allowedHeaders=" + allowedHeaders + ", exposedHeaders="
        + exposedHeaders + ", json=" + (json != null) + ", maxJsonMessageBytes=" + maxJsonMessageBytes
        + ", requestBodyTimeout=" + requestBodyTimeout + ", keepAliveTimeout=" + keepAliveTimeout + ", sendTimeout="
        + sendTimeout + ")";
  }

  /** Builds {@link BrowserOptions}; every setter is optional. */
  public static final class Builder {
    private final List<String> allowedOrigins;
    private List<String> allowedHeaders = List.of();
    private List<String> exposedHeaders = List.of();
    private JsonSchemas json;
    private int maxJsonMessageBytes = DEFAULT_MAX_JSON_MESSAGE_BYTES;
    private Duration requestBodyTimeout = DEFAULT_REQUEST_BODY_TIMEOUT;
    private Duration keepAliveTimeout = DEFAULT_KEEP_ALIVE_TIMEOUT;
    private Duration sendTimeout = DEFAULT_SEND_TIMEOUT;

    private Builder(List<String> origins) {
      checkNotNull(origins, "origins");
      checkArgument(!origins.isEmpty(), "origins", origins, "at least one origin, or *");
      for (String origin : origins) {
        checkArgument("*".equals(origin) || Origins.isOrigin(origin), "origins", origin, Origins.EXPECTED + ", or *");
      }
      this.allowedOrigins = new ArrayList<>();
      for (String origin : origins) {
        allowedOrigins.add(Origins.comparable(origin)); // "*" is no origin: kept as it is
      }
    }

    /**
     * Request headers (custom metadata) pages may send, beyond those gRPC-Web clients send themselves
     * ({@code content-type}, {@code x-grpc-web}, {@code x-user-agent}, {@code grpc-timeout}, {@code authorization},
     * ...). Browsers refuse to send any other header across origins. Default: none.
     */
    public Builder allowedHeaders(List<String> headers) {
      this.allowedHeaders = headerNames("allowedHeaders", headers);
      return this;
    }

    /**
     * Response headers and trailers (custom metadata) pages may read, beyond {@code grpc-status},
     * {@code grpc-message} and gRPC's other own headers. Default: none.
     */
    public Builder exposedHeaders(List<String> headers) {
      this.exposedHeaders = headerNames("exposedHeaders", headers);
      return this;
    }

    /**
     * Turns on JSON over a plain WebSocket (subprotocol {@code wsgrpc-json}, docs/BROWSERS.md gives the messages)
     * for the methods {@code schemas} knows, e.g. {@code JsonSchemas.of(List.of(greeter))}. Default: off.
     */
    public Builder json(JsonSchemas schemas) {
      this.json = checkNotNull(schemas, "json");
      return this;
    }

    /**
     * The largest JSON text and protobuf message of a JSON call, either way, once the call is admitted: set it to
     * the server's {@code maxInboundMessageSize} when that is not gRPC's default (the jar passes
     * {@code --max-inbound-message}), which gRPC applies again to the protobuf message. Before the call is admitted
     * its first message is held to {@link WebSocketServerOptions#maxRequestHeaderBytes()} unless the upgrade's own
     * credentials would admit it (docs/SECURITY.md). A request may also hold at most one JSON value for every 16
     * bytes of this limit (a value read into a tree takes some 90 bytes of heap, whatever its text; docs/BROWSERS.md).
     * Default: {@value #DEFAULT_MAX_JSON_MESSAGE_BYTES}.
     */
    public Builder maxJsonMessageBytes(int bytes) {
      checkArgument(bytes > 0, "maxJsonMessageBytes", bytes, "> 0");
      this.maxJsonMessageBytes = bytes;
      return this;
    }

    /**
     * How long a gRPC-Web request's body may go without a byte arriving while the request is unfinished (the clock
     * restarts on every read of the socket, before TLS decrypts it, so a body that arrives slowly but steadily is
     * never cut, even within a TLS record not yet whole; it does not run while the server itself stops reading
     * because gRPC's flow-control window is full). When it runs out, the gRPC call is
     * cancelled (the service sees it cancelled), the client gets 408 Request Timeout saying what was expected (or,
     * once the response has begun, CANCELLED in the trailers) and the connection closes, freeing its slot under the
     * server's tunnel limits. HTTP/1.1 has no ping: without this, a client that vanished mid-body would hold its
     * connection until TCP noticed. The head of each request is timed by {@link
     * dev.wsgrpc.core.TunnelSettings#handshakeTimeout()}. Default: 60 s ({@link #DEFAULT_REQUEST_BODY_TIMEOUT}), as
     * nginx's {@code client_body_timeout}, and no longer than the 60-100 s idle cut of common proxies, so that the
     * client gets the 408 rather than a proxy's own error.
     */
    public Builder requestBodyTimeout(Duration timeout) {
      this.requestBodyTimeout = checkDuration(timeout, "requestBodyTimeout");
      return this;
    }

    /**
     * How long a kept-alive gRPC-Web connection may carry no request: the clock starts when the answer to a request
     * ended and the connection stays open for the next, and stops at the first byte of the next request (whose head
     * the handshake timeout then times, and whose body {@link #requestBodyTimeout}). When it runs out, the server
     * closes the connection (TCP FIN, TLS {@code close_notify} first), freeing its slot under the server's tunnel
     * limits; a request in flight and a response still streaming are never cut, however long they take. Every answer
     * to a call that keeps its connection open says so: {@code Keep-Alive: timeout=75} (whole seconds; none below 1 s,
     * nor on a CORS preflight's answer). HTTP/1.1 has no ping: without this, an
     * idle connection (a browser's, a pooling proxy's) would hold its slot until the client closed it. WebSocket
     * calls, tunnels and native gRPC connections are not concerned: they have pings, and
     * {@code NettyServerBuilder.maxConnectionIdle} for connections without calls (which closes idle gRPC-Web
     * connections too, when it is the shorter). Default: 75 s ({@link #DEFAULT_KEEP_ALIVE_TIMEOUT}), nginx's
     * {@code keepalive_timeout}: longer than the 60 s after which nginx ({@code keepalive_timeout} of an upstream's
     * pool) and common load balancers drop their idle connections to a server, so that a proxy that pools its
     * connections closes an idle one before the server does, rather than send a request on one the server is
     * closing.
     */
    public Builder keepAliveTimeout(Duration timeout) {
      this.keepAliveTimeout = checkDuration(timeout, "keepAliveTimeout");
      return this;
    }

    /**
     * How long what the server has written to a gRPC-Web connection (an answer, a streaming response's messages, its
     * trailers) may wait without a byte of it leaving: a client that stops reading. The clock runs only while bytes
     * wait, and restarts whenever some leave, so a client that reads slowly but steadily is never cut (what is
     * queued is checked five times per timeout, so the cut comes within a fifth of the timeout either side of it). When it runs
     * out, the connection closes at once (gRPC's handler sees it end and cancels the call in flight), freeing its slot
     * under the server's tunnel limits and what waited for it. HTTP/1.1 has no ping, and gRPC's flow control holds the
     * call, not the connection: without this, a client that stopped reading mid-response would hold both for ever.
     * Default: 60 s ({@link #DEFAULT_SEND_TIMEOUT}), as nginx's {@code send_timeout}.
     */
    public Builder sendTimeout(Duration timeout) {
      this.sendTimeout = checkDuration(timeout, "sendTimeout");
      return this;
    }

    /** Returns the options. */
    public BrowserOptions build() {
      return new BrowserOptions(this);
    }

    private static List<String> headerNames(String name, List<String> headers) {
      checkNotNull(headers, name);
      List<String> names = new ArrayList<>();
      for (String header : headers) {
        checkArgument(header != null && Http11Tokens.isToken(header), name, header, "a header name");
        names.add(header.toLowerCase(Locale.ROOT));
      }
      return names;
    }
  }
}
