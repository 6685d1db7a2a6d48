package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.CallOptions;
import io.grpc.HandlerRegistry;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Per-call metrics of real calls on loopback, read back from the registry as Prometheus would scrape them. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CallMetricsTest {

  private static final MethodDescriptor<byte[], byte[]> ECHO = unary("test.Svc/Echo");
  private static final MethodDescriptor<byte[], byte[]> FAIL = unary("test.Svc/Fail");

  private static MethodDescriptor<byte[], byte[]> unary(String name) {
    return OpaqueBytes.method(name).toBuilder().setType(MethodDescriptor.MethodType.UNARY).build();
  }

  @Test
  void eachCallIsCountedUnderItsMethodTypeAndCode() throws Exception {
    PrometheusRegistry registry = new PrometheusRegistry();
    ServerServiceDefinition service = ServerServiceDefinition.builder("test.Svc")
        .addMethod(ECHO, ServerCalls.asyncUnaryCall((request, response) -> {
          response.onNext(request);
          response.onCompleted();
        }))
        .addMethod(FAIL, ServerCalls.asyncUnaryCall((request, response) ->
            response.onError(Status.FAILED_PRECONDITION.asRuntimeException())))
        .build();
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).directExecutor()
        .addService(service)
        .fallbackHandlerRegistry(new HandlerRegistry() {
          @Override
          public ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
            // As in proxy mode: every name reaches a handler, and the upstream answers UNIMPLEMENTED.
            return ServerMethodDefinition.create(OpaqueBytes.method(methodName), (call, headers) -> {
              if (methodName.startsWith("silent.")) {
                return new ServerCall.Listener<byte[]>() { }; // an upstream that never answers: the deadline ends it
              }
              call.close(methodName.startsWith("down.") ? Status.UNAVAILABLE.withDescription("no upstream")
                  : Status.UNIMPLEMENTED.withDescription("no such method"), new Metadata());
              return new ServerCall.Listener<byte[]>() { };
            });
          }
        })
        // The gateway's token check sits inside the metrics, as here: it refuses calls to one service.
        .intercept(new ServerInterceptor() {
          @Override
          public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
              ServerCallHandler<Q, R> next) {
            String service = call.getMethodDescriptor().getServiceName();
            if (service.startsWith("locked.")) {
              call.close(service.equals("locked.Token") ? Status.UNAUTHENTICATED : Status.PERMISSION_DENIED,
                  new Metadata());
              return new ServerCall.Listener<Q>() { };
            }
            return next.startCall(call, headers);
          }
        })
        .intercept(new CallMetrics(registry)).build().start();
    ManagedChannel channel = NettyChannelBuilder.forAddress((InetSocketAddress) server.getListenSockets().get(0))
        .usePlaintext().build();
    try {
      for (int i = 0; i < 3; i++) {
        ClientCalls.blockingUnaryCall(channel, ECHO, CallOptions.DEFAULT, new byte[] {1});
      }
      for (int i = 0; i < 2; i++) {
        assertThrows(StatusRuntimeException.class,
            () -> ClientCalls.blockingUnaryCall(channel, FAIL, CallOptions.DEFAULT, new byte[] {1}));
      }
      assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(channel,
          OpaqueBytes.method("made.Up/Name"), CallOptions.DEFAULT, new byte[] {1}));
      // Made-up names whose calls end with a code gRPC gives itself: nothing says they exist.
      assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(channel,
          OpaqueBytes.method("silent.Scan/One"), CallOptions.DEFAULT.withDeadlineAfter(50, TimeUnit.MILLISECONDS),
          new byte[] {1}));
      assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(channel,
          OpaqueBytes.method("down.Scan/Two"), CallOptions.DEFAULT, new byte[] {1}));
      for (String refused : List.of("locked.Token/A", "locked.Token/B", "locked.Role/C")) {
        assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(channel,
            OpaqueBytes.method(refused), CallOptions.DEFAULT, new byte[] {1}));
      }
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }

    String text = scrape(registry);
    String echo = "grpc_method=\"Echo\",grpc_service=\"test.Svc\",grpc_type=\"UNARY\"";
    assertEquals(3, value(text, "grpc_server_handled_total{grpc_code=\"OK\"," + echo + "}"), text);
    assertEquals(3, value(text, "grpc_server_handling_seconds_count{" + echo + "}"), text);
    assertEquals(3, value(text, "grpc_server_msg_received_total{" + echo + "}"), text);
    assertEquals(3, value(text, "grpc_server_msg_sent_total{" + echo + "}"), text);
    assertEquals(2, value(text, "grpc_server_handled_total{grpc_code=\"FAILED_PRECONDITION\","
        + "grpc_method=\"Fail\",grpc_service=\"test.Svc\",grpc_type=\"UNARY\"}"), text);
    // A method nobody serves is counted under "other", so made-up names cannot grow the series.
    assertEquals(1, value(text, "grpc_server_handled_total{grpc_code=\"UNIMPLEMENTED\","
        + "grpc_method=\"other\",grpc_service=\"other\",grpc_type=\"UNARY\"}"), text);
    // Refused callers count, with their code, but name no series: without a token no one uses up MAX_METHODS.
    assertEquals(2, value(text, "grpc_server_handled_total{grpc_code=\"UNAUTHENTICATED\","
        + "grpc_method=\"other\",grpc_service=\"other\",grpc_type=\"UNARY\"}"), text);
    assertEquals(1, value(text, "grpc_server_handled_total{grpc_code=\"PERMISSION_DENIED\","
        + "grpc_method=\"other\",grpc_service=\"other\",grpc_type=\"UNARY\"}"), text);
    assertFalse(text.contains("locked."), text);
    assertFalse(text.contains("Scan"), text);
    assertEquals(1, value(text, "grpc_server_handled_total{grpc_code=\"UNAVAILABLE\","
        + "grpc_method=\"other\",grpc_service=\"other\",grpc_type=\"UNARY\"}"), text);
    assertEquals(0, value(text, "grpc_server_calls_in_flight"), text);
  }

  @Test
  void aCallWhoseStartThrowsIsCountedAndNotLeftInFlight() throws Exception {
    PrometheusRegistry registry = new PrometheusRegistry();
    CallMetrics metrics = new CallMetrics(registry);
    ServerCall<byte[], byte[]> call = new RecordingServerCall(ECHO);
    IllegalStateException thrown = new IllegalStateException("a handler's bug");
    assertSame(thrown, assertThrows(IllegalStateException.class, () -> metrics.interceptCall(call, new Metadata(),
        (c, h) -> {
          throw thrown;
        })));
    String text = scrape(registry);
    assertEquals(0, value(text, "grpc_server_calls_in_flight"), text);
    assertEquals(1, value(text, "grpc_server_handled_total{grpc_code=\"UNKNOWN\","
        + "grpc_method=\"other\",grpc_service=\"other\",grpc_type=\"UNARY\"}"), text);
  }

  private static String scrape(PrometheusRegistry registry) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrometheusTextFormatWriter.create().write(out, registry.scrape());
    return out.toString(StandardCharsets.UTF_8);
  }

  private static double value(String text, String series) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(text);
    return m.find() ? Double.parseDouble(m.group(1)) : -1;
  }
}
