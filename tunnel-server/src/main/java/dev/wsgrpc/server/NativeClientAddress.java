package dev.wsgrpc.server;

import io.grpc.Attributes;
import io.grpc.ForwardingServerCall;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Gives a native gRPC call (h2c or TLS h2, no tunnel) from a trusted proxy the client address its forwarding header
 * names, as tunnels get it from their upgrade request: a proxy such as nginx {@code grpc_pass} or HAProxy in HTTP/2
 * mode appends the client to the call's own headers. The same {@link TrustedProxies} rules read the same one header
 * ({@code X-Forwarded-For} or {@code Forwarded}); from anyone else it is ignored. Services then see the client in
 * {@link Grpc#TRANSPORT_ATTR_REMOTE_ADDR} of {@code call.getAttributes()}, and so does the authenticator as
 * {@link UpgradeRequest#clientAddress()} (its {@link UpgradeRequest#peerAddress()} stays the socket's peer, which
 * {@link NativeCallAuthenticator} has from the connection). Calls in tunnels and browser protocols
 * keep the address their upgrade established (a header inside a tunnel is never read).
 *
 * <p>The connection was admitted ({@link TunnelAdmission}) for its peer, the proxy; a call naming another client is
 * admitted for that client before the authenticator or a service sees it, as a tunnel's upgrade and each gRPC-Web
 * request of a pooled connection are (path {@code null}, as for a native connection). A refusal ends the call with
 * the refusal's reason ({@code PERMISSION_DENIED} for a 403), reported to the {@link TunnelListener} as
 * {@link RejectReason#REJECTED}; the connection's other calls go on. A 503 refusal (a drain, a lack of capacity)
 * concerns connections and is not applied to a call: the connection's GOAWAY tells its calls of a drain.
 */
final class NativeClientAddress implements ServerInterceptor {

  private final TrustedProxies proxies;
  private final TunnelAdmission admission;
  private final TunnelListener listener;
  private final Metadata.Key<String> header;

  NativeClientAddress(AccessPolicy access, TunnelListener listener) {
    this.proxies = access.trustedProxies();
    this.admission = access.admission();
    this.listener = listener;
    this.header = Metadata.Key.of(proxies.header().headerName().toLowerCase(Locale.ROOT),
        Metadata.ASCII_STRING_MARSHALLER);
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
      ServerCallHandler<ReqT, RespT> next) {
    Attributes attributes = call.getAttributes();
    if (attributes.get(WebSocketServers.TUNNEL_PATH) != null) {
      return next.startCall(call, headers);
    }
    SocketAddress peer = attributes.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    List<String> lines = new ArrayList<>();
    Iterable<String> values = headers.getAll(header);
    if (values != null) {
      values.forEach(lines::add);
    }
    SocketAddress client = proxies.clientAddress(peer, lines);
    if (client == peer) {
      return next.startCall(call, headers);
    }
    TunnelAdmission.Refusal refusal = admission.admit(client, null);
    // A 503 (a drain, a lack of capacity) is about connections: this one's calls learn of a drain from its GOAWAY,
    // and one that the proxy sends before it has read the GOAWAY is served, as on any draining connection.
    if (refusal != null && refusal.status() != HttpResponseStatus.SERVICE_UNAVAILABLE.code()) {
      call.close(BrowserCalls.statusForHttp(refusal.status(), refusal.reason()), new Metadata());
      listener.upgradeRejected(client, refusal.status(), RejectReason.REJECTED);
      return new ServerCall.Listener<ReqT>() {};
    }
    Attributes withClient = attributes.toBuilder().set(Grpc.TRANSPORT_ATTR_REMOTE_ADDR, client).build();
    return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<ReqT, RespT>(call) {
      @Override
      public Attributes getAttributes() {
        return withClient;
      }
    }, headers);
  }
}
