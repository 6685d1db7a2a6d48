package dev.wsgrpc.gateway;

import dev.wsgrpc.server.JsonSchemas;
import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.grpc.testing.integration.TestServiceGrpc;
import io.grpc.testing.integration.TestServiceImpl;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * What demo mode serves in-process: {@code grpc.health.v1.Health}, server reflection (v1 and v1alpha, so standard
 * tools can list and call services through the tunnel) and the interop {@code grpc.testing.TestService}, so that any
 * language's interop client can check a path end to end. Counts RPCs by method and status.
 */
final class DemoServices implements AutoCloseable {

  static final String[] NAMES = {"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection", TestServiceGrpc.SERVICE_NAME};

  private final ScheduledExecutorService testServiceTimer = Executors.newScheduledThreadPool(1, r -> {
    Thread t = new Thread(r, "demo-test-service");
    t.setDaemon(true);
    return t;
  });
  private final HealthStatusManager health = new HealthStatusManager();
  private final Counter handled;
  private List<ServerServiceDefinition> services;

  DemoServices(PrometheusRegistry registry) {
    handled = Counter.builder()
        .name("grpc_server_handled_total")
        .help("RPCs completed by the demo services, by method and status")
        .labelNames("grpc_method", "grpc_code")
        .register(registry);
  }

  /** Adds the services to {@code builder}. */
  void addTo(NettyServerBuilder builder) {
    for (ServerServiceDefinition service : services()) {
      builder.addService(service);
    }
  }

  /** The services' schemas, for JSON over WebSocket. */
  JsonSchemas schemas() {
    return JsonSchemas.of(services());
  }

  private synchronized List<ServerServiceDefinition> services() {
    if (services == null) {
      health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.SERVING);
      health.setStatus(TestServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
      ServerInterceptor counting = new RpcCounter();
      ServerServiceDefinition testService = ServerInterceptors.intercept(
          ServerInterceptors.intercept(new TestServiceImpl(testServiceTimer), TestServiceImpl.interceptors()),
          counting);
      services = List.of(testService,
          ServerInterceptors.intercept(health.getHealthService(), counting),
          ServerInterceptors.intercept(ProtoReflectionServiceV1.newInstance(), counting),
          ServerInterceptors.intercept(ProtoReflectionService.newInstance(), counting));
    }
    return services;
  }

  /** Reports NOT_SERVING from now on (a drain has begun). */
  void notServing() {
    health.enterTerminalState();
  }

  @Override
  public void close() {
    testServiceTimer.shutdownNow();
  }

  /** Counts every RPC once, when it ends, under its method and status code. */
  private final class RpcCounter implements ServerInterceptor {
    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
        ServerCallHandler<ReqT, RespT> next) {
      String method = call.getMethodDescriptor().getFullMethodName();
      return next.startCall(new SimpleForwardingServerCall<ReqT, RespT>(call) {
        @Override
        public void close(Status status, Metadata trailers) {
          handled.labelValues(method, status.getCode().name()).inc();
          super.close(status, trailers);
        }
      }, headers);
    }
  }
}
