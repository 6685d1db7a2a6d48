package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.wsgrpc.testing.Http2Wire;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * grpc-java's client sends every forwarded call upstream as {@code application/grpc}: a call in another codec's
 * content type would reach the upstream as if it were protobuf, so it is refused, saying why, before any upstream call.
 */
class ForwardedContentTypeTest {

  private static final Metadata.Key<String> CONTENT_TYPE =
      Metadata.Key.of("content-type", Metadata.ASCII_STRING_MARSHALLER);

  @Test
  void protobufsContentTypesAreForwardedAndOthersAreNot() {
    assertNull(ForwardingRegistry.unforwardable(null));
    assertNull(ForwardingRegistry.unforwardable("application/grpc"));
    assertNull(ForwardingRegistry.unforwardable("Application/GRPC+proto; charset=utf-8"));
    assertEquals("expected content-type application/grpc or application/grpc+proto (proxy mode forwards protobuf "
        + "calls only: its client sends each call upstream as application/grpc) but was application/grpc+json",
        ForwardingRegistry.unforwardable("application/grpc+json"));
  }

  @Test
  void aCallInAnotherCodecEndsUnimplementedAndNoUpstreamCallStarts() {
    List<String> upstreamCalls = new CopyOnWriteArrayList<>();
    Channel upstream = noCallsExpected(upstreamCalls);
    @SuppressWarnings("unchecked")
    ServerMethodDefinition<byte[], byte[]> method =
        (ServerMethodDefinition<byte[], byte[]>) new ForwardingRegistry(upstream).lookupMethod("test.Svc/Call", null);
    RecordingServerCall call = new RecordingServerCall(method.getMethodDescriptor());
    Metadata headers = new Metadata();
    headers.put(CONTENT_TYPE, "application/grpc+json");
    method.getServerCallHandler().startCall(call, headers);
    assertEquals(Status.Code.UNIMPLEMENTED, call.closed.getCode());
    assertEquals(ForwardingRegistry.unforwardable("application/grpc+json"), call.closed.getDescription());
    assertEquals(List.of(), upstreamCalls);
  }

  /** Over a real server: grpc-netty hands the request's content-type to the call, which the registry reads. */
  @Test
  void overARealServerAJsonCallIsRefusedBeforeAnyUpstreamCall() throws Exception {
    List<String> upstreamCalls = new CopyOnWriteArrayList<>();
    Channel upstream = noCallsExpected(upstreamCalls);
    CompletableFuture<Status> closed = new CompletableFuture<>();
    ServerInterceptor recordClose = new ServerInterceptor() {
      @Override
      public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
          ServerCallHandler<ReqT, RespT> next) {
        return next.startCall(new SimpleForwardingServerCall<ReqT, RespT>(call) {
          @Override
          public void close(Status status, Metadata trailers) {
            closed.complete(status);
            super.close(status, trailers);
          }
        }, headers);
      }
    };
    Server proxy = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).directExecutor()
        .fallbackHandlerRegistry(new ForwardingRegistry(upstream)).intercept(recordClose).build().start();
    int port = ((InetSocketAddress) proxy.getListenSockets().get(0)).getPort();
    try (Socket raw = new Socket("127.0.0.1", port)) {
      raw.getOutputStream().write(Http2Wire.concat(Http2Wire.PREFACE,
          Http2Wire.settings(),
          Http2Wire.headers(1, 0x4 | 0x1, Http2Wire.headerBlock( // END_HEADERS, END_STREAM
              Map.of(":method", "POST", ":scheme", "http", ":path", "/test.Svc/Call",
                  ":authority", "gateway.test", "content-type", "application/grpc+json", "te", "trailers")))));
      Status status = closed.get(30, TimeUnit.SECONDS);
      assertEquals(Status.Code.UNIMPLEMENTED, status.getCode(), status.toString());
      assertEquals(ForwardingRegistry.unforwardable("application/grpc+json"), status.getDescription());
      assertEquals(List.of(), upstreamCalls);
    } finally {
      proxy.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /** An upstream that records every call made to it, and fails it: none is expected. */
  private static Channel noCallsExpected(List<String> calls) {
    return new Channel() {
      @Override
      public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(MethodDescriptor<ReqT, RespT> method,
          CallOptions options) {
        calls.add(method.getFullMethodName());
        throw new AssertionError("no upstream call for a refused content type");
      }

      @Override
      public String authority() {
        return "upstream.test";
      }
    };
  }
}
