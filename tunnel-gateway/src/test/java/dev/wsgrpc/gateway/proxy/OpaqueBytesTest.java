package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class OpaqueBytesTest {

  @Test
  void outgoingMessageDrainsIntoTheFrameInOneWrite() throws Exception {
    byte[] message = new byte[10_000];
    for (int i = 0; i < message.length; i++) {
      message[i] = (byte) i;
    }
    InputStream stream = OpaqueBytes.INSTANCE.stream(message);
    assertInstanceOf(KnownLength.class, stream);
    assertEquals(message.length, stream.available());

    List<Integer> writes = new ArrayList<>();
    ByteArrayOutputStream out = new ByteArrayOutputStream() {
      @Override
      public void write(byte[] b, int off, int len) {
        writes.add(len);
        super.write(b, off, len);
      }
    };
    assertEquals(message.length, ((Drainable) stream).drainTo(out));
    assertArrayEquals(message, out.toByteArray());
    assertEquals(List.of(message.length), writes, "one write of the whole message, not 8 KiB pieces");
    assertEquals(0, stream.available());
    assertEquals(-1, stream.read());
  }

  @Test
  void drainAfterAPartialReadWritesTheRest() throws Exception {
    InputStream stream = OpaqueBytes.INSTANCE.stream(new byte[] {1, 2, 3, 4, 5});
    assertEquals(1, stream.read());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertEquals(4, ((Drainable) stream).drainTo(out));
    assertArrayEquals(new byte[] {2, 3, 4, 5}, out.toByteArray());
  }

  @Test
  void eachStreamOfOneMessageReadsItWhole() throws Exception {
    // A retried call asks for the message's stream again.
    byte[] message = {9, 8, 7};
    OpaqueBytes.INSTANCE.stream(message).readAllBytes();
    assertArrayEquals(message, OpaqueBytes.INSTANCE.parse(OpaqueBytes.INSTANCE.stream(message)));
    ((Drainable) OpaqueBytes.INSTANCE.stream(message)).drainTo(OutputStream.nullOutputStream());
    assertArrayEquals(message, OpaqueBytes.INSTANCE.parse(OpaqueBytes.INSTANCE.stream(message)));
  }

  @Test
  void theUpstreamCallReusesThePassThroughDescriptorOfTheCall() {
    MethodDescriptor<byte[], byte[]> called = OpaqueBytes.method("test.Svc/Call");
    assertSame(called, ForwardedCall.upstreamMethod(called));

    // Any other descriptor (a type it declares, other marshallers) gets a pass-through one of the same name.
    MethodDescriptor<byte[], byte[]> typed = called.toBuilder().setType(MethodDescriptor.MethodType.UNARY).build();
    MethodDescriptor<byte[], byte[]> upstream = ForwardedCall.upstreamMethod(typed);
    assertEquals("test.Svc/Call", upstream.getFullMethodName());
    assertEquals(MethodDescriptor.MethodType.UNKNOWN, upstream.getType());
    assertSame(OpaqueBytes.REQUESTS, upstream.getRequestMarshaller());
    assertSame(OpaqueBytes.INSTANCE, upstream.getResponseMarshaller());
  }
}
