package dev.wsgrpc.it;

import io.grpc.ManagedChannel;
import io.grpc.ServerServiceDefinition;

/**
 * The tunnel server over wss, reached through a real corporate proxy: client -> tinyproxy ({@code CONNECT} with
 * Basic authentication) -> tunnel server. TLS runs end to end through the proxy.
 */
final class ConnectProxyTunnelSetup implements TunnelSetup {

  private final TunnelClient client;
  private final DirectTunnelSetup server;
  private Tinyproxy proxy;

  ConnectProxyTunnelSetup(TunnelClient client) {
    this.client = client;
    this.server = DirectTunnelSetup.wss(client);
  }

  @Override
  public String name() {
    return "tinyproxy-wss" + client.suffix();
  }

  @Override
  public void start(ServerServiceDefinition... services) throws Exception {
    proxy = Tinyproxy.start();
    server.start(services);
  }

  @Override
  public ManagedChannel newChannel() {
    return client.newChannel(server.target().proxy("127.0.0.1", proxy.port(), Tinyproxy.USER, Tinyproxy.PASSWORD));
  }

  /** The proxy, to check that connections went through it. */
  Tinyproxy proxy() {
    return proxy;
  }

  @Override
  public String url() {
    return server.url();
  }

  @Override
  public void close() throws Exception {
    server.close();
    if (proxy != null) {
      proxy.close();
    }
  }

  @Override
  public String toString() {
    return name();
  }
}
