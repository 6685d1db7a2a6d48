package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.Descriptors;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.ProtoServiceDescriptorSupplier;
import io.grpc.protobuf.StatusProto;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * JSON over WebSocket ({@code wsgrpc-json}) through the gateway jar in proxy mode, schemas from a grpc-java upstream's
 * server reflection (or {@code --descriptor-set} for an upstream without it), driven by Python's {@code websockets}:
 * all four kinds, an error status with rich details, a missing token, a wrong Origin, an unknown method, and an
 * upstream without reflection.
 */
class GatewayJsonTest {

  private static final String ORIGIN = "https://app.example";
  private static final Metadata.Key<String> FAIL_WITH_DETAILS =
      Metadata.Key.of("x-fail-with-details", Metadata.ASCII_STRING_MARSHALLER);

  private static final List<Server> upstreams = new ArrayList<>();
  private static final List<TunnelServerJar> jars = new ArrayList<>();
  private static final EchoService echo = new EchoService();
  /** The jar in front of the upstream with reflection, with bearer tokens. */
  private static String reflecting;
  /** The jar in front of the upstream without reflection, with --descriptor-set describing Echo only. */
  private static String described;

  @BeforeAll
  static void start() throws Exception {
    Server withReflection = upstream(true);
    Server without = upstream(false);
    Path tokens = Files.createTempFile("json-tokens", ".txt");
    tokens.toFile().deleteOnExit();
    Files.writeString(tokens, "json-token alice\n");
    reflecting = start("--upstream", address(withReflection), "--browser-origins", ORIGIN,
        "--auth-tokens", tokens.toString());
    Path set = Files.createTempFile("echo", ".protoset");
    set.toFile().deleteOnExit();
    Files.write(set, descriptorSet(EchoGrpc.getServiceDescriptor()).toByteArray());
    described = start("--upstream", address(without), "--browser-origins", ORIGIN,
        "--descriptor-set", set.toString());
  }

