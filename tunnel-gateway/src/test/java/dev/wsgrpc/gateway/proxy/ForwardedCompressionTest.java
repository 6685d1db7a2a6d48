package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Compression through the proxy, caller, proxy and upstream all real (loopback, native h2c): a side's gzip messages
 * are passed on gzip (a caller's once the upstream has said it reads gzip), so that the proxy does not hold or send
 * on a message inflated from a few bytes of its sender's.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ForwardedCompressionTest {

  private static final Metadata.Key<String> ENCODING =
      Metadata.Key.of("grpc-encoding", Metadata.ASCII_STRING_MARSHALLER);
  private static final MethodDescriptor<byte[], byte[]> ECHO = method(MethodDescriptor.MethodType.UNARY, "Echo");
  private static final MethodDescriptor<byte[], byte[]> SINK = method(MethodDescriptor.MethodType.CLIENT_STREAMING, "Sink");
  private static final MethodDescriptor<byte[], byte[]> BIG = method(MethodDescriptor.MethodType.UNARY, "Big");
  /** {@code test.Svc/NAME} of {@code type}, its messages as bytes. */
  private static MethodDescriptor<byte[], byte[]> method(MethodDescriptor.MethodType type, String name) {
    return MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(type)
        .setFullMethodName("test.Svc/" + name)
        .setRequestMarshaller(OpaqueBytes.INSTANCE)
        .setResponseMarshaller(OpaqueBytes.INSTANCE)
        .build();
  }

  private static final Metadata.Key<String> ANSWER_COMPRESSED =
      Metadata.Key.of("answer-compressed", Metadata.ASCII_STRING_MARSHALLER);

  /** The grpc-encoding of the last call the upstream received (null: none). */
  private final AtomicReference<String> upstreamSaw = new AtomicReference<>();
  /** The grpc-encoding of the last answer the caller received (null: none). */
  private final AtomicReference<String> callerSaw = new AtomicReference<>();
  private Server upstream;
  private ManagedChannel toUpstream;
  private Server proxy;
  private ManagedChannel caller;

  /** Messages the upstream's Sink has read (a test may set another count before it starts). */
  private CountDownLatch sunk = new CountDownLatch(SUNK);
  private static final int SUNK = 200;

  /** Starts the upstream (reading gzip or not), the proxy and the caller. */
  private void start(boolean upstreamReadsGzip) throws Exception {
    start(upstreamReadsGzip, false);
  }

  /**
   * As {@link #start(boolean)}; with {@code asTheGatewayBuildsIt}, the proxy's channel to the upstream is built as
   * the gateway builds its own ({@link UpstreamChannel#create}).
   */
  private void start(boolean upstreamReadsGzip, boolean asTheGatewayBuildsIt) throws Exception {
    ServerServiceDefinition echo = ServerServiceDefinition.builder("test.Svc")
        .addMethod(ECHO, ServerCalls.asyncUnaryCall((request, answer) -> {
          answer.onNext(request);
          answer.onCompleted();
        }))
        // 5 MiB of zeros, past the proxy's 4 MiB once inflated (a few kilobytes gzip).
        .addMethod(BIG, ServerCalls.asyncUnaryCall((request, answer) -> {
          answer.onNext(new byte[5 << 20]);
          answer.onCompleted();
        }))
        // Reads every message and answers only at the end: an upstream still at work on a call.
        .addMethod(SINK, ServerCalls.asyncClientStreamingCall(answer -> new io.grpc.stub.StreamObserver<byte[]>() {
          @Override
          public void onNext(byte[] message) {
            sunk.countDown();
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {
            answer.onNext(new byte[0]);
            answer.onCompleted();
          }
        }))
        .build();
    ServerInterceptor watch = new ServerInterceptor() {
      @Override
      public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
          ServerCallHandler<Q, A> next) {
        upstreamSaw.set(headers.get(ENCODING));
        if (headers.containsKey(ANSWER_COMPRESSED)) {
          call.setCompression("gzip");
        }
        return next.startCall(call, headers);
      }
    };
    NettyServerBuilder upstreamBuilder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(echo, watch));
    if (!upstreamReadsGzip) {
      upstreamBuilder.decompressorRegistry(io.grpc.DecompressorRegistry.emptyInstance());
    }
    upstream = upstreamBuilder.build().start();
    InetSocketAddress upstreamAddress = (InetSocketAddress) upstream.getListenSockets().get(0);
    toUpstream = asTheGatewayBuildsIt
        ? UpstreamChannel.create(UpstreamOptions.newBuilder()
            .upstreams(List.of("127.0.0.1:" + upstreamAddress.getPort())).healthCheckService(null).build())
        : NettyChannelBuilder.forAddress(upstreamAddress).usePlaintext().build();
    proxy = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .fallbackHandlerRegistry(new ForwardingRegistry(toUpstream))
        .build().start();
    caller = NettyChannelBuilder.forAddress((InetSocketAddress) proxy.getListenSockets().get(0))
        .usePlaintext().build();
  }

  @AfterEach
  void stop() throws Exception {
    if (caller == null) {
      return;
    }
    caller.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    proxy.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    toUpstream.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    upstream.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
  }

  /** A unary call of {@code request} through the proxy, compressed with {@code compressor}. */
  private byte[] call(byte[] request, String compressor, boolean answerCompressed) {
    Metadata headers = new Metadata();
    if (answerCompressed) {
      headers.put(ANSWER_COMPRESSED, "yes");
    }
    ClientInterceptor sendAndWatch = new ClientInterceptor() {
      @Override
      public <Q, A> ClientCall<Q, A> interceptCall(MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<Q, A>(next.newCall(method, options)) {
          @Override
          public void start(Listener<A> listener, Metadata extra) {
            extra.merge(headers);
            super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<A>(listener) {
              @Override
              public void onHeaders(Metadata answer) {
                callerSaw.set(answer.get(ENCODING));
                super.onHeaders(answer);
              }
            }, extra);
          }
        };
      }
    };
    return ClientCalls.blockingUnaryCall(ClientInterceptors.intercept(caller, sendAndWatch), ECHO,
        CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS).withCompression(compressor), request);
  }

  @Test
  void gzipRequestsReachTheUpstreamGzipOnceItSaidItReadsGzip() throws Exception {
    start(true);
    byte[] zeros = new byte[1 << 20];
    assertArrayEquals(zeros, call(zeros, "gzip", false));
    assertNull(upstreamSaw.get(), "whole until the upstream has said it reads gzip (its first answer)");
    assertArrayEquals(zeros, call(zeros, "gzip", false));
    assertEquals("gzip", upstreamSaw.get(), "forwarded as the caller compressed it, not inflated");
  }

  /** An upstream that reads no gzip (grpc-go without its gzip package) gets the caller's gzip messages whole. */
  @Test
  void gzipRequestsReachAnUpstreamThatReadsNoGzipWhole() throws Exception {
    start(false);
    byte[] zeros = new byte[1 << 20];
    for (int i = 0; i < 3; i++) {
      assertArrayEquals(zeros, call(zeros, "gzip", false));
      assertNull(upstreamSaw.get());
    }
  }

  @Test
  void aGzipAnswerReachesTheCallerGzip() throws Exception {
    start(true);
    byte[] zeros = new byte[1 << 20];
    assertArrayEquals(zeros, call(zeros, "identity", true));
    assertNull(upstreamSaw.get(), "an uncompressed request stays uncompressed");
    assertEquals("gzip", callerSaw.get(), "the answer as the upstream compressed it");
  }

  @Test
  void uncompressedMessagesStayUncompressed() throws Exception {
    start(true);
    byte[] bytes = {1, 2, 3};
    assertArrayEquals(bytes, call(bytes, "identity", false));
    assertNull(upstreamSaw.get());
    assertNotEquals("gzip", callerSaw.get()); // gRPC may say "identity"
  }

  /**
   * A caller's gzip messages are inflated in the proxy (grpc-java hands a marshaller the message decompressed) and
   * passed on gzip: nothing of them may stay in the proxy once they have gone. grpc-java's retry layer kept every
   * message of a call the upstream had not yet answered, counting it at its size on the wire, compressed: 200 gzip
   * messages of 1 MiB of zeros (about a kilobyte each as sent) held 200 MiB of the proxy's heap for as long as the
   * upstream worked on the call, and a caller could open a thousand such calls per connection.
   */
  @Test
  void aCallsGzipMessagesAreNotHeldInflatedWhileTheUpstreamWorksOnTheCall() throws Exception {
    start(true, true);
    byte[] zeros = new byte[1 << 20];
    assertArrayEquals(zeros, call(zeros, "gzip", false)); // the upstream says it reads gzip
    long before = heapAfterCollection();
    ClientCall<byte[], byte[]> sink = caller.newCall(SINK,
        CallOptions.DEFAULT.withDeadlineAfter(50, TimeUnit.SECONDS).withCompression("gzip"));
    java.util.concurrent.CompletableFuture<io.grpc.Status> closed = new java.util.concurrent.CompletableFuture<>();
    sink.start(new ClientCall.Listener<>() {
      @Override
      public void onClose(io.grpc.Status status, Metadata trailers) {
        closed.complete(status);
      }
    }, new Metadata());
    sink.request(1);
    for (int i = 0; i < SUNK; i++) {
      sink.sendMessage(zeros); // each about a kilobyte on the wire; flow control has the rest wait in the caller
    }
    assertTrue(sunk.await(40, TimeUnit.SECONDS), "the upstream read every message");
    long held = heapAfterCollection() - before;
    sink.halfClose();
    assertEquals(io.grpc.Status.Code.OK, closed.get(30, TimeUnit.SECONDS).getCode());
    assertTrue(held < 64L << 20, "the proxy held " + (held >> 20) + " MiB more while the upstream worked on the "
        + "call, for " + SUNK + " MiB of messages it had passed on");
  }

  /**
   * Empty messages, which grpc-java's retry layer counted as nothing, are not kept either: each held some 130 bytes
   * of the proxy's heap for 5 sent, for as long as the upstream worked on the call, without bound (with the layer's
   * buffer limit at one byte, the first attempt at this fix).
   */
  @Test
  void aCallsEmptyMessagesAreNotHeldWhileTheUpstreamWorksOnTheCall() throws Exception {
    int messages = 80_000; // some 10 MB held on the old code
    sunk = new CountDownLatch(messages);
    start(true, true);
    long before = heapAfterCollection();
    ClientCall<byte[], byte[]> sink = caller.newCall(SINK, CallOptions.DEFAULT.withDeadlineAfter(50, TimeUnit.SECONDS));
    java.util.concurrent.CompletableFuture<io.grpc.Status> closed = new java.util.concurrent.CompletableFuture<>();
    int[] sent = {0};
    byte[] empty = new byte[0];
    sink.start(new ClientCall.Listener<>() {
      @Override
      public void onReady() {
        // As fast as flow control lets them go, none waiting in the caller (which shares this heap).
        while (sink.isReady() && sent[0] < messages) {
          sink.sendMessage(empty);
          sent[0]++;
        }
      }

      @Override
      public void onClose(io.grpc.Status status, Metadata trailers) {
        closed.complete(status);
      }
    }, new Metadata());
    sink.request(1);
    assertTrue(sunk.await(40, TimeUnit.SECONDS), "the upstream read every message: " + sunk.getCount() + " left");
    long held = heapAfterCollection() - before;
    sink.halfClose();
    assertEquals(io.grpc.Status.Code.OK, closed.get(30, TimeUnit.SECONDS).getCode());
    assertTrue(held < 5L << 20, "the proxy held " + (held >> 20) + " MiB more while the upstream worked on the "
        + "call, for " + messages + " empty messages it had passed on");
  }

  /** The heap in use after full collections (the proxy runs in this JVM). */
  private static long heapAfterCollection() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /**
   * An upstream's gzip answer that inflates past the proxy's limit ends the caller's call as a request would:
   * RESOURCE_EXHAUSTED, saying what was expected. grpc-java's client reported it as {@code 1 CANCELLED "Failed to
   * read message."}, which the proxy passed on.
   */
  @Test
  void anAnswerThatInflatesPastTheLimitEndsTheCallResourceExhausted() throws Exception {
    start(true, true);
    Metadata headers = new Metadata();
    headers.put(ANSWER_COMPRESSED, "yes");
    io.grpc.StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(
        io.grpc.StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(
            ClientInterceptors.intercept(caller, io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers)),
            BIG, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), new byte[0]));
    assertEquals(io.grpc.Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
    assertEquals("expected a response message of at most 4194304 bytes but it decompressed to more than 4194304 "
        + "bytes", e.getStatus().getDescription());
  }
}
