package dev.wsgrpc.gateway.proxy;

import dev.wsgrpc.core.internal.Http11Tokens;
import io.grpc.Channel;
import io.grpc.HandlerRegistry;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import java.util.Locale;

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
 *
 * <p>Only protobuf's content type is forwarded ({@code application/grpc}, {@code application/grpc+proto}): grpc-java's
 * client sends every call upstream as {@code application/grpc}, so a call in another codec's ({@code +json}, say)
 * would reach an upstream that reads it as protobuf. Such a call ends {@code UNIMPLEMENTED}, saying so, before any
 * upstream call starts.
 */
public final class ForwardingRegistry extends HandlerRegistry {

  private static final Metadata.Key<String> CONTENT_TYPE =
      Metadata.Key.of("content-type", Metadata.ASCII_STRING_MARSHALLER);

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
    return ServerMethodDefinition.create(OpaqueBytes.method(methodName), (call, headers) -> {
      String refusal = unforwardable(headers.get(CONTENT_TYPE));
      if (refusal != null) {
        call.close(Status.UNIMPLEMENTED.withDescription(refusal), new Metadata());
        return new ServerCall.Listener<byte[]>() {};
      }
      return caller.interceptCall(call, headers, forward);
    });
  }

  /** Null for a call whose content type is protobuf's (or has no subtype), else why it is not forwarded. */
  static String unforwardable(String contentType) {
    if (contentType == null || contentType.equals("application/grpc")) {
      return null; // what nearly every call carries, without a copy
    }
    int parameters = contentType.indexOf(';');
    String type = (parameters < 0 ? contentType : contentType.substring(0, parameters)).trim()
        .toLowerCase(Locale.ROOT);
    if (type.equals("application/grpc") || type.equals("application/grpc+proto")) {
      return null;
    }
    return "expected content-type application/grpc or application/grpc+proto (proxy mode forwards protobuf calls "
        + "only: its client sends each call upstream as application/grpc) but was "
        + Http11Tokens.printable(contentType, 100);
  }
}
