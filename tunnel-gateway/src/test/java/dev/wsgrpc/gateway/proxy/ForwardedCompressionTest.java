package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

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
import java.net.InetSocketAddress;
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
  private static final MethodDescriptor<byte[], byte[]> ECHO = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY)
      .setFullMethodName("test.Svc/Echo")
      .setRequestMarshaller(OpaqueBytes.INSTANCE)
      .setResponseMarshaller(OpaqueBytes.INSTANCE)
      .build();
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

  /** Starts the upstream (reading gzip or not), the proxy and the caller. */
  private void start(boolean upstreamReadsGzip) throws Exception {
    ServerServiceDefinition echo = ServerServiceDefinition.builder("test.Svc")
        .addMethod(ECHO, ServerCalls.asyncUnaryCall((request, answer) -> {
          answer.onNext(request);
          answer.onCompleted();
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
    toUpstream = NettyChannelBuilder.forAddress((InetSocketAddress) upstream.getListenSockets().get(0))
        .usePlaintext().build();
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
}
