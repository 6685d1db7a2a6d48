package dev.wsgrpc.server;

import io.grpc.Attributes;
import io.grpc.Grpc;
import io.grpc.netty.NettyServerBuilder;
import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * Entry points for gRPC servers reached through WebSocket.
 *
 * <pre>{@code
 * Server server = WebSocketServers.newServerBuilder(8080)
 *     .addService(new GreeterImpl())
 *     .build()
 *     .start();   // clients dial ws://host:8080/grpc
 * }</pre>
 *
 * <p>Each accepted connection answers the upgrade on the configured path and then hands the unwrapped bytes to
 * grpc-java's HTTP/2 server handler in the same pipeline, so services run in-process as on any Netty server.
 *
 * <p>The builders authenticate each call of a native gRPC connection when the options have both an authenticator
 * and {@link WebSocketServerOptions#nativeGrpc()} ({@link TunnelPrincipal#interceptor()}), and send HTTP/2 PINGs
 * every {@link dev.wsgrpc.core.TunnelSettings#pingInterval()} (closing a connection whose answer takes longer than
 * the {@link dev.wsgrpc.core.TunnelSettings#pingTimeout()}), which keep native connections alive as WebSocket
 * pings keep tunnels.
 *
 * <p>The builders permit clients' gRPC keepalive PINGs every {@value #PERMIT_KEEPALIVE_TIME_SECONDS} s, also
 * without calls ({@code permitKeepAliveTime}, {@code permitKeepAliveWithoutCalls}), so that clients behind proxies
 * with short idle timeouts never get GOAWAY {@code too_many_pings}. They apply the options'
 * {@linkplain WebSocketServerOptions#http2Limits() HTTP/2 limits} (by default 1000 concurrent calls per connection
 * and at most 200 stream resets per 10 s), which grpc-java leaves off unless asked. With browser protocols on, they
 * add a stream tracer through which a browser call that gRPC resets for a request message over its
 * {@code maxInboundMessageSize} (once the response has begun) ends {@code 8 RESOURCE_EXHAUSTED} with the limit, not
 * {@code 1 CANCELLED}. A compressed request message that decompresses past that limit ends {@code 2 UNKNOWN
 * Application error processing RPC} on every way in: grpc-java finds its size only while the service's marshaller
 * reads it, and chooses that status itself (docs/SECURITY.md).
 *
 * <p><b>Logging.</b> grpc-java's Netty server logs a WARNING with a stack trace for each HTTP/2 stream whose headers
 * it rejects, before any interceptor runs, and for each call whose message cannot be read, so any peer could fill the
 * log. The first server made here (with {@link WebSocketServers} or {@link WebSocketServerCredentials}) puts a filter
 * on the grpc-java loggers concerned ({@code io.grpc.netty.NettyServerHandler},
 * {@code io.grpc.netty.NettyServerTransport.connections}, {@code io.grpc.netty.NettyServerStream}, and
 * {@code io.grpc.internal.SerializingExecutor} for records of a message the peer sent that could not be read) that
 * turns their records at INFO and above into rate-limited one-line INFO records of {@code <logger>.limited}; it is
 * process-wide, as those loggers are (docs/SECURITY.md).
 */
public final class WebSocketServers {

  /**
   * Transport and call attribute of a connection that arrived as a WebSocket tunnel: the upgrade's path. Absent on
   * native gRPC connections (h2c, or TLS with ALPN h2) served on the same port. With TLS,
   * {@link Grpc#TRANSPORT_ATTR_SSL_SESSION} is set too (wss).
   */
  @Grpc.TransportAttr
  public static final Attributes.Key<String> TUNNEL_PATH = Attributes.Key.create("wsgrpc.tunnelPath");

  /**
   * Transport and call attribute of a connection that a browser protocol opened: {@code grpc-web},
   * {@code grpc-websockets} or {@code json-ws} (JSON over WebSocket). Absent on tunnels and native gRPC; where it is
   * set, {@link #TUNNEL_PATH} holds the call's path. A gRPC-Web connection carries one request after another: there
   * each call gets its own request's path from {@link TunnelPrincipal#interceptor()} (the servers built here apply
   * it), and the connection's attribute holds its first request's.
   */
  @Grpc.TransportAttr
  public static final Attributes.Key<String> BROWSER_PROTOCOL = Attributes.Key.create("wsgrpc.browserProtocol");

  /** A server builder listening on {@code port} with default options (ws on {@code /grpc}). */
  public static NettyServerBuilder newServerBuilder(int port) {
    return newServerBuilder(port, WebSocketServerOptions.DEFAULT);
  }

  /** A server builder listening on {@code port} with {@code options}. */
  public static NettyServerBuilder newServerBuilder(int port, WebSocketServerOptions options) {
    return configure(NettyServerBuilder.forPort(port, WebSocketServerCredentials.createChecked(options)), options);
  }

  /** A server builder listening on {@code address} with {@code options}. */
  public static NettyServerBuilder newServerBuilder(SocketAddress address, WebSocketServerOptions options) {
    return configure(NettyServerBuilder.forAddress(address, WebSocketServerCredentials.createChecked(options)), options);
  }

  /**
   * The shortest interval between a client's gRPC keepalive PINGs that servers from here accept: half the 10 s
   * minimum grpc-java clients can set, so that no client's keepalive, early by some jitter, earns a GOAWAY
   * {@code too_many_pings}.
   */
  static final long PERMIT_KEEPALIVE_TIME_SECONDS = 5;

  private static NettyServerBuilder configure(NettyServerBuilder builder, WebSocketServerOptions options) {
    // Services read the authenticated principal with TunnelPrincipal.current().
    builder.intercept(TunnelPrincipal.interceptor());
    if (options.browser() != null) {
      // A browser call that gRPC resets for a request message over its limit is told so (Http2ClientBridge.REFUSALS);
      // without browser protocols no call needs it, and tunnels' and native calls go without a tracer of ours.
      builder.addStreamTracerFactory(Http2ClientBridge.REFUSALS);
    }
    if (options.nativeGrpc() && !options.access().trustedProxies().isEmpty()) {
      // Native calls from a trusted proxy name their client in their own headers, as tunnels do in the upgrade;
      // each such call is admitted for its client.
      builder.intercept(new NativeClientAddress(options.access(), options.listener()));
    }
    // grpc-java limits neither concurrent calls nor stream resets unless asked: safe defaults from the options.
    Http2Limits limits = options.http2Limits();
    builder.maxConcurrentCallsPerConnection(limits.maxConcurrentCalls());
    if (limits.maxRstFrames() > 0) {
      builder.maxRstFramesPerWindow(limits.maxRstFrames(), (int) limits.rstWindow().getSeconds());
    }
    // The negotiation's own HandshakeBackstop replaces grpc's handshake deadline, which counts from a moment the
    // upgrade step cannot see and so could close a connection before the step's answer (GOAWAY or 408 with why).
    return builder.handshakeTimeout(Long.MAX_VALUE, TimeUnit.MILLISECONDS)
        // Clients keep tunnels alive through proxies with gRPC keepalive (WebSocketChannels: every 30 s, also
        // without calls); grpc's defaults (one PING per 5 min, none without calls) would answer GOAWAY.
        .permitKeepAliveTime(PERMIT_KEEPALIVE_TIME_SECONDS, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        .keepAliveTime(keepAliveMillis(options), TimeUnit.MILLISECONDS)
        .keepAliveTimeout(options.settings().pingTimeout().toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * The server's HTTP/2 PING interval: the tunnels' WebSocket ping interval, so that native gRPC connections, which
   * have no WebSocket pings, are kept alive and checked as tunnels are; never with pings off.
   */
  private static long keepAliveMillis(WebSocketServerOptions options) {
    long millis = options.settings().pingInterval().toMillis();
    return millis == 0 ? Long.MAX_VALUE : millis;
  }

  private WebSocketServers() {}
}
