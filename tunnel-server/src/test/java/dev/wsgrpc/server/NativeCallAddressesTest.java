package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What a native gRPC call (h2c, no tunnel) from a trusted proxy tells its authenticator and its service: the client
 * the proxy named in the call's headers as {@link UpgradeRequest#clientAddress()} and
 * {@link Grpc#TRANSPORT_ATTR_REMOTE_ADDR}, and the socket's peer, the proxy, as {@link UpgradeRequest#peerAddress()},
 * as a tunnel's upgrade request has them; and that the {@link TunnelAdmission} is asked about that client.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NativeCallAddressesTest {

  private static final MethodDescriptor.Marshaller<String> STRINGS = new MethodDescriptor.Marshaller<String>() {
    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      try {
        return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };
  private static final MethodDescriptor<String, String> METHOD = MethodDescriptor.<String, String>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("test.Address/Get")
      .setRequestMarshaller(STRINGS).setResponseMarshaller(STRINGS).build();
  private static final Metadata.Key<String> X_FORWARDED_FOR =
      Metadata.Key.of("x-forwarded-for", Metadata.ASCII_STRING_MARSHALLER);

  private final List<UpgradeRequest> authenticated = new CopyOnWriteArrayList<>();
  private final List<SocketAddress> seenByService = new CopyOnWriteArrayList<>();
  private Server server;
  private ManagedChannel channel;

  @AfterEach
  void stop() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /**
   * Starts {@link #server} with {@code options} and a service that answers "ok" and notes in {@link #seenByService}
   * the client each call has, and opens {@link #channel} to it; returns the port.
   */
  private int start(WebSocketServerOptions options) throws IOException {
    ServerInterceptor recorder = new ServerInterceptor() {
      @Override
      public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
          ServerCallHandler<ReqT, RespT> next) {
        seenByService.add(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
        return next.startCall(call, headers);
      }
    };
    ServerServiceDefinition service = ServerServiceDefinition.builder("test.Address")
        .addMethod(METHOD, ServerCalls.asyncUnaryCall((request, response) -> {
          response.onNext("ok");
          response.onCompleted();
        })).build();
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), options)
        .addService(ServerInterceptors.intercept(service, recorder)).build().start();
    int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    return port;
  }

  /** A unary call on {@code channel} whose headers name {@code forwardedFor}, as a proxy appends it. */
  private static String callNaming(ManagedChannel channel, String forwardedFor, String request) {
    Metadata named = new Metadata();
    named.put(X_FORWARDED_FOR, forwardedFor);
    return ClientCalls.blockingUnaryCall(
        io.grpc.ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(named)), METHOD,
        CallOptions.DEFAULT, request);
  }

  @Test
  void aNativeCallFromATrustedProxyIsAdmittedForTheClientItNamesAsATunnelIs() throws Exception {
    // An admission that keeps one client out: its tunnels through the proxy get 403, and so must its native calls,
    // which the proxy (nginx grpc_pass) sends on a connection it opened for everyone.
    List<String> admitted = new CopyOnWriteArrayList<>();
    List<String> rejected = new CopyOnWriteArrayList<>();
    java.util.concurrent.CountDownLatch told = new java.util.concurrent.CountDownLatch(1);
    AccessPolicy access = AccessPolicy.newBuilder().admission((client, path) -> {
      String host = ((InetSocketAddress) client).getAddress().getHostAddress();
      admitted.add(host + " " + path);
      return host.equals("203.0.113.9") ? TunnelAdmission.Refusal.forbidden("203.0.113.9 is blocked") : null;
    }).trustedProxies(List.of("127.0.0.1")).build();
    TunnelListener listener = new TunnelListener() {
      @Override
      public void upgradeRejected(SocketAddress clientAddress, int status, RejectReason reason) {
        rejected.add(((InetSocketAddress) clientAddress).getAddress().getHostAddress() + " " + status + " " + reason);
        told.countDown();
      }
    };
    start(WebSocketServerOptions.newBuilder().nativeGrpc(true).access(access).listener(listener).build());

    assertEquals("ok", callNaming(channel, "198.51.100.7", "198.51.100.7"));
    StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
        () -> callNaming(channel, "203.0.113.9", "203.0.113.9"));
    assertEquals(Status.Code.PERMISSION_DENIED, refused.getStatus().getCode());
    assertEquals("203.0.113.9 is blocked", refused.getStatus().getDescription());
    // The same connection goes on for the proxy's other clients.
    assertEquals("ok", callNaming(channel, "198.51.100.8", "198.51.100.8"));

    assertEquals(List.of(new InetSocketAddress("198.51.100.7", 0), new InetSocketAddress("198.51.100.8", 0)),
        seenByService, "the refused client's call never reached the service");
    assertEquals(List.of("127.0.0.1 null", "198.51.100.7 null", "203.0.113.9 null", "198.51.100.8 null"), admitted,
        "the connection for its peer at its preface, then each call for the client it names");
    // The listener hears of the refusal once it has been written, which may be after the client has read it.
    assertTrue(told.await(30, java.util.concurrent.TimeUnit.SECONDS), "the listener heard of the refusal");
    assertEquals(List.of("203.0.113.9 403 rejected"), rejected);
  }

  @Test
  void aRefusalFor503IsNotAppliedToACallOnAConnectionAlreadyAdmitted() throws Exception {
    // A 503 is a drain or a lack of capacity: about connections. A proxy's call sent before it has read the GOAWAY
    // of a drain is served, as on any draining connection.
    AtomicBoolean draining = new AtomicBoolean();
    AccessPolicy access = AccessPolicy.newBuilder()
        .admission((client, path) -> draining.get() ? TunnelAdmission.Refusal.unavailable("draining", 5) : null)
        .trustedProxies(List.of("127.0.0.1")).build();
    start(WebSocketServerOptions.newBuilder().nativeGrpc(true).access(access).build());
    assertEquals("ok", callNaming(channel, "198.51.100.7", "198.51.100.7"));

    draining.set(true);
    assertEquals("ok", callNaming(channel, "198.51.100.8", "198.51.100.8"));
  }

  @Test
  void aNativeCallFromATrustedProxyNamesTheClientAsClientAndTheSocketsPeerAsPeer() throws Exception {
    // The test's own connection from loopback plays the trusted proxy (nginx grpc_pass) and names the client.
    AccessPolicy access = AccessPolicy.newBuilder().authenticator(request -> {
      authenticated.add(request);
      return AuthDecision.accept("p");
    }).trustedProxies(List.of("127.0.0.1")).build();
    int port = start(WebSocketServerOptions.newBuilder().nativeGrpc(true).access(access).build());

    // A call that names no one: the client is the socket's peer.
    assertEquals("ok", ClientCalls.blockingUnaryCall(channel, METHOD, CallOptions.DEFAULT, "plain"));
    // A call on the same connection naming a client, as a proxy appends it.
    assertEquals("ok", callNaming(channel, "203.0.113.9", "named"));

    assertEquals(2, authenticated.size());
    InetSocketAddress socketPeer = (InetSocketAddress) authenticated.get(0).peerAddress();
    assertEquals(InetAddress.getByName("127.0.0.1"), socketPeer.getAddress());
    assertNotEquals(0, socketPeer.getPort());
    assertNotEquals(port, socketPeer.getPort(), "the client's end of the socket, not the server's");
    assertEquals(socketPeer, authenticated.get(0).clientAddress(), "no header: the client is the peer");

    UpgradeRequest throughProxy = authenticated.get(1);
    assertEquals(new InetSocketAddress("203.0.113.9", 0), throughProxy.clientAddress(), "the client the proxy named");
    assertEquals(socketPeer, throughProxy.peerAddress(), "the socket's peer: the proxy");
    assertEquals(List.of(socketPeer, new InetSocketAddress("203.0.113.9", 0)), seenByService,
        "services see the client");
  }
}
