package dev.wsgrpc.gateway.proxy;

import io.grpc.Channel;
import io.grpc.HandlerRegistry;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;

/**
 * The forwarding core: a fallback {@link HandlerRegistry} that answers every method by forwarding the call, as
 * opaque bytes, to an upstream {@link Channel}: one, or the one of the calling event loop ({@link UpstreamChannels}).
 * Headers and trailers cross both ways, the caller's remaining time becomes the upstream's deadline, cancellation
 * crosses from either side, and status codes and descriptions arrive unchanged; flow control is end to end (see
 * {@code ForwardedCall}).
 *
 * <p>Any front end that turns into grpc-java server calls uses it the same way: the tunnel, native h2c and h2, and
 * later browser protocols all end in {@code ServerBuilder.fallbackHandlerRegistry(registry)}, so every call of
 * every front end goes through this one place to the upstream channels (with their name resolution, balancing and
 * health checking). Every call tells the upstream who called ({@link CallerMetadata}); that runs inside the
 * server's interceptors, so the client address and principal they establish (trusted proxies, per-call
 * authentication of native calls) are what the upstream learns. Serve it with {@code directExecutor()} and give
 * the upstream channel none of its own: the forwarding never blocks, and each call's work runs on the event loops of
 * its two connections (one and the same loop with {@link UpstreamChannels}), one task at a time per call, with no
 * thread pool in between (a hop to a pool and back per callback cost more CPU per call than the rest of the
 * forwarding).
 */
public final class ForwardingRegistry extends HandlerRegistry {

  private final CallerMetadata caller;
  private final ServerCallHandler<byte[], byte[]> forward;

  /** Forwards to {@code upstream}, which is not owned: the caller shuts it down after the server. */
  public ForwardingRegistry(Channel upstream) {
    this.caller = new CallerMetadata(false);
    UpstreamGzip gzip = new UpstreamGzip();
    this.forward = (call, headers) -> ForwardedCall.start(call, headers, upstream, gzip);
  }

  /**
   * Forwards each call over the channel of the event loop that starts it (its caller's connection's loop, with
   * {@code directExecutor()}), so that the call stays on one thread; see {@link UpstreamChannels}. The channels are
   * not owned: the caller shuts them down after the server.
   *
   * @param dropGatewayToken whether the server authenticates calls with bearer tokens of its own, which calls
   *     authenticated one by one (native gRPC, browser protocols) carry in {@code authorization}: that header is then
   *     removed before the call goes upstream (see {@link CallerMetadata})
   */
  public ForwardingRegistry(UpstreamChannels upstreams, boolean dropGatewayToken) {
    this.caller = new CallerMetadata(dropGatewayToken);
    this.forward = upstreams::forward;
  }

  @Override
  public ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
    // A definition per call: method names come from callers, so nothing is cached by name.
    return ServerMethodDefinition.create(OpaqueBytes.method(methodName),
        (call, headers) -> caller.interceptCall(call, headers, forward));
  }
}
