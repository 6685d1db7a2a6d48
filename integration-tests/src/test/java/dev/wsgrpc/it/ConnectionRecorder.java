package dev.wsgrpc.it;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.net.SocketAddress;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Records the transport (the peer's address and port, as the server's connection sees it) that carried each call,
 * so a test can assert how many connections its calls used: one tunnel is one connection on the server's side, even
 * behind a proxy, which opens one upstream connection per tunnel.
 */
final class ConnectionRecorder implements ServerInterceptor {

  private final Set<SocketAddress> connections = ConcurrentHashMap.newKeySet();

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
      ServerCallHandler<ReqT, RespT> next) {
    SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    if (remote != null) {
      connections.add(remote);
    }
    return next.startCall(call, headers);
  }

  /** The distinct connections that carried at least one call so far. */
  int connections() {
    return connections.size();
  }
}
