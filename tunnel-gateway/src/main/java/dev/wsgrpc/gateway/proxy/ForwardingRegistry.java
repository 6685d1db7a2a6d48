package dev.wsgrpc.gateway.proxy;

import io.grpc.Channel;
import io.grpc.HandlerRegistry;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import java.util.concurrent.Executor;

/**
 * The forwarding core: a fallback {@link HandlerRegistry} that answers every method by forwarding the call, as
 * opaque bytes, to one upstream {@link Channel}. Headers and trailers cross both ways, the caller's remaining time
 * becomes the upstream's deadline, cancellation crosses from either side, and status codes and descriptions arrive
 * unchanged; flow control is end to end (see {@code ForwardedCall}).
 *
 * <p>Any front end that turns into grpc-java server calls uses it the same way: the tunnel, native h2c and h2, and
 * later browser protocols all end in {@code ServerBuilder.fallbackHandlerRegistry(registry)}, so every call of
 * every front end goes through this one place to the same upstream channel (with its name resolution, balancing and
 * health checking). Every call tells the upstream who called ({@link CallerMetadata}); that runs inside the
 * server's interceptors, so the client address and principal they establish (trusted proxies, per-call
 * authentication of native calls) are what the upstream learns. Serve it with {@code directExecutor()}: the handler never blocks, and each call's work runs in
 * its own sequential lane on {@code executor}.
 */
public final class ForwardingRegistry extends HandlerRegistry {

  private static final CallerMetadata CALLER = new CallerMetadata();

  private final Channel upstream;
  private final Executor executor;
  private final ServerCallHandler<byte[], byte[]> forward;

  /**
   * Forwards to {@code upstream}; each call's callbacks run on {@code executor}, one at a time per call. Neither is
   * owned: the caller shuts them down after the server.
   */
  public ForwardingRegistry(Channel upstream, Executor executor) {
    this.upstream = upstream;
    this.executor = executor;
    this.forward = (call, headers) -> ForwardedCall.start(call, headers, upstream, executor);
  }

  @Override
  public ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
    // A definition per call: method names come from callers, so nothing is cached by name.
    return ServerMethodDefinition.create(OpaqueBytes.method(methodName),
        (call, headers) -> CALLER.interceptCall(call, headers, forward));
  }
}
