package dev.wsgrpc.server;

import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.SocketAddress;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Who each gRPC-Web request of one HTTP/1.1 connection was admitted for, handed from the upgrade step to the call.
 *
 * <p>A kept-alive connection may carry requests of different users: a proxy or CDN pools its connections to the
 * origin across its clients, and one browser page may switch users. All of a connection's requests become calls on
 * one internal HTTP/2 connection to gRPC, whose transport attributes are fixed when it opens; so each request is
 * admitted on its own ({@code ServerUpgradeHandler}: its own credentials, its own client address from its own
 * forwarding headers) and its identity travels with its call: the request gets the internal header
 * {@value #HEADER} naming an entry here, and {@link TunnelPrincipal#interceptor()} gives the call that entry's
 * principal ({@link TunnelPrincipal#current()}, {@link TunnelPrincipal#ATTRIBUTE}), client address
 * ({@link Grpc#TRANSPORT_ATTR_REMOTE_ADDR}) and path ({@link WebSocketServers#TUNNEL_PATH}), and removes the header
 * before any service sees it.
 *
 * <p>Safe by construction: the header a client sends itself is removed before the request is admitted
 * ({@link #strip}); an entry is taken at most once; the connection holds only its newest entry (requests follow one
 * another, never overlap), so a call that starts late finds nothing rather than a later request's identity; a call
 * whose entry is missing ends {@code UNAUTHENTICATED} before any service sees it.
 *
 * <p>Used only on servers that apply {@link TunnelPrincipal#interceptor()} to every call ({@code WebSocketServers});
 * elsewhere a connection's requests must all have its first request's identity.
 */
final class GrpcWebAdmissions {

  /** The transport attribute of a gRPC-Web connection whose calls take their identity from here. */
  static final Attributes.Key<GrpcWebAdmissions> ATTRIBUTE = Attributes.Key.create("wsgrpc.grpcWebAdmissions");

  /** How the upgrade step hands the table to {@link GrpcHandoffHandler}. */
  static final io.netty.util.AttributeKey<GrpcWebAdmissions> CHANNEL_ATTRIBUTE =
      io.netty.util.AttributeKey.valueOf(GrpcWebAdmissions.class, "table");

  /** The internal request header naming a call's entry. */
  static final String HEADER = "wsgrpc-admission";

  private static final Metadata.Key<String> KEY = Metadata.Key.of(HEADER, Metadata.ASCII_STRING_MARSHALLER);

  private final ConcurrentHashMap<String, Admitted> entries = new ConcurrentHashMap<>();
  /** Written on the connection's event loop only. */
  private long next;

  /** One request's identity: the principal its credentials named (null without authenticator) and its client. */
  private static final class Admitted {
    final Object principal;
    final SocketAddress client;

    Admitted(Object principal, SocketAddress client) {
      this.principal = principal;
      this.client = client;
    }
  }

  /** Removes the internal header from a request as the client sent it: only the server sets it. */
  static void strip(HttpHeaders headers) {
    headers.remove(HEADER);
  }

  /**
   * Records the identity an admitted request was admitted with and marks the request with its entry, replacing any
   * earlier entry of the connection. Called on the event loop, before the request becomes a call.
   */
  void admit(HttpHeaders request, Object principal, SocketAddress client) {
    String id = Long.toString(++next);
    entries.clear();
    entries.put(id, new Admitted(principal, client));
    request.set(HEADER, id);
  }

  /** Gives the call the identity its request was admitted with, or ends it {@code UNAUTHENTICATED}. */
  <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
      ServerCallHandler<ReqT, RespT> next) {
    // Read before discarding: getAll is a view of the headers.
    Iterable<String> ids = headers.getAll(KEY);
    String id = null;
    int count = 0;
    if (ids != null) {
      for (String value : ids) {
        id = value;
        count++;
      }
    }
    headers.discardAll(KEY);
    Admitted admitted = count == 1 ? entries.remove(id) : null;
    if (admitted == null) {
      call.close(Status.UNAUTHENTICATED.withDescription("expected a gRPC-Web call admitted on this connection but "
          + (count == 0 ? "it carried no admission" : count > 1 ? "it carried " + count + " admissions"
              : "its admission was no longer current")), new Metadata());
      return new ServerCall.Listener<ReqT>() {};
    }
    // Without the table: an interceptor of the same kind inside this one (an application may add its own) treats
    // the call as admitted, not as a gRPC-Web call whose admission it has yet to find.
    Attributes.Builder attributes = call.getAttributes().toBuilder()
        .discard(ATTRIBUTE)
        .set(Grpc.TRANSPORT_ATTR_REMOTE_ADDR, admitted.client)
        // The connection's attribute holds its first request's path; each request is a call of its own method.
        .set(WebSocketServers.TUNNEL_PATH, "/" + call.getMethodDescriptor().getFullMethodName());
    if (admitted.principal != null) {
      attributes.set(TunnelPrincipal.ATTRIBUTE, admitted.principal);
    } else {
      attributes.discard(TunnelPrincipal.ATTRIBUTE);
    }
    Attributes withIdentity = attributes.build();
    ServerCall<ReqT, RespT> admittedCall = new ForwardingServerCall.SimpleForwardingServerCall<ReqT, RespT>(call) {
      @Override
      public Attributes getAttributes() {
        return withIdentity;
      }
    };
    if (admitted.principal == null) {
      return next.startCall(admittedCall, headers);
    }
    return Contexts.interceptCall(Context.current().withValue(TunnelPrincipal.CONTEXT_KEY, admitted.principal),
        admittedCall, headers, next);
  }
}
