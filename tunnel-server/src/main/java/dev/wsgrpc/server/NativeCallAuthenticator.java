package dev.wsgrpc.server;

import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.Grpc;
import io.grpc.InternalMetadata;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.net.SocketAddress;
import java.util.Collections;

/**
 * Authenticates each call of a native gRPC connection (h2c, or TLS with ALPN h2) with the server's
 * {@link TunnelAuthenticator}, since such a connection has no upgrade request to authenticate: the authenticator
 * sees an {@link UpgradeRequest} built from the call, its path {@code /package.Service/Method}, its metadata as
 * headers ({@code authorization: Bearer ...}), the client's address (the call's
 * {@link Grpc#TRANSPORT_ATTR_REMOTE_ADDR}: from a trusted proxy, the client its header names, {@link
 * NativeClientAddress}), the socket's peer (the connection's, whatever interceptors did to the call's attributes) and
 * the TLS session (client certificates).
 *
 * <p>A refusal ends the call before any service sees it: 401 as {@code UNAUTHENTICATED} (with the challenge in a
 * {@code www-authenticate} trailer), 403 as {@code PERMISSION_DENIED}, mapped as every refusal is
 * ({@code BrowserCalls.statusForHttp}); the description says what was expected and what the call carried, never a
 * credential. It is reported to the {@link TunnelListener} as a tunnel's refusal is. An accepted call has its
 * principal as a tunnel's calls do: {@link TunnelPrincipal#current()} and the call attribute
 * {@link TunnelPrincipal#ATTRIBUTE}. A call whose metadata holds {@code authorization} (or {@code origin}) more than
 * once is refused before the authenticator is asked, as a request with two such headers is (400, so
 * {@code INTERNAL} "expected at most one Authorization header but was 2"): the authenticator would check one value
 * and a service reading the metadata see another.
 *
 * <p>{@link GrpcHandoffHandler} puts one on each native connection of a server with an authenticator
 * ({@link #ATTRIBUTE}); {@link TunnelPrincipal#interceptor()} applies it.
 */
final class NativeCallAuthenticator {

  /** The transport attribute of a native connection whose calls must be authenticated. */
  static final Attributes.Key<NativeCallAuthenticator> ATTRIBUTE =
      Attributes.Key.create("wsgrpc.nativeCallAuthenticator");

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> WWW_AUTHENTICATE =
      Metadata.Key.of("www-authenticate", Metadata.ASCII_STRING_MARSHALLER);

  private final TunnelAuthenticator authenticator;
  private final TunnelListener listener;
  private final SocketAddress peer;
  /** The connection's slot of the tunnel limits, taken at its first accepted call; null if it holds one already. */
  private final NativeConnectionSlot slot;

  /**
   * For the calls of one native connection, whose socket's peer is {@code peer}; {@code slot}, if not null, is taken
   * at the first accepted call.
   */
  NativeCallAuthenticator(TunnelAuthenticator authenticator, TunnelListener listener, SocketAddress peer,
      NativeConnectionSlot slot) {
    this.authenticator = authenticator;
    this.listener = listener;
    this.peer = peer;
    this.slot = slot;
  }

  <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
      ServerCallHandler<ReqT, RespT> next) {
    Attributes attributes = call.getAttributes();
    SocketAddress client = attributes.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    HttpHeaders shown = asHeaders(headers);
    String repeated = ServerUpgradeHandler.repeatedCredentialRefusal(shown);
    if (repeated != null) {
      // As a request with two Authorization headers is refused: the authenticator would check the first, a service
      // reading the metadata would see the last.
      call.close(BrowserCalls.statusForHttp(HttpResponseStatus.BAD_REQUEST.code(), repeated), new Metadata());
      listener.upgradeRejected(client, HttpResponseStatus.BAD_REQUEST.code(), RejectReason.BAD_REQUEST);
      return new ServerCall.Listener<ReqT>() {};
    }
    // Made before the decision: an authenticator that revokes (BearerTokens) keeps it to end it later.
    RevocableCall<ReqT, RespT> revocable = new RevocableCall<>(call, Context.current());
    AuthDecision decision;
    try {
      decision = AuthDecision.ask(authenticator, new UpgradeRequest(
          "/" + call.getMethodDescriptor().getFullMethodName(), null, shown, client, peer,
          attributes.get(Grpc.TRANSPORT_ATTR_SSL_SESSION), Collections.emptyList(), null, revocable));
    } catch (Error e) {
      revocable.abandoned(); // whoever kept it (an authenticator that failed after another admitted) forgets it
      throw e;
    }
    if (!decision.accepted()) {
      Metadata trailers = new Metadata();
      if (decision.challenge() != null) {
        trailers.put(WWW_AUTHENTICATE, decision.challenge());
      }
      Status status = BrowserCalls.statusForHttp(decision.status(),
          decision.reason() + " (the call carried " + presented(headers) + ")");
      revocable.close(status, trailers); // first: the call ends (and is forgotten) whatever a listener does
      listener.upgradeRejected(client, decision.status(),
          decision.rejectReason());
      return new ServerCall.Listener<ReqT>() {};
    }
    Status unadmitted = slot == null ? null : slot.admitAcceptedCall();
    if (unadmitted != null) {
      revocable.close(unadmitted, new Metadata()); // the limits reached, or the connection's time for a first call
      return new ServerCall.Listener<ReqT>() {};
    }
    return revocable.start(decision.principal(), headers, next);
  }

  /**
   * The call's text metadata as HTTP headers; binary ({@code -bin}) entries are left out. Read from the wire form, not
   * through {@code Metadata.Key}s: a caller may send names a key refuses (HTTP/2 allows {@code !} or {@code ~} in a
   * name, gRPC's keys only {@code [a-z0-9-_.]}), and authentication must not fail on them.
   */
  private static HttpHeaders asHeaders(Metadata metadata) {
    HttpHeaders headers = new DefaultHttpHeaders(false);
    byte[][] wire = InternalMetadata.serialize(metadata); // names and values, one after the other
    for (int i = 0; i < wire.length; i += 2) {
      String name = new String(wire[i], StandardCharsets.US_ASCII);
      if (!name.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
        headers.add(name, new String(wire[i + 1], StandardCharsets.US_ASCII));
      }
    }
    return headers;
  }

  /** What credentials the call carried, without any secret: {@code no 'authorization' metadata}, ... */
  static String presented(Metadata headers) {
    String authorization = headers.get(AUTHORIZATION);
    if (authorization == null) {
      return "no 'authorization' metadata";
    }
    int space = authorization.indexOf(' ');
    if (space < 0) {
      return "'authorization' metadata without a scheme, not shown"; // it may be a bare secret
    }
    String scheme = authorization.substring(0, space);
    if (scheme.equalsIgnoreCase("Bearer")) {
      return "'authorization: Bearer' with a token that is not shown";
    }
    return scheme.length() <= 16 && dev.wsgrpc.core.internal.Http11Tokens.isToken(scheme)
        ? "'authorization' metadata of scheme '" + scheme + "'"
        : "'authorization' metadata of an unknown scheme";
  }
}
