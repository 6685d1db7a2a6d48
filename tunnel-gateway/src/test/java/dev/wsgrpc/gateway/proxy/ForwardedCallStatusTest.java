package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.UnansweredPort;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.ClosedChannelException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the caller learns when the upstream call ends: the upstream's own status unchanged, and a broken upstream
 * connection as UNAVAILABLE however grpc-netty happened to word it. The proxy and the caller are real (loopback,
 * native h2c); the upstream is a {@link Channel} whose call ends with exactly the status grpc-netty gives a call
 * whose write met the closed connection (UNKNOWN "channel closed", a {@link ClosedChannelException} as cause), which
 * a real upstream killed mid-call produces only in a race.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ForwardedCallStatusTest {

  private static final MethodDescriptor<byte[], byte[]> UNARY = OpaqueBytes.method("test.Svc/Call");

  @Test
  void aCallWhoseUpstreamConnectionClosedUnderAWriteFailsUnavailableNotUnknown() throws Exception {
    Status broken = Status.UNKNOWN.withDescription("channel closed").withCause(new ClosedChannelException());
    Status seen = callThroughProxyEndingWith(broken);
    assertEquals(Status.Code.UNAVAILABLE, seen.getCode(), seen.toString());
    assertEquals("the connection to the upstream gRPC server closed during the call (channel closed)",
        seen.getDescription());
  }

  @Test
  void anUnknownStatusTheUpstreamSentReachesTheCallerUnchanged() throws Exception {
    Status seen = callThroughProxyEndingWith(Status.UNKNOWN.withDescription("the service threw"));
    assertEquals(Status.Code.UNKNOWN, seen.getCode(), seen.toString());
    assertEquals("the service threw", seen.getDescription());
  }

  @Test
  void onlyUnknownStatusesCausedByABrokenConnectionAreChanged() {
    Status ioFailure = Status.UNKNOWN.withCause(new RuntimeException(new IOException("Connection reset by peer")));
    assertEquals(Status.Code.UNAVAILABLE, ForwardedCall.forCaller(ioFailure).getCode());
    Status bug = Status.UNKNOWN.withCause(new IllegalStateException("a bug"));
    assertSame(bug, ForwardedCall.forCaller(bug));
    Status unavailable = Status.UNAVAILABLE.withDescription("io exception").withCause(new IOException());
    assertSame(unavailable, ForwardedCall.forCaller(unavailable));
    Status deadline = Status.DEADLINE_EXCEEDED.withDescription("deadline exceeded");
    assertSame(deadline, ForwardedCall.forCaller(deadline));
  }

  /**
   * Only grpc-java's own UNAVAILABLE (no upstream reached: a cause) cuts the connect backoff short; an upstream that
   * sheds load answers UNAVAILABLE itself, without one, and was reached. The real statuses: a connection refused
   * (from a real channel to a closed port) and a trailers-only UNAVAILABLE from a real server.
   */
  @Test
  void onlyACallThatReachedNoUpstreamIsTakenForOne() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    ManagedChannel refused = NettyChannelBuilder.forAddress("127.0.0.1", closed).usePlaintext().build();
    Server shedding = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .fallbackHandlerRegistry(new io.grpc.HandlerRegistry() {
          @Override
          public io.grpc.ServerMethodDefinition<?, ?> lookupMethod(String method, String authority) {
            return io.grpc.ServerMethodDefinition.create(UNARY, (call, headers) -> {
              call.close(Status.UNAVAILABLE.withDescription("shedding load"), new Metadata());
              return new io.grpc.ServerCall.Listener<byte[]>() {};
            });
          }
        }).build().start();
    ManagedChannel reached = NettyChannelBuilder.forAddress((InetSocketAddress) shedding.getListenSockets().get(0))
        .usePlaintext().build();
    try {
      Status noUpstream = statusOf(refused);
      assertEquals(Status.Code.UNAVAILABLE, noUpstream.getCode(), noUpstream.toString());
      assertTrue(ForwardedCall.foundNoUpstream(noUpstream), noUpstream.toString());
      Status shed = statusOf(reached);
      assertEquals(Status.UNAVAILABLE.withDescription("shedding load").toString(), shed.toString());
      assertFalse(ForwardedCall.foundNoUpstream(shed));
      assertFalse(ForwardedCall.foundNoUpstream(Status.UNKNOWN.withCause(new IOException("reset"))));
    } finally {
      refused.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      reached.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      shedding.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private static Status statusOf(Channel channel) {
    try {
      ClientCalls.blockingUnaryCall(channel, UNARY, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS),
          new byte[] {1});
      throw new AssertionError("the call succeeded");
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    }
  }

  /** grpc-java's client cancels a call whose answer it could not read; the caller learns why, not CANCELLED. */
  @Test
  void anUpstreamAnswerThatCouldNotBeReadEndsTheCallInternalNotCancelled() {
    Status unreadable = Status.CANCELLED.withDescription("Failed to read message.")
        .withCause(Status.INTERNAL.withDescription("Invalid gzip header").asRuntimeException());
    Status seen = ForwardedCall.forCaller(unreadable);
    assertEquals(Status.Code.INTERNAL, seen.getCode());
    assertEquals("the upstream's response could not be read (Invalid gzip header)", seen.getDescription());
  }

  /** grpc-java's client timer appends where the call went; callers of the gateway never learn upstream addresses. */
  @Test
  void aDeadlineThatTheGatewaysOwnTimerEndedDoesNotNameTheUpstreamsAddress() {
    // As grpc-java 1.85 words it (seen from a call to a server that never answers).
    Status timer = Status.DEADLINE_EXCEEDED.withDescription("CallOptions deadline exceeded after 0.200961606s. "
        + "Name resolution delay 0.000000000 seconds. [closed=[], open=[[connecting_and_lb_delay=156975287ns, "
        + "remote_addr=10.0.3.17/10.0.3.17:50051]]]");
    assertEquals("CallOptions deadline exceeded after 0.200961606s. Name resolution delay 0.000000000 seconds.",
        ForwardedCall.forCaller(timer).getDescription());
    assertEquals(Status.Code.DEADLINE_EXCEEDED, ForwardedCall.forCaller(timer).getCode());
    // An upstream's own wording is left alone, whatever it holds.
    for (String own : new String[] {"x remote_addr=y", "key [42] timed out", "CallOptions deadline exceeded [x"}) {
      Status sent = Status.DEADLINE_EXCEEDED.withDescription(own);
      assertSame(sent, ForwardedCall.forCaller(sent), own);
    }
  }

  @Test
  void aCallerOfAnUpstreamNobodyListensOnIsToldNoUpstreamIsReachableNotIoException() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    ManagedChannel upstream = UpstreamChannel.create(UpstreamOptions.newBuilder()
        .upstreams(List.of("127.0.0.1:" + closed)).healthCheckService(null).build());
    try {
      Status seen = callThroughProxyTo(upstream);
      assertEquals(Status.Code.UNAVAILABLE, seen.getCode(), seen.toString());
      assertEquals("no upstream gRPC server reachable", seen.getDescription());
    } finally {
      upstream.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aRequestOverTheProxysLimitIsRefusedResourceExhaustedAlsoWhileTheUpstreamCallWaitsForAConnection()
      throws Exception {
    // The upstream call is still waiting for its connection when the proxy refuses the message: the caller must
    // learn why (RESOURCE_EXHAUSTED), not the upstream call's cancellation that followed ("RPC cancelled").
    try (UnansweredPort unanswered = new UnansweredPort()) {
      ManagedChannel upstream = UpstreamChannel.create(UpstreamOptions.newBuilder()
          .upstreams(List.of("127.0.0.1:" + unanswered.port())).healthCheckService(null).build());
      try {
        Status seen = callThroughProxyTo(upstream, new byte[2048]);
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, seen.getCode(), seen.toString());
        assertEquals("gRPC message exceeds maximum size 1024: 2048", seen.getDescription());
      } finally {
        upstream.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void aCompressedRequestThatDecompressesPastTheProxysLimitIsRefusedResourceExhaustedSayingTheLimit()
      throws Exception {
    // 2 KiB of zeros compress to a few dozen bytes: the length prefix is within the limit, the message is not.
    Status seen = callThroughProxyTo(new EndingUpstream(Status.OK), new byte[2048], "gzip");
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, seen.getCode(), seen.toString());
    assertEquals("expected a request message of at most 1024 bytes but it decompressed to more than 1024 bytes",
        seen.getDescription());
  }

  /** A unary call from a real caller through a real proxy to an upstream call that ends with {@code end}. */
  private static Status callThroughProxyEndingWith(Status end) throws Exception {
    return callThroughProxyTo(new EndingUpstream(end));
  }

  /** A unary call from a real caller through a real proxy to {@code upstream}. */
  private static Status callThroughProxyTo(Channel upstream) throws Exception {
    return callThroughProxyTo(upstream, new byte[] {1, 2, 3});
  }

  /**
   * A unary call of {@code request} from a real caller through a real proxy, which takes messages of at most 1 KiB,
   * to {@code upstream}.
   */
  private static Status callThroughProxyTo(Channel upstream, byte[] request) throws Exception {
    return callThroughProxyTo(upstream, request, "identity");
  }

  /** As {@link #callThroughProxyTo(Channel, byte[])}, the request compressed with {@code compressor}. */
  private static Status callThroughProxyTo(Channel upstream, byte[] request, String compressor) throws Exception {
    Server proxy = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .directExecutor()
        .maxInboundMessageSize(1024)
        .fallbackHandlerRegistry(new ForwardingRegistry(upstream))
        .build().start();
    ManagedChannel caller = NettyChannelBuilder.forAddress((InetSocketAddress) proxy.getListenSockets().get(0))
        .usePlaintext().build();
    try {
      ClientCalls.blockingUnaryCall(caller, UNARY, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS)
          .withCompression(compressor), request);
      throw new AssertionError("the call succeeded");
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    } finally {
      caller.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      proxy.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /** An upstream whose every call, once the caller half-closes, ends with one status, in the call's executor. */
  private static final class EndingUpstream extends Channel {
    private final Status end;

    EndingUpstream(Status end) {
      this.end = end;
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(MethodDescriptor<ReqT, RespT> method, CallOptions options) {
      return new ClientCall<ReqT, RespT>() {
        private Listener<RespT> listener;

        @Override
        public void start(Listener<RespT> responseListener, Metadata headers) {
          listener = responseListener;
        }

        @Override
        public void request(int numMessages) {}

        @Override
        public void cancel(String message, Throwable cause) {}

        @Override
        public void halfClose() {
          options.getExecutor().execute(() -> listener.onClose(end, new Metadata()));
        }

        @Override
        public void sendMessage(ReqT message) {}
      };
    }

    @Override
    public String authority() {
      return "upstream.test";
    }
  }
}
