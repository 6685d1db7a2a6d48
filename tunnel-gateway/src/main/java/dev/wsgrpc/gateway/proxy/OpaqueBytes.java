package dev.wsgrpc.gateway.proxy;

import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The pass-through marshaller: a message is the bytes gRPC framed, never decoded. Each message is copied once into
 * a {@code byte[]} that the proxy owns (grpc-java closes the stream it parsed from as soon as the listener returns),
 * so nothing the proxy holds refers to a Netty buffer. On the way out the
 * array is written into the outgoing frame in one piece ({@link Drainable}): without it grpc's framer copies every
 * message through a fresh 8 KiB buffer, which was half of what a forwarded unary call allocated.
 *
 * <p>{@link #REQUESTS} reads callers' messages: one that gRPC refuses while it is read (compressed, it decompressed
 * past the server's {@code maxInboundMessageSize}) becomes {@link #REFUSED}, and the call's listener takes the
 * refusal ({@link #takeRefusal}) on the same thread, where grpc-java hands it the message. gRPC knows the
 * decompressed size only as the message is read, inside the marshaller, and grpc-java's ServerImpl ends a call whose
 * marshaller throws {@code 2 UNKNOWN Application error processing RPC}, keeping gRPC's status from the caller.
 */
enum OpaqueBytes implements MethodDescriptor.Marshaller<byte[]> {
  /** Responses: read from the upstream, written to the caller. */
  INSTANCE,
  /** Requests: read from the caller (a refused one is {@link #REFUSED}), written to the upstream. */
  REQUESTS;

  /** What {@link #REQUESTS} returns for a message gRPC refused as it was read; compared by identity. */
  static final byte[] REFUSED = new byte[0];

  /** The refusal behind the last {@link #REFUSED} on this thread, until taken. */
  private static final ThreadLocal<Status> REFUSAL = new ThreadLocal<>();

  /** grpc-java's words (MessageDeframer) for a compressed message that decompressed past its limit. */
  private static final Pattern DECOMPRESSED_TOO_LARGE =
      Pattern.compile("Decompressed gRPC message exceeds maximum size (\\d+)");

  /** The descriptor every forwarded call uses: the caller's method name, type unknown, messages as bytes. */
  static MethodDescriptor<byte[], byte[]> method(String fullMethodName) {
    return MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(MethodDescriptor.MethodType.UNKNOWN)
        .setFullMethodName(fullMethodName)
        .setRequestMarshaller(REQUESTS)
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
      return read(stream);
    } catch (StatusRuntimeException e) {
      if (this != REQUESTS || e.getStatus().getCode() != Status.Code.RESOURCE_EXHAUSTED) {
        throw e;
      }
      REFUSAL.set(inOurWords(e.getStatus()));
      return REFUSED;
    }
  }

  /**
   * Why gRPC refused the message {@link #parse} last returned as {@link #REFUSED} on this thread: {@code 8
   * RESOURCE_EXHAUSTED expected a request message of at most 4194304 bytes but it decompressed to more than 4194304
   * bytes}.
   */
  static Status takeRefusal() {
    Status refusal = REFUSAL.get();
    REFUSAL.remove();
    return refusal != null ? refusal
        : Status.RESOURCE_EXHAUSTED.withDescription("expected a request message within the server's limit but it was "
            + "over it");
  }

  /** gRPC's refusal of a request message that decompressed past its limit, in our words; others unchanged. */
  static Status inOurWords(Status refusal) {
    return inOurWords(refusal, "request");
  }

  /**
   * gRPC's refusal of a {@code kind} ("request", "response") message that decompressed past its limit, in our words;
   * other statuses unchanged.
   */
  static Status inOurWords(Status refusal, String kind) {
    Matcher tooLarge = DECOMPRESSED_TOO_LARGE.matcher(String.valueOf(refusal.getDescription()));
    if (!tooLarge.matches()) {
      return refusal;
    }
    return refusal.withDescription("expected a " + kind + " message of at most " + tooLarge.group(1)
        + " bytes but it decompressed to more than " + tooLarge.group(1) + " bytes");
  }

  private static byte[] read(InputStream stream) {
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
