package dev.wsgrpc.gateway.proxy;

import io.grpc.Attributes;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.Status;

/** A server call of {@code method} with no transport under it: it records how it was closed, and sends nothing. */
final class RecordingServerCall extends ServerCall<byte[], byte[]> {
  private final MethodDescriptor<byte[], byte[]> method;
  /** The status it was closed with, or null. */
  Status closed;

  RecordingServerCall(MethodDescriptor<byte[], byte[]> method) {
    this.method = method;
  }

  @Override
  public void request(int numMessages) {}

  @Override
  public void sendHeaders(Metadata headers) {}

  @Override
  public void sendMessage(byte[] message) {}

  @Override
  public void close(Status status, Metadata trailers) {
    closed = status;
  }

  @Override
  public boolean isCancelled() {
    return false;
  }

  @Override
  public Attributes getAttributes() {
    return Attributes.EMPTY;
  }

  @Override
  public MethodDescriptor<byte[], byte[]> getMethodDescriptor() {
    return method;
  }
}
