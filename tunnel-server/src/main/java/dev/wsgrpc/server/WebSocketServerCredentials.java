package dev.wsgrpc.server;

import io.grpc.ServerCredentials;
import io.grpc.netty.InternalNettyServerCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link ServerCredentials} whose connections arrive as WebSocket upgrades, for
 * {@code Grpc.newServerBuilderForPort(port, WebSocketServerCredentials.create(options))} or
 * {@code NettyServerBuilder.forPort(port, ...)}. Most code wants {@link WebSocketServers} instead, which also sets
 * the server's handshake timeout, HTTP/2 limits and keepalive from the options, and authenticates each native gRPC
 * call.
 *
 * <p><b>Permit the clients' keepalive pings.</b> Tunnel clients send gRPC keepalive pings every 30 s, also without
 * calls, so that proxies and CDNs do not cut quiet tunnels. A grpc-java server permits one ping per 5 minutes, and
 * none without calls, unless told otherwise, and ends such a tunnel with GOAWAY {@code too_many_pings}. On a builder
 * made with these credentials, set {@code .permitKeepAliveTime(5, TimeUnit.SECONDS).permitKeepAliveWithoutCalls(true)}
 * as {@link WebSocketServers} does.
 *
 * <p><b>Native gRPC with an authenticator fails closed here.</b> A server built from these credentials may lack
 * {@link TunnelPrincipal#interceptor()}, which authenticates each call of a native gRPC connection from its metadata,
 * so such connections are not trusted to it: with an {@linkplain AccessPolicy.Builder#authenticator authenticator}
 * and {@linkplain WebSocketServerOptions.Builder#nativeGrpc native gRPC} on, each native connection is authenticated
 * as a whole at its HTTP/2 preface, from what the connection alone shows (the TLS session with its client
 * certificate, the client address; no headers). {@link TunnelAuthenticator#CLIENT_CERTIFICATE} admits it then; an
 * authenticator that needs headers ({@link BearerTokens}) refuses it: its first call ends {@code UNAUTHENTICATED}
 * (or {@code PERMISSION_DENIED}) with the authenticator's reason, then GOAWAY, and no service sees it. Tunnels and
 * browser calls are unaffected (their upgrade or request is authenticated). To accept native calls with bearer
 * tokens, build the server with {@link WebSocketServers#newServerBuilder(int, WebSocketServerOptions)}.
 * {@link #create} logs a WARN saying so when the options have both.
 *
 * <p><b>Browser calls over the message limit end {@code 1 CANCELLED} here once their response has begun.</b> A
 * browser request message over the server's {@code maxInboundMessageSize} that arrives after the response headers
 * (a streaming call whose service answered an earlier message) is refused by gRPC with RST_STREAM CANCEL alone; its
 * reason reaches the browser only through a stream tracer on the server builder, which credentials cannot add. On a
 * builder made with these credentials that call reads {@code 1 CANCELLED the call was cancelled by the server};
 * {@link WebSocketServers} adds the tracer, and the call ends {@code 8 RESOURCE_EXHAUSTED} with the limit
 * (docs/BROWSERS.md).
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
public final class WebSocketServerCredentials {

  private static final Logger logger = LoggerFactory.getLogger(WebSocketServerCredentials.class);

  /** Credentials that accept tunnels as {@code options} describe; native gRPC fails closed as described above. */
  public static ServerCredentials create(WebSocketServerOptions options) {
    if (options.nativeGrpc() && options.access().authenticator() != null) {
      logger.warn("WebSocketServerCredentials with an authenticator ({}) and native gRPC: native gRPC connections "
          + "are authenticated as a whole from the connection alone (TLS client certificate, address) and refused "
          + "when that is not enough (bearer tokens), because these credentials cannot check each native call. "
          + "To authenticate native calls from their metadata, build the server with "
          + "WebSocketServers.newServerBuilder(...); or turn native gRPC off (nativeGrpc(false))",
          options.access().authenticator());
    }
    return InternalNettyServerCredentials.create(new WebSocketServerNegotiator(options, false));
  }

  /**
   * Credentials for a server that applies {@link TunnelPrincipal#interceptor()} to every call
   * ({@link WebSocketServers} does), so that native gRPC calls are authenticated one by one.
   */
  static ServerCredentials createChecked(WebSocketServerOptions options) {
    return InternalNettyServerCredentials.create(new WebSocketServerNegotiator(options, true));
  }

  private WebSocketServerCredentials() {}
}
