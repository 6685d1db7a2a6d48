package dev.wsgrpc.gateway;

import dev.wsgrpc.server.JsonSchemas;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.grpc.testing.integration.TestServiceGrpc;
import io.grpc.testing.integration.TestServiceImpl;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * What demo mode serves in-process: {@code grpc.health.v1.Health}, server reflection (v1 and v1alpha, so standard
 * tools can list and call services through the tunnel) and the interop {@code grpc.testing.TestService}, so that any
 * language's interop client can check a path end to end. Its calls are counted as proxy mode's are
 * ({@link dev.wsgrpc.gateway.proxy.CallMetrics}, which the server applies).
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
  private List<ServerServiceDefinition> services;

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
      ServerServiceDefinition testService =
          ServerInterceptors.intercept(new TestServiceImpl(testServiceTimer), TestServiceImpl.interceptors());
      services = List.of(testService, health.getHealthService().bindService(),
          ProtoReflectionServiceV1.newInstance().bindService(), ProtoReflectionService.newInstance().bindService());
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
}