  /** A grpc-java upstream: Echo (whose calls end with rich details when asked), health, and maybe reflection. */
  private static Server upstream(boolean reflection) throws Exception {
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(echo, new MetadataEchoInterceptor(), new FailWithDetails()))
        .addService(new HealthStatusManager().getHealthService());
    if (reflection) {
      builder.addService(ProtoReflectionServiceV1.newInstance());
    }
    Server server = builder.build().start();
    upstreams.add(server);
    return server;
  }

  private static String address(Server server) {
    return "127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  private static String start(String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of("--port", "0", "--bind", "127.0.0.1"));
    all.addAll(List.of(args));
    TunnelServerJar jar = TunnelServerJar.start(all.toArray(new String[0]));
    jars.add(jar);
    return "ws://127.0.0.1:" + URI.create(jar.awaitUrl()).getPort();
  }

  @AfterAll
  static void stop() throws Exception {
    for (TunnelServerJar jar : jars) {
      jar.close();
    }
    for (Server server : upstreams) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    echo.shutdown();
  }

  private static List<String> call(String base, String method, String metadata, String messages, String origin)
      throws Exception {
    return PythonJsonClient.call(base + "/" + method, metadata, messages, origin);
  }

  private static final String TOKEN = "\"authorization\": \"Bearer json-token\"";
  private static final String OK = "{\"status\":{\"code\":0,\"message\":\"\",\"details\":[]}}";

  /**
   * A request of 2,000,000 zeros (4 MB, under the 4 MiB message limit) would be a Gson tree of some 170 MiB: a gateway
   * with a heap of 96 MiB refuses it before reading it into one, and goes on serving.
   */
  @Test
  void aRequestOfMillionsOfSmallValuesIsRefusedUnreadByAGatewayWithASmallHeap() throws Exception {
    TunnelServerJar small = TunnelServerJar.start(List.of("-Xmx96m"), Map.of(), "--port", "0", "--bind",
        "127.0.0.1", "--upstream", address(upstreams.get(0)), "--browser-origins", ORIGIN);
    jars.add(small);
    URI unary = URI.create("ws://127.0.0.1:" + URI.create(small.awaitUrl()).getPort()
        + "/wsgrpc.testing.Echo/Unary");
    JdkBrowserSocket.Exchange refused = JdkBrowserSocket.call(unary, "wsgrpc-json",
        "{\"message\": {\"payload\": [" + "0,".repeat(1_999_999) + "0]}}");
    assertEquals(1000, refused.closeCode);
    assertEquals(List.of("{\"status\":{\"code\":8,\"message\":\"expected a JSON message of at most 262144 values "
        + "(one for every 16 bytes of the 4194304-byte message limit) but it had more\",\"details\":[]}}"),
        refused.texts());
    JdkBrowserSocket.Exchange next = JdkBrowserSocket.call(unary, "wsgrpc-json",
        "{\"message\": {\"payload\": \"aGk=\"}}", "{\"halfClose\": true}");
    assertTrue(next.texts().stream().anyMatch(t -> t.startsWith("{\"message\":{\"payload\":\"aGk=\"")),
        next.texts().toString());
    assertFalse(small.stderr().contains("OutOfMemoryError"), small.stderr());
  }

  @Test
  void unaryWithMetadataBothWays() throws Exception {
    List<String> lines = call(reflecting, "wsgrpc.testing.Echo/Unary",
        "{" + TOKEN + ", \"x-echo-initial\": \"from-python\"}", "[{\"payload\": \"aGk=\"}]", ORIGIN);
    assertEquals("subprotocol wsgrpc-json", lines.get(0));
    assertEquals("{\"metadata\":{\"x-echo-initial\":\"from-python\"}}", lines.get(1));
    assertEquals("{\"message\":{\"payload\":\"aGk=\",\"messagesReceived\":\"1\",\"bytesReceived\":\"2\"}}",
        lines.get(2));
    assertEquals(List.of(OK, "close 1000"), lines.subList(3, 5));
  }

  @Test
  void aDeadlineThatPassesOnTheGatewayIsDeadlineExceededNotCancelled() throws Exception {
    // The JDK's WebSocket client, not Python: this check runs where python3-websockets is not installed.
    JdkBrowserSocket.Exchange exchange = JdkBrowserSocket.call(URI.create(reflecting + "/wsgrpc.testing.Echo/Unary"),
        "wsgrpc-json", "{\"metadata\": {" + TOKEN + ", \"grpc-timeout\": \"500m\"}}",
        "{\"message\": {\"delayMs\": 3000}}", "{\"halfClose\": true}");
    assertEquals(1000, exchange.closeCode);
    String status = exchange.texts().get(exchange.texts().size() - 1);
    // Whichever ends the call first, the gateway's own deadline (its gRPC server resets the call) or the upstream's
    // (the proxied call ends with its status), the page sees the deadline.
    assertTrue(status.startsWith("{\"status\":{\"code\":4,\"message\":\""), status);
  }

  @Test
  void serverStreaming() throws Exception {
    List<String> lines = call(reflecting, "wsgrpc.testing.Echo/ServerStream", "{" + TOKEN + "}",
        "[{\"payload\": \"cw==\", \"count\": 20}]", null);
    assertEquals(20, lines.stream().filter(l -> l.startsWith("{\"message\":")).count(), lines.toString());
    assertEquals(List.of(OK, "close 1000"), lines.subList(lines.size() - 2, lines.size()));
  }

  @Test
  void clientStreaming() throws Exception {
    StringBuilder messages = new StringBuilder("[");
    for (int i = 0; i < 100; i++) {
      messages.append(i == 0 ? "" : ",").append("{\"payload\": \"YQ==\"}");
    }
    List<String> lines = call(reflecting, "wsgrpc.testing.Echo/ClientStream", "{" + TOKEN + "}",
        messages.append("]").toString(), null);
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("{\"message\":") && l.contains("\"messagesReceived\":"
        + "\"100\"")), lines.toString());
    assertEquals(OK, lines.get(lines.size() - 2));
  }

  @Test
  void bidi() throws Exception {
    List<String> lines = call(reflecting, "wsgrpc.testing.Echo/Bidi", "{" + TOKEN + "}",
        "[{\"payload\": \"YQ==\"}, {\"payload\": \"Yg==\"}]", null);
    assertEquals("{\"message\":{\"payload\":\"YQ==\",\"messagesReceived\":\"1\"}}", lines.get(2));
    assertEquals("{\"message\":{\"payload\":\"Yg==\",\"messagesReceived\":\"2\"}}", lines.get(3));
    assertEquals(List.of(OK, "close 1000"), lines.subList(4, 6));
  }

  @Test
  void anErrorStatusCarriesItsRichDetailsAsJson() throws Exception {
    List<String> lines = call(reflecting, "wsgrpc.testing.Echo/Unary",
        "{" + TOKEN + ", \"x-fail-with-details\": \"yes\"}", "[{}]", null);
    String status = lines.get(lines.size() - 2);
    assertTrue(status.startsWith("{\"status\":{\"code\":3,\"message\":\"payload must not be empty\",\"details\":["
        + "{\"@type\":\"type.googleapis.com/google.rpc.BadRequest\",\"fieldViolations\":[{\"field\":\"payload\","
        + "\"description\":\"empty\"}]},"
        + "{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"EMPTY_PAYLOAD\","
        + "\"domain\":\"echo.example\"}]}"), status);
    // The raw trailer is still there, base64, for clients that decode it themselves.
    assertTrue(status.contains("\"trailers\":{\"grpc-status-details-bin\":\""), status);
  }

  @Test
  void anErrorStatusWithoutDetails() throws Exception {
    List<String> lines = call(reflecting, "wsgrpc.testing.Echo/Unary", "{" + TOKEN + "}",
        "[{\"payload\": \"bm8gc3VjaCB0aGluZw==\", \"failWith\": 5}]", null);
    assertEquals("{\"status\":{\"code\":5,\"message\":\"no such thing\",\"details\":[]}}", lines.get(1));
  }

  @Test
  void aMissingTokenIsUnauthenticated() throws Exception {
    List<String> lines = call(reflecting, "wsgrpc.testing.Echo/Unary", "null", "[{}]", ORIGIN);
    assertTrue(lines.get(1).startsWith("{\"status\":{\"code\":16,"), lines.toString());
    assertEquals("close 1000", lines.get(2));
  }

  @Test
  void aWrongOriginIsPermissionDenied() throws Exception {
    List<String> lines = call(reflecting, "wsgrpc.testing.Echo/Unary", "{" + TOKEN + "}", "[{}]",
        "https://evil.example");
    assertEquals("{\"status\":{\"code\":7,\"message\":\"expected an allowed Origin but was "
        + "'https://evil.example'\",\"details\":[]}}", lines.get(1));
  }

  @Test
  void anUnknownMethodOrServiceIsUnimplemented() throws Exception {
    List<String> method = call(reflecting, "wsgrpc.testing.Echo/Nope", "{" + TOKEN + "}", "[{}]", null);
    assertEquals("{\"status\":{\"code\":12,\"message\":\"expected a method whose schema the server knows but "
        + "/wsgrpc.testing.Echo/Nope is not one\",\"details\":[]}}", method.get(1));
    List<String> service = call(reflecting, "no.Such/Service", "{" + TOKEN + "}", "[{}]", null);
    assertTrue(service.get(1).startsWith("{\"status\":{\"code\":12,"), service.toString());
  }

  @Test
  void anUpstreamWithoutReflectionIsAFailedPreconditionAndADescriptorSetServesIt() throws Exception {
    List<String> noReflection = call(described, "grpc.health.v1.Health/Check", "null", "[{}]", null);
    assertTrue(noReflection.get(1).startsWith("{\"status\":{\"code\":9,\"message\":\"expected the upstream to "
        + "serve gRPC server reflection (grpc.reflection.v1 or v1alpha) for the schema of grpc.health.v1.Health "
        + "but it answered UNIMPLEMENTED"), noReflection.toString());
    assertEquals("close 1000", noReflection.get(2));
    List<String> fromTheSet = call(described, "wsgrpc.testing.Echo/Bidi", "null", "[{\"payload\": \"YQ==\"}]",
        null);
    assertEquals("{\"message\":{\"payload\":\"YQ==\",\"messagesReceived\":\"1\"}}", fromTheSet.get(2));
    assertEquals(OK, fromTheSet.get(3));
  }

  @Test
  void jsonCallsAreCountedInTheGatewaysCallMetricsLikeEveryOtherCall() throws Exception {
    call(described, "wsgrpc.testing.Echo/ClientStream", "null", "[{\"payload\": \"YQ==\"}]", null);
    jars.get(1).awaitMetrics(URI.create(described).getPort(), metrics -> metrics.lines().anyMatch(line ->
        line.startsWith("grpc_server_handled_total{") && line.contains("grpc_service=\"wsgrpc.testing.Echo\"")
            && line.contains("grpc_method=\"ClientStream\"") && line.contains("grpc_code=\"OK\"")));
  }

  /** Ends an Echo call with INVALID_ARGUMENT and google.rpc details when the caller sends x-fail-with-details. */
  private static final class FailWithDetails implements ServerInterceptor {
    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
        ServerCallHandler<ReqT, RespT> next) {
      if (headers.get(FAIL_WITH_DETAILS) == null) {
        return next.startCall(call, headers);
      }
      com.google.rpc.Status rich = com.google.rpc.Status.newBuilder().setCode(3)
          .setMessage("payload must not be empty")
          .addDetails(Any.pack(BadRequest.newBuilder().addFieldViolations(BadRequest.FieldViolation.newBuilder()
              .setField("payload").setDescription("empty")).build()))
          .addDetails(Any.pack(ErrorInfo.newBuilder().setReason("EMPTY_PAYLOAD").setDomain("echo.example").build()))
          .build();
      io.grpc.StatusRuntimeException failure = StatusProto.toStatusRuntimeException(rich);
      call.close(failure.getStatus(), failure.getTrailers());
      return new ServerCall.Listener<ReqT>() { };
    }
  }

  /** What protoc --descriptor_set_out --include_imports writes for the service's file. */
  private static FileDescriptorSet descriptorSet(io.grpc.ServiceDescriptor service) {
    Set<Descriptors.FileDescriptor> files = new LinkedHashSet<>();
    addWithImports(((ProtoServiceDescriptorSupplier) service.getSchemaDescriptor()).getFileDescriptor(), files);
    FileDescriptorSet.Builder set = FileDescriptorSet.newBuilder();
    files.forEach(file -> set.addFile(file.toProto()));
    return set.build();
  }

  private static void addWithImports(Descriptors.FileDescriptor file, Set<Descriptors.FileDescriptor> into) {
    for (Descriptors.FileDescriptor dependency : file.getDependencies()) {
      addWithImports(dependency, into);
    }
    into.add(file);
  }
}
