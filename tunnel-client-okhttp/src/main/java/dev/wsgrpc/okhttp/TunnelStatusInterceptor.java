package dev.wsgrpc.okhttp;

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientStreamTracer;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.IOException;
import java.net.SocketAddress;

/**
 * Gives RPCs the status their tunnel's end calls for. grpc-okhttp reports a failed connect as UNAVAILABLE without a
 * description, and a connection that ends as {@code "End of stream or IOException"} (or, when it ends inside an
 * HTTP/2 frame, INTERNAL {@code "error in frame handler"}); this interceptor replaces those with the {@link
 * TunnelFailure}'s status: e.g. UNAVAILABLE {@code "expected HTTP 101 but was 403 Forbidden from wss://host/grpc"},
 * or RESOURCE_EXHAUSTED after a close 1009. It learns each RPC's tunnel from the transport's local address (a
 * {@link TunnelLocalAddress}). A call that never got a stream (it waited for a connection whose tunnel ended before
 * the server's SETTINGS, say after a Close 1013 right after the 101) has no tunnel of its own: it gets the status
 * of the channel's latest ended tunnel if that one ended so ({@link
 * TunnelSocketFactory#latestFailureBeforeServerSettings}), e.g. UNAVAILABLE {@code "WebSocket closed by
 * ws://host/grpc with 1013 (Try Again Later): no upstream gRPC server reachable"}, the Netty client's words.
 * Statuses from the server and from gRPC itself (deadlines, cancellation, GOAWAY) pass unchanged.
 */
final class TunnelStatusInterceptor implements ClientInterceptor {

  private final TunnelSocketFactory tunnels;

  /** {@code tunnels}: the channel's socket factory, asked about calls that never got a stream. */
  TunnelStatusInterceptor(TunnelSocketFactory tunnels) {
    this.tunnels = tunnels;
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions callOptions,
      Channel next) {
    final TunnelOfCall tunnelOfCall = new TunnelOfCall();
    CallOptions traced = callOptions.withStreamTracerFactory(tunnelOfCall);
    return new ForwardingClientCall.SimpleForwardingClientCall<Q, R>(next.newCall(method, traced)) {
      @Override
      public void start(Listener<R> listener, Metadata headers) {
        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<R>(listener) {
          @Override
          public void onClose(Status status, Metadata trailers) {
            super.onClose(describe(status, tunnelOfCall.tunnel, tunnels), trailers);
          }
        }, headers);
      }
    };
  }

  /**
   * {@code status}, or the status of the tunnel failure behind it: the one in its causes, else the end of
   * {@code tunnel} (the call's, null when it got no stream), else, for a call without a stream, an end of the
   * channel's latest tunnel before the server's SETTINGS.
   */
  static Status describe(Status status, Tunnel tunnel, TunnelSocketFactory tunnels) {
    if (status.isOk()) {
      return status;
    }
    TunnelFailure failure = find(status.getCause());
    if (failure != null) {
      return failure.status();
    }
    if (!isConnectionLoss(status)) {
      return status;
    }
    TunnelFailure ended = tunnel != null ? tunnel.failure() : tunnels.latestFailureBeforeServerSettings();
    return ended != null ? ended.status() : status;
  }

  private static boolean isConnectionLoss(Status status) {
    String d = status.getDescription();
    return "End of stream or IOException".equals(d)
        || (d != null && d.startsWith("error in frame handler"))
        || (status.getCode() == Status.Code.UNAVAILABLE && status.getCause() instanceof IOException);
  }

  private static TunnelFailure find(Throwable t) {
    for (int depth = 0; t != null && depth < 10; depth++, t = t.getCause()) {
      if (t instanceof TunnelFailure) {
        return (TunnelFailure) t;
      }
    }
    return null;
  }

  /** Remembers the tunnel the call's stream was created on. */
  private static final class TunnelOfCall extends ClientStreamTracer.Factory {
    volatile Tunnel tunnel;

    @Override
    public ClientStreamTracer newClientStreamTracer(ClientStreamTracer.StreamInfo info, Metadata headers) {
      return new ClientStreamTracer() {
        @Override
        public void streamCreated(Attributes transportAttrs, Metadata headers) {
          SocketAddress local = transportAttrs.get(Grpc.TRANSPORT_ATTR_LOCAL_ADDR);
          if (local instanceof TunnelLocalAddress) {
            tunnel = ((TunnelLocalAddress) local).tunnel();
          }
        }
      };
    }
  }
}
