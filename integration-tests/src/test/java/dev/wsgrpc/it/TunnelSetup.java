package dev.wsgrpc.it;

import io.grpc.ManagedChannel;
import io.grpc.ServerServiceDefinition;

/**
 * One way of reaching a gRPC service through the tunnel (ws, wss, through a proxy, ...). The shared end-to-end suite
 * runs unchanged over every setup.
 */
interface TunnelSetup extends AutoCloseable {

  /** A human-readable name for test reports, e.g. {@code "ws"}. */
  String name();

  /** Starts everything the setup needs, serving {@code services}. */
  void start(ServerServiceDefinition... services) throws Exception;

  /** A new channel (one tunnel per connection) to the started service. Callers shut it down. */
  ManagedChannel newChannel();

  /** The URL clients dial. */
  String url();

  @Override
  void close() throws Exception;
}
