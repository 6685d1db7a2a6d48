package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.grpc.Attributes;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import org.junit.jupiter.api.Test;

class GrpcWebAdmissionsTest {

  private static final Metadata.Key<String> HEADER =
      Metadata.Key.of(GrpcWebAdmissions.HEADER, Metadata.ASCII_STRING_MARSHALLER);
  private static final SocketAddress PROXY = new InetSocketAddress("127.0.0.1", 40000);
  private static final SocketAddress ALICE_HOST = new InetSocketAddress("198.51.100.7", 0);
  private static final SocketAddress BOB_HOST = new InetSocketAddress("203.0.113.9", 0);

  private static final MethodDescriptor.Marshaller<InputStream> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(InputStream value) {
      return value;
    }

    @Override
    public InputStream parse(InputStream stream) {
      return stream;
    }
  };

  /** A call as gRPC hands it to the interceptor: the connection's attributes; records how it was closed. */
  private static final class RecordingCall extends ServerCall<InputStream, InputStream> {
    final Attributes attributes;
    Status closed;

    RecordingCall() {
      this(Attributes.newBuilder());
    }

    /** A call of a gRPC-Web connection whose admissions are {@code table}, as GrpcHandoffHandler sets them up. */
    RecordingCall(GrpcWebAdmissions table) {
      this(Attributes.newBuilder().set(GrpcWebAdmissions.ATTRIBUTE, table));
    }

    private RecordingCall(Attributes.Builder attributes) {
      this.attributes = attributes.set(Grpc.TRANSPORT_ATTR_REMOTE_ADDR, PROXY)
          .set(TunnelPrincipal.ATTRIBUTE, "connection-principal")
          .build();
    }

    @Override
    public void request(int numMessages) {}

    @Override
    public void sendHeaders(Metadata headers) {}

    @Override
    public void sendMessage(InputStream message) {}

    @Override
    public void close(Status status, Metadata trailers) {
      closed = status;
    }

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public Attributes getAttributes() {
      return attributes;
    }

    @Override
    public MethodDescriptor<InputStream, InputStream> getMethodDescriptor() {
      return MethodDescriptor.<InputStream, InputStream>newBuilder().setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("wsgrpc.testing.Echo/Unary").setRequestMarshaller(BYTES).setResponseMarshaller(BYTES)
          .build();
    }
  }

  /** What the service saw: principal in the Context and the call attribute, client, whether the header was left. */
  private static String[] seen = new String[1];

  private static final ServerCallHandler<InputStream, InputStream> SERVICE = (call, headers) -> {
    seen[0] = TunnelPrincipal.current() + " " + call.getAttributes().get(TunnelPrincipal.ATTRIBUTE) + " "
        + call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR) + " " + headers.containsKey(HEADER);
    return new ServerCall.Listener<>() {};
  };

  private static Metadata metadataOf(HttpHeaders request) {
    Metadata metadata = new Metadata();
    request.getAll(GrpcWebAdmissions.HEADER).forEach(id -> metadata.put(HEADER, id));
    return metadata;
  }

  private static Status call(GrpcWebAdmissions admissions, Metadata metadata) {
    seen[0] = null;
    RecordingCall call = new RecordingCall();
    admissions.interceptCall(call, metadata, SERVICE);
    return call.closed;
  }

  @Test
  void eachCallHasTheIdentityItsRequestWasAdmittedWithOnce() {
    GrpcWebAdmissions admissions = new GrpcWebAdmissions();
    HttpHeaders first = new DefaultHttpHeaders();
    admissions.admit(first, "alice", ALICE_HOST);
    Metadata firstCall = metadataOf(first);
    assertNull(call(admissions, firstCall));
    assertEquals("alice alice " + ALICE_HOST + " false", seen[0]);

    HttpHeaders second = new DefaultHttpHeaders();
    admissions.admit(second, null, BOB_HOST);
    assertNull(call(admissions, metadataOf(second)));
    assertEquals("null null " + BOB_HOST + " false", seen[0], "no principal, never the connection's or alice's");

    assertEquals("expected a gRPC-Web call admitted on this connection but its admission was no longer current",
        call(admissions, metadataOf(second)).getDescription(), "an admission is taken once");
    assertNull(seen[0]);
  }

  @Test
  void aCallThatStartsAfterTheNextRequestWasAdmittedFindsNothing() {
    GrpcWebAdmissions admissions = new GrpcWebAdmissions();
    HttpHeaders first = new DefaultHttpHeaders();
    admissions.admit(first, "alice", ALICE_HOST);
    HttpHeaders second = new DefaultHttpHeaders();
    admissions.admit(second, "bob", BOB_HOST);
    Status late = call(admissions, metadataOf(first));
    assertEquals(Status.Code.UNAUTHENTICATED, late.getCode());
    assertNull(seen[0]);
    assertNull(call(admissions, metadataOf(second)));
    assertEquals("bob bob " + BOB_HOST + " false", seen[0]);
  }

  @Test
  void aCallWithoutOrWithSeveralAdmissionsIsRefusedBeforeTheService() {
    GrpcWebAdmissions admissions = new GrpcWebAdmissions();
    HttpHeaders request = new DefaultHttpHeaders();
    admissions.admit(request, "alice", ALICE_HOST);
    assertEquals("expected a gRPC-Web call admitted on this connection but it carried no admission",
        call(admissions, new Metadata()).getDescription());
    Metadata two = metadataOf(request);
    two.put(HEADER, "7");
    assertEquals("expected a gRPC-Web call admitted on this connection but it carried 2 admissions",
        call(admissions, two).getDescription());
    assertNull(seen[0]);
  }

  @Test
  void aSecondPrincipalInterceptorInsideTheFirstKeepsTheCallsIdentity() {
    // An application that adds TunnelPrincipal.interceptor() itself (per service, say) on a WebSocketServers server.
    GrpcWebAdmissions admissions = new GrpcWebAdmissions();
    HttpHeaders request = new DefaultHttpHeaders();
    admissions.admit(request, "alice", ALICE_HOST);
    seen[0] = null;
    RecordingCall call = new RecordingCall(admissions);
    TunnelPrincipal.interceptor().interceptCall(call, metadataOf(request),
        (inner, headers) -> TunnelPrincipal.interceptor().interceptCall(inner, headers, SERVICE));
    assertNull(call.closed);
    assertEquals("alice alice " + ALICE_HOST + " false", seen[0]);
  }

  @Test
  void eachCallHasItsOwnPathNotTheConnectionsFirst() {
    GrpcWebAdmissions admissions = new GrpcWebAdmissions();
    HttpHeaders request = new DefaultHttpHeaders();
    admissions.admit(request, null, ALICE_HOST);
    String[] path = new String[1];
    RecordingCall call = new RecordingCall(Attributes.newBuilder()
        .set(WebSocketServers.TUNNEL_PATH, "/first.Svc/First"));
    admissions.interceptCall(call, metadataOf(request), (admitted, headers) -> {
      path[0] = admitted.getAttributes().get(WebSocketServers.TUNNEL_PATH);
      return new ServerCall.Listener<>() {};
    });
    assertNull(call.closed);
    assertEquals("/wsgrpc.testing.Echo/Unary", path[0]);
  }

  @Test
  void theHeaderAClientSendsIsStripped() {
    HttpHeaders request = new DefaultHttpHeaders().add(GrpcWebAdmissions.HEADER, "1")
        .add("WSGRPC-Admission", "2").add("authorization", "Bearer t");
    GrpcWebAdmissions.strip(request);
    assertFalse(request.contains(GrpcWebAdmissions.HEADER));
    assertEquals("Bearer t", request.get("authorization"));
  }
}
