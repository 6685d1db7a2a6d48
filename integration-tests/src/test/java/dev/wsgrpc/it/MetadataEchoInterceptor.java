package dev.wsgrpc.it;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/** Echoes the {@code x-echo-initial} request header as a response header and {@code x-echo-trailing-bin} as a trailer. */
final class MetadataEchoInterceptor implements ServerInterceptor {

  static final Metadata.Key<String> INITIAL = Metadata.Key.of("x-echo-initial", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<byte[]> TRAILING = Metadata.Key.of("x-echo-trailing-bin", Metadata.BINARY_BYTE_MARSHALLER);

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
      ServerCallHandler<ReqT, RespT> next) {
    String initial = headers.get(INITIAL);
    byte[] trailing = headers.get(TRAILING);
    return next.startCall(new SimpleForwardingServerCall<ReqT, RespT>(call) {
      @Override
      public void sendHeaders(Metadata responseHeaders) {
        if (initial != null) {
          responseHeaders.put(INITIAL, initial);
        }
        super.sendHeaders(responseHeaders);
      }

      @Override
      public void close(Status status, Metadata trailers) {
        if (trailing != null) {
          trailers.put(TRAILING, trailing);
        }
        super.close(status, trailers);
      }
    }, headers);
  }
}
