package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.Descriptors;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.grpc.testing.integration.TestServiceGrpc;
import io.grpc.testing.integration.TestServiceImpl;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link ReflectionSchemas} against real grpc-java upstreams on loopback, with and without server reflection. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReflectionSchemasTest {

  private static final String UNARY = "grpc.testing.TestService/UnaryCall";

  private final List<Server> servers = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  /** Reflection calls the upstreams received, by method. */
  private final List<String> reflectionCalls = java.util.Collections.synchronizedList(new ArrayList<>());
  private final AtomicLong now = new AtomicLong();

  @AfterEach
  void stop() throws Exception {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    for (Server server : servers) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    timer.shutdownNow();
  }

  /** An upstream serving TestService and health, plus {@code reflection}; a channel to it as proxy mode builds. */
  private ManagedChannel upstream(BindableService... reflection) throws Exception {
    ServerInterceptor counting = new ServerInterceptor() {
      @Override
      public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
          ServerCallHandler<ReqT, RespT> next) {
        reflectionCalls.add(call.getMethodDescriptor().getServiceName());
        return next.startCall(call, headers);
      }
    };
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new TestServiceImpl(timer))
        .addService(new HealthStatusManager().getHealthService());
    for (BindableService service : reflection) {
      builder.addService(ServerInterceptors.intercept(service, counting));
    }
    Server server = builder.build().start();
    servers.add(server);
    return channelTo(((InetSocketAddress) server.getListenSockets().get(0)).getPort());
  }

  private ManagedChannel channelTo(int port) throws Exception {
    ManagedChannel channel = UpstreamChannel.create(UpstreamOptions.newBuilder()
        .upstreams(List.of("127.0.0.1:" + port)).healthCheckService(null).build());
    channels.add(channel);
    return channel;
  }

  private ReflectionSchemas schemas(ManagedChannel channel) {
    return new ReflectionSchemas(channel, Map.of(), Duration.ofMinutes(5), now::get);
  }

  private static Descriptors.MethodDescriptor await(ReflectionSchemas schemas, String method) throws Exception {
    return schemas.lookup(method).toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  private static Status failure(ReflectionSchemas schemas, String method) throws Exception {
    ExecutionException e = assertThrows(ExecutionException.class, () -> await(schemas, method));
    return Status.fromThrowable(e.getCause());
  }

  @Test
  void v1ReflectionDescribesTheMethodOnceForTheRefreshInterval() throws Exception {
    ReflectionSchemas schemas = schemas(upstream(ProtoReflectionServiceV1.newInstance()));
    Descriptors.MethodDescriptor unary = await(schemas, UNARY);
    assertEquals("grpc.testing.SimpleRequest", unary.getInputType().getFullName());
    assertEquals("grpc.testing.SimpleResponse", unary.getOutputType().getFullName());
    // The imports came too (messages.proto, empty.proto), so the types resolve fully.
    assertEquals("grpc.testing.Payload",
        unary.getInputType().findFieldByName("payload").getMessageType().getFullName());
    assertEquals("StreamingOutputCall",
        await(schemas, "grpc.testing.TestService/StreamingOutputCall").getName());
    assertEquals(unary, schemas.method(UNARY), "known now without waiting");
    assertEquals(List.of("grpc.reflection.v1.ServerReflection"), reflectionCalls);

    now.addAndGet(Duration.ofMinutes(5).toNanos());
    await(schemas, UNARY);
    assertEquals(2, reflectionCalls.size(), "fetched again after the refresh interval");
  }

  @Test
  @SuppressWarnings("deprecation") // ProtoReflectionService is v1alpha, deprecated for v1: exactly what this tests
  void anUpstreamWithV1alphaOnlyIsAskedThere() throws Exception {
    ReflectionSchemas schemas = schemas(upstream(ProtoReflectionService.newInstance()));
    assertEquals("UnaryCall", await(schemas, UNARY).getName());
    assertEquals(List.of("grpc.reflection.v1alpha.ServerReflection"), reflectionCalls);
  }

  @Test
  void anUnknownServiceOrMethodIsNullAndRemembered() throws Exception {
    ReflectionSchemas schemas = schemas(upstream(ProtoReflectionServiceV1.newInstance()));
    assertNull(await(schemas, "no.Such/Method"));
    assertNull(await(schemas, "no.Such/Method"));
    assertNull(await(schemas, "grpc.testing.TestService/NoSuchMethod"));
    assertEquals(2, reflectionCalls.size(), "one fetch per service: " + reflectionCalls);
    now.addAndGet(ReflectionSchemas.NEGATIVE_TTL.toNanos());
    assertNull(await(schemas, "no.Such/Method"));
    assertEquals(3, reflectionCalls.size(), "asked again after " + ReflectionSchemas.NEGATIVE_TTL);
    assertNull(await(schemas, "not-a-method-name"));
  }

  @Test
  void anUpstreamWithoutReflectionIsAFailedPreconditionThatSaysWhatToDo() throws Exception {
    ReflectionSchemas schemas = schemas(upstream());
    Status status = failure(schemas, UNARY);
    assertEquals(Status.Code.FAILED_PRECONDITION, status.getCode());
    assertTrue(status.getDescription().startsWith("expected the upstream to serve gRPC server reflection "
        + "(grpc.reflection.v1 or v1alpha) for the schema of grpc.testing.TestService but it answered "
        + "UNIMPLEMENTED"), status.getDescription());
    assertTrue(status.getDescription().endsWith("; turn reflection on there, or describe the service with "
        + "--descriptor-set"), status.getDescription());
  }

  @Test
  void anUnreachableUpstreamIsUnavailableAndNotRemembered() throws Exception {
    int closed = dev.wsgrpc.testing.ExternalProgram.freePort();
    ReflectionSchemas schemas = schemas(channelTo(closed));
    Status status = failure(schemas, UNARY);
    assertEquals(Status.Code.UNAVAILABLE, status.getCode());
    assertTrue(status.getDescription().startsWith("could not fetch the schema of grpc.testing.TestService from "
        + "the upstream's server reflection: UNAVAILABLE"), status.getDescription());
    // Not cached: a later call asks again (and fails again here, without waiting for a refresh).
    assertEquals(Status.Code.UNAVAILABLE, failure(schemas, UNARY).getCode());
  }

  /** The refresh is added to nanoTime(): a few hundred years overflowed there, long after the schemas were made. */
  @Test
  void theRefreshIsOneMillisecondToAbout25Days() {
    assertEquals("reflectionRefresh: 999999999999h (expected: at most 2147483647 ms, about 24.8 days)",
        assertThrows(IllegalArgumentException.class,
            () -> new ReflectionSchemas(null, Map.of(), Duration.ofHours(999_999_999_999L))).getMessage());
    assertEquals("reflectionRefresh: 0s (expected: > 0)", assertThrows(IllegalArgumentException.class,
        () -> new ReflectionSchemas(null, Map.of(), Duration.ZERO)).getMessage());
    new ReflectionSchemas(null, Map.of(), Duration.ofMillis(Integer.MAX_VALUE));
  }

  @Test
  void aDescriptorSetDescribesServicesWithoutAskingTheUpstream() throws Exception {
    ReflectionSchemas schemas = new ReflectionSchemas(upstream(),
        ReflectionSchemas.readDescriptorSet(descriptorSet(TestServiceGrpc.getServiceDescriptor(), true)
            .toByteArray()), Duration.ofMinutes(5));
    assertEquals("grpc.testing.SimpleRequest", await(schemas, UNARY).getInputType().getFullName());
    assertEquals("UnaryCall", schemas.method(UNARY).getName());
    assertTrue(reflectionCalls.isEmpty());
    // A service the set does not describe is asked of the upstream, which has no reflection here.
    assertEquals(Status.Code.FAILED_PRECONDITION, failure(schemas, HealthGrpc.SERVICE_NAME + "/Check").getCode());
  }

  @Test
  void aDescriptorSetWithoutItsImportsOrNotOneIsRefusedWithWhatWasExpected() {
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> ReflectionSchemas.readDescriptorSet(descriptorSet(TestServiceGrpc.getServiceDescriptor(), false)
            .toByteArray()));
    assertTrue(missing.getMessage().startsWith("expected every imported file (protoc --include_imports) but "),
        missing.getMessage());
    IllegalArgumentException garbage = assertThrows(IllegalArgumentException.class,
        () -> ReflectionSchemas.readDescriptorSet(new byte[] {(byte) 0xff, 1, 2}));
    assertTrue(garbage.getMessage().startsWith("expected a FileDescriptorSet (protoc --descriptor_set_out) but "),
        garbage.getMessage());
  }

  /** What protoc --descriptor_set_out writes for the service's file, with its imports or without. */
  static FileDescriptorSet descriptorSet(io.grpc.ServiceDescriptor service, boolean includeImports) {
    Descriptors.FileDescriptor file = ((io.grpc.protobuf.ProtoServiceDescriptorSupplier)
        service.getSchemaDescriptor()).getFileDescriptor();
    Set<Descriptors.FileDescriptor> all = new LinkedHashSet<>();
    if (includeImports) {
      addWithImports(file, all);
    } else {
      all.add(file);
    }
    FileDescriptorSet.Builder set = FileDescriptorSet.newBuilder();
    for (Descriptors.FileDescriptor each : all) {
      set.addFile(each.toProto());
    }
    return set.build();
  }

  private static void addWithImports(Descriptors.FileDescriptor file, Set<Descriptors.FileDescriptor> into) {
    for (Descriptors.FileDescriptor dependency : file.getDependencies()) {
      addWithImports(dependency, into);
    }
    into.add(file);
  }

  @Test
  void concurrentLookupsOfOneServiceShareOneFetch() throws Exception {
    ReflectionSchemas schemas = schemas(upstream(ProtoReflectionServiceV1.newInstance()));
    List<java.util.concurrent.CompletableFuture<Descriptors.MethodDescriptor>> lookups = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      lookups.add(schemas.lookup(UNARY).toCompletableFuture());
    }
    for (java.util.concurrent.CompletableFuture<Descriptors.MethodDescriptor> lookup : lookups) {
      assertEquals("UnaryCall", lookup.get(60, TimeUnit.SECONDS).getName());
    }
    assertEquals(1, reflectionCalls.size());
  }
}
