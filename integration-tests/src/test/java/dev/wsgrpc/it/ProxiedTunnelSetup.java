package dev.wsgrpc.it;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.NettyServerBuilder;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * The tunnel server behind a real layer-7 reverse proxy on loopback, configured as CDN and proxy guides describe
 * (HTTP/1.1 to the upstream, Upgrade and Connection passed on): client -> nginx or HAProxy -> tunnel server. With
 * TLS, the proxy terminates it (certificate for {@code localhost} from {@link TestCertificates}) and speaks plain ws
 * to the tunnel server, as a CDN edge does.
 */
final class ProxiedTunnelSetup implements TunnelSetup {

  private final ReverseProxy.Kind kind;
  private final boolean tls;
  private final String idleTimeout;
  private TunnelClient client = TunnelClient.NETTY;
  private boolean clientOptionsSet;
  private UnaryOperator<WebSocketClientOptions.Builder> clientOptions = b -> b;
  private Consumer<NettyServerBuilder> serverConfig = b -> { };
  private TestCertificates certs;
  private Server server;
  private ReverseProxy proxy;
  private String url;

  private ProxiedTunnelSetup(ReverseProxy.Kind kind, boolean tls, String idleTimeout) {
    this.kind = kind;
    this.tls = tls;
    this.idleTimeout = idleTimeout;
  }

  static ProxiedTunnelSetup nginx(boolean tls) {
    return new ProxiedTunnelSetup(ReverseProxy.Kind.NGINX, tls, "1h");
  }

  static ProxiedTunnelSetup haproxy(boolean tls) {
    return new ProxiedTunnelSetup(ReverseProxy.Kind.HAPROXY, tls, "1h");
  }

  /** nginx whose idle timeouts ({@code proxy_read_timeout}, {@code proxy_send_timeout}) are {@code idleTimeout}. */
  static ProxiedTunnelSetup nginx(boolean tls, String idleTimeout) {
    return new ProxiedTunnelSetup(ReverseProxy.Kind.NGINX, tls, idleTimeout);
  }

  /** Adjusts the options of every channel {@link #newChannel()} makes. */
  ProxiedTunnelSetup clientOptions(UnaryOperator<WebSocketClientOptions.Builder> adjust) {
    this.clientOptions = adjust;
    this.clientOptionsSet = true;
    return this;
  }

  /** Makes channels with {@code client} (default: the Netty client). */
  ProxiedTunnelSetup client(TunnelClient client) {
    this.client = client;
    return this;
  }

  /** Adjusts the tunnel server's builder before it is built. */
  ProxiedTunnelSetup serverConfig(Consumer<NettyServerBuilder> adjust) {
    this.serverConfig = adjust;
    return this;
  }

  @Override
  public String name() {
    return kind.program + (tls ? "-wss" : "-ws") + client.suffix();
  }

  @Override
  public void start(ServerServiceDefinition... services) throws Exception {
    kind.require();
    NettyServerBuilder builder = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.DEFAULT).maxInboundMessageSize(DirectTunnelSetup.MAX_MESSAGE);
    for (ServerServiceDefinition service : services) {
      builder.addService(service);
    }
    serverConfig.accept(builder);
    server = builder.build().start();
    int upstream = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    if (tls) {
      certs = TestCertificates.create();
    }
    proxy = kind == ReverseProxy.Kind.NGINX
        ? ReverseProxy.nginxTunnel(upstream, certs, idleTimeout)
        : ReverseProxy.haproxyTunnel(upstream, certs, idleTimeout);
    proxy.start();
    url = (tls ? "wss://localhost:" : "ws://127.0.0.1:") + proxy.port() + "/grpc";
  }

  /** Options for a channel to the proxy: the URL, and trust in the proxy's certificate for wss. */
  WebSocketClientOptions.Builder options() {
    WebSocketClientOptions.Builder options = WebSocketClientOptions.newBuilder(url);
    if (tls) {
      options.tls(ClientTls.trusting(certs.caPem()));
    }
    return clientOptions.apply(options);
  }

  @Override
  public ManagedChannel newChannel() {
    if (client != TunnelClient.NETTY) {
      if (clientOptionsSet) {
        throw new IllegalStateException("clientOptions adjusts the Netty client's options only");
      }
      return client.newChannel(new TunnelClient.Target(url).trust(tls ? certs.caPem() : null));
    }
    return WebSocketChannels.newChannelBuilder(options().build())
        .maxInboundMessageSize(DirectTunnelSetup.MAX_MESSAGE)
        .build();
  }

  @Override
  public String url() {
    return url;
  }

  ReverseProxy proxy() {
    return proxy;
  }

  Server server() {
    return server;
  }

  @Override
  public void close() throws Exception {
    if (proxy != null) {
      proxy.close();
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Override
  public String toString() {
    return name();
  }
}
