package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.RejectReason;
import dev.wsgrpc.server.TunnelInfo;
import dev.wsgrpc.server.TunnelListener;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A client behind a real nginx or HAProxy, configured as docs/DEPLOYMENT.md says (they append the client's address
 * to {@code X-Forwarded-For}), cannot choose the address that services, listeners and the per-client limit see by
 * sending {@code Forwarded} or {@code X-Forwarded-For} of its own. The proxy connects to the server from 127.0.0.2,
 * the only trusted address; the client connects to the proxy from 127.0.0.1, which is then its true address.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ClientAddressBehindProxyTest {

  private static final String PROXY_SOURCE = "127.0.0.2";

  private final List<SocketAddress> seenByServices = new CopyOnWriteArrayList<>();
  private final List<SocketAddress> seenByListener = new CopyOnWriteArrayList<>();
  private final List<String> refusals = new CopyOnWriteArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();
  private Server server;
  private ReverseProxy proxy;

  @AfterEach
  void stop() throws Exception {
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (proxy != null) {
      proxy.close();
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private int startServer() throws Exception {
    return startServer(PROXY_SOURCE + "/32");
  }

  private int startServer(String trusted) throws Exception {
    ServerInterceptor recorder = new ServerInterceptor() {
      @Override
      public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
          ServerCallHandler<ReqT, RespT> next) {
        seenByServices.add(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
        return next.startCall(call, headers);
      }
    };
    WebSocketServerOptions options = WebSocketServerOptions.newBuilder().nativeGrpc(true)
        .access(AccessPolicy.newBuilder().trustedProxies(List.of(trusted)).maxTunnelsPerClient(1).build())
        .listener(new TunnelListener() {
          @Override
          public void tunnelOpened(TunnelInfo tunnel) {
            seenByListener.add(tunnel.clientAddress());
          }

          @Override
          public void upgradeRejected(SocketAddress client, int status, RejectReason reason) {
            refusals.add(status + " " + reason + " " + client);
          }
        })
        .build();
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), options)
        .addService(ServerInterceptors.intercept(new EchoService(), recorder))
        .build().start();
    return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  /** A channel through the proxy whose upgrade carries spoofed forwarding headers. */
  private ManagedChannel spoofing(String forwardedFor, String forwarded) {
    ManagedChannel c = WebSocketChannels.newChannelBuilder(WebSocketClientOptions
        .newBuilder("ws://127.0.0.1:" + proxy.port() + "/grpc")
        .header("X-Forwarded-For", forwardedFor)
        .header("Forwarded", forwarded)
        .build()).build();
    channels.add(c);
    return c;
  }

  private static int call(Channel channel) {
    return EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .unary(EchoService.payload(3)).getPayload().size();
  }

  @Test
  void nginxSpoofedForwardingHeadersChangeNeitherTheAddressNorTheLimit() throws Exception {
    int port = startServer();
    // The repository's nginx configuration, connecting upstream from the trusted address.
    proxy = ReverseProxy.nginxTunnel(port, null, "1h", "localhost", "proxy_bind " + PROXY_SOURCE + ";\n").start();
    assertSpoofingFails();
  }

  @Test
  void haproxySpoofedForwardingHeadersChangeNeitherTheAddressNorTheLimit() throws Exception {
    int port = startServer();
    proxy = ReverseProxy.haproxyTunnel("127.0.0.1:" + port + " source " + PROXY_SOURCE, null, "1h").start();
    assertSpoofingFails();
  }

  @Test
  void nginxGrpcPassSpoofedForwardingHeaderDoesNotChangeANativeCallsAddress() throws Exception {
    int port = startServer();
    proxy = ReverseProxy.nginxNativeGrpc(port, null, "grpc_bind " + PROXY_SOURCE + ";\n").start();
    // Through nginx (peer 127.0.0.2, trusted): the client nginx appended, not the one the client wrote.
    assertEquals(3, call(nativeSpoofing(proxy.port(), "198.51.100.1")), proxy.output());
    // Straight to the server (peer 127.0.0.1, not trusted): the header is not read at all.
    assertEquals(3, call(nativeSpoofing(port, "198.51.100.1, " + PROXY_SOURCE)));
    assertEquals(2, seenByServices.size(), seenByServices.toString());
    assertEquals("127.0.0.1", address(seenByServices.get(0)), "services see the client's real address");
    assertEquals("127.0.0.1", address(seenByServices.get(1)), "services see the socket's peer");
  }

  @Test
  void haproxyH2SpoofedForwardingHeaderDoesNotChangeANativeCallsAddress() throws Exception {
    int port = startServer();
    int proxyPort = ExternalProgram.freePort();
    proxy = ReverseProxy.haproxy(proxyPort, "proxies/haproxy-native-grpc.cfg", Map.of(
        "BIND", "127.0.0.1:" + proxyPort + " proto h2", "UPSTREAM", "127.0.0.1:" + port + " source " + PROXY_SOURCE))
        .start();
    assertEquals(3, call(nativeSpoofing(proxyPort, "198.51.100.1")), proxy.output());
    assertEquals(1, seenByServices.size(), seenByServices.toString());
    assertEquals("127.0.0.1", address(seenByServices.get(0)), "services see the client's real address");
  }

  @Test
  void aNativeCallFromATrustedProxyHasTheClientItNames() throws Exception {
    int port = startServer("127.0.0.1/32");
    assertEquals(3, call(nativeSpoofing(port, "198.51.100.1")));
    assertEquals("198.51.100.1", address(seenByServices.get(0)));
    // Inside a tunnel, the call's own header is never read: the upgrade named the client.
    ManagedChannel tunnel = WebSocketChannels.newChannel("ws://127.0.0.1:" + port + "/grpc");
    channels.add(tunnel);
    assertEquals(3, call(ClientInterceptors.intercept(tunnel,
        MetadataUtils.newAttachHeadersInterceptor(forwardedFor("198.51.100.2")))));
    assertEquals("127.0.0.1", address(seenByServices.get(1)));
  }

  /** A native (h2c) channel to {@code port} whose calls carry {@code x-forwarded-for: value}. */
  private Channel nativeSpoofing(int port, String value) {
    ManagedChannel c = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    channels.add(c);
    return ClientInterceptors.intercept(c,
        MetadataUtils.newAttachHeadersInterceptor(forwardedFor(value)));
  }

  private static Metadata forwardedFor(String value) {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("x-forwarded-for", Metadata.ASCII_STRING_MARSHALLER), value);
    return headers;
  }

  private void assertSpoofingFails() {
    assertEquals(3, call(spoofing("198.51.100.1", "for=198.51.100.2")), proxy.output());
    assertEquals(1, seenByServices.size());
    assertEquals("127.0.0.1", address(seenByServices.get(0)), "services see the client's real address");
    assertEquals("127.0.0.1", address(seenByListener.get(0)), "the listener sees the client's real address");

    // Another spoofed address, even one inside the trusted block, is still the same client: over its limit.
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> call(spoofing("198.51.100.3, " + PROXY_SOURCE, "for=198.51.100.4, for=" + PROXY_SOURCE)));
    assertTrue(e.getStatus().getDescription().startsWith("expected HTTP 101 but was 503 Service Unavailable"),
        e.getStatus().getDescription());
    assertEquals(1, refusals.size(), refusals.toString());
    assertTrue(refusals.get(0).startsWith("503 too_many_tunnels_per_client /127.0.0.1:"), refusals.toString());
    assertEquals(1, seenByListener.size(), seenByListener.toString());
  }

  private static String address(SocketAddress a) {
    return ((InetSocketAddress) a).getAddress().getHostAddress();
  }
}
