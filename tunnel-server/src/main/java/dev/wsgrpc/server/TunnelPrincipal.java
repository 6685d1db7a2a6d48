package dev.wsgrpc.server;

import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/**
 * The principal a {@link TunnelAuthenticator} admitted a tunnel for, as services see it: {@link #current()} inside
 * a call, or the call attribute {@link #ATTRIBUTE} ({@code call.getAttributes()} in an interceptor).
 *
 * <p>Native gRPC calls and gRPC-Web calls get theirs call by call, from {@link #interceptor()}: an interceptor of
 * yours sees them (and their own client address, {@code Grpc.TRANSPORT_ATTR_REMOTE_ADDR}) only when it runs after
 * that one. Add it per service ({@code ServerInterceptors.intercept(service, yours)}): one added to a
 * {@code WebSocketServers} builder with {@code intercept} runs before it (grpc-java runs a builder's interceptors
 * from the last added to the first) and sees, on such calls, the socket's peer and no principal.
 */
public final class TunnelPrincipal {

  /** The transport and call attribute holding the principal. */
  @Grpc.TransportAttr
  public static final Attributes.Key<Object> ATTRIBUTE = Attributes.Key.create("wsgrpc.principal");

  /** The {@link Context} key holding the principal during a call. */
  public static final Context.Key<Object> CONTEXT_KEY = Context.key("wsgrpc.principal");

  /**
   * The principal of the current call's tunnel (or, for a native gRPC call, of the call), or {@code null} (no
   * authenticator).
   */
  public static Object current() {
    return CONTEXT_KEY.get();
  }

  /**
   * The interceptor that makes {@link #current()} work and, on a server with an authenticator and
   * {@link WebSocketServerOptions#nativeGrpc() native gRPC}, authenticates each call of a native connection (which
   * has no upgrade request): the authenticator sees the call's metadata ({@code authorization: Bearer ...}) and TLS
   * session, and a refused call ends {@code UNAUTHENTICATED} or {@code PERMISSION_DENIED} before any service sees
   * it. {@code WebSocketServers} adds it, and only its servers authenticate native calls one by one: a server built
   * from {@link WebSocketServerCredentials} directly authenticates each native connection as a whole, failing closed
   * (see there), and needs {@code builder.intercept(TunnelPrincipal.interceptor())} only for {@link #current()}.
   */
  public static ServerInterceptor interceptor() {
    return Interceptor.INSTANCE;
  }

  private enum Interceptor implements ServerInterceptor {
    INSTANCE;

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
        ServerCallHandler<ReqT, RespT> next) {
      GrpcWebAdmissions grpcWeb = call.getAttributes().get(GrpcWebAdmissions.ATTRIBUTE);
      if (grpcWeb != null) {
        // A gRPC-Web call: the identity its own request was admitted with, not the connection's.
        return grpcWeb.interceptCall(call, headers, next);
      }
      Object principal = call.getAttributes().get(ATTRIBUTE);
      if (principal == null) {
        NativeCallAuthenticator authenticator = call.getAttributes().get(NativeCallAuthenticator.ATTRIBUTE);
        return authenticator != null ? authenticator.interceptCall(call, headers, next)
            : next.startCall(call, headers);
      }
      return Contexts.interceptCall(Context.current().withValue(CONTEXT_KEY, principal), call, headers, next);
    }
  }

  private TunnelPrincipal() {}
}
