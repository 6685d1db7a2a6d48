package dev.wsgrpc.it;

import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.ServerInterceptor;

/**
 * One way of reaching a gRPC service through the tunnel (ws, wss, through a proxy, ...). The shared end-to-end suite
 * runs unchanged over every setup.
 */
interface TunnelSetup extends AutoCloseable {

  /** A human-readable name for test reports, e.g. {@code "ws"}. */
  String name();

  /** Starts everything the setup needs, serving {@code service} behind {@code interceptor}. */
  void start(BindableService service, ServerInterceptor interceptor) throws Exception;

  /** A new channel (one tunnel per connection) to the started service. Callers shut it down. */
  ManagedChannel newChannel();

  /** The URL clients dial. */
  String url();

  @Override
  void close() throws Exception;
}
