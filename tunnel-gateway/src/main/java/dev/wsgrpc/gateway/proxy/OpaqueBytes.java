package dev.wsgrpc.gateway.proxy;

import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The pass-through marshaller: a message is the bytes gRPC framed, never decoded. Each message is copied once into
 * a {@code byte[]} that the proxy owns (grpc-java closes the stream it parsed from as soon as the listener returns,
 * and a retried call re-reads the message), so nothing the proxy holds refers to a Netty buffer. On the way out the
 * array is written into the outgoing frame in one piece ({@link Drainable}): without it grpc's framer copies every
 * message through a fresh 8 KiB buffer, which was half of what a forwarded unary call allocated.
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
    return new Message(value);
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

  /** A message on its way out: its length known to the framer, and drained into the frame in one write. */
  static final class Message extends ByteArrayInputStream implements Drainable, KnownLength {

    Message(byte[] bytes) {
      super(bytes);
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      int length = count - pos;
      target.write(buf, pos, length);
      pos = count;
      return length;
    }
  }
}
