package dev.wsgrpc.examples.auth;

import dev.wsgrpc.examples.auth.proto.IdentityGrpc;
import dev.wsgrpc.examples.auth.proto.WhoAmIReply;
import dev.wsgrpc.examples.auth.proto.WhoAmIRequest;
import dev.wsgrpc.server.TunnelPrincipal;
import io.grpc.stub.StreamObserver;

/** Answers who the caller is, as the two checks established it. */
final class IdentityService extends IdentityGrpc.IdentityImplBase {

  @Override
  public void whoAmI(WhoAmIRequest request, StreamObserver<WhoAmIReply> responses) {
    responses.onNext(WhoAmIReply.newBuilder()
        // Set by the server's TunnelAuthenticator when the tunnel opened; the same for every call in the tunnel.
        .setTunnelPrincipal(String.valueOf(TunnelPrincipal.current()))
        // Set by ApiKeyInterceptor for this call only.
        .setApiClient(ApiKeyInterceptor.API_CLIENT.get())
        .build());
    responses.onCompleted();
  }
}
