package dev.wsgrpc.gateway.proxy;

import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * The pass-through marshaller: a message is the bytes gRPC framed, never decoded. Each message is copied once into
 * a {@code byte[]} that the proxy owns (grpc-java closes the stream it parsed from as soon as the listener returns,
 * and a retried call re-reads the message), so nothing the proxy holds refers to a Netty buffer.
 */
enum OpaqueBytes implements MethodDescriptor.Marshaller<byte[]> {
  INSTANCE;

  /** The descriptor every forwarded call uses: the caller's method name, type unknown, messages as bytes. */
  static MethodDescriptor<byte[], byte[]> method(String fullMethodName) {
    return MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(MethodDescriptor.MethodType.UNKNOWN)
        .setFullMethodName(fullMethodName)
        .setRequestMarshaller(INSTANCE)
        .setResponseMarshaller(INSTANCE)
        .build();
  }

  @Override
  public InputStream stream(byte[] value) {
    return new ByteArrayInputStream(value); // the framer reads its length with available()
  }

  @Override
  public byte[] parse(InputStream stream) {
    try {
      if (stream instanceof KnownLength) {
        int length = stream.available();
        byte[] bytes = new byte[length];
        int read = 0;
        while (read < length) {
          int n = stream.read(bytes, read, length - read);
          if (n < 0) {
            throw new IOException("expected " + length + " bytes but the message ended after " + read);
          }
          read += n;
        }
        return bytes;
      }
      return stream.readAllBytes();
    } catch (IOException e) {
      throw Status.INTERNAL.withDescription("cannot read a message: " + e.getMessage()).withCause(e)
          .asRuntimeException();
    }
  }
}
