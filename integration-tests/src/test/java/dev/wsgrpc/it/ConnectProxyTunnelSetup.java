package dev.wsgrpc.it;

import io.grpc.ManagedChannel;
import io.grpc.ServerServiceDefinition;

/**
 * The tunnel server over wss or ws, reached through a real corporate proxy: client -> tinyproxy ({@code CONNECT} with
 * Basic authentication) -> tunnel server. For wss TLS runs end to end through the proxy; for ws the upgrade and the
 * tunnel's frames cross it in the clear, inside the CONNECT tunnel.
 */
final class ConnectProxyTunnelSetup implements TunnelSetup {

  private final TunnelClient client;
  private final boolean tls;
  private final DirectTunnelSetup server;
  private Tinyproxy proxy;

  /** Over wss. */
  ConnectProxyTunnelSetup(TunnelClient client) {
    this(client, true);
  }

  ConnectProxyTunnelSetup(TunnelClient client, boolean tls) {
    this.client = client;
    this.tls = tls;
    this.server = tls ? DirectTunnelSetup.wss(client) : DirectTunnelSetup.ws(client);
  }

  @Override
  public String name() {
    return (tls ? "tinyproxy-wss" : "tinyproxy-ws") + client.suffix();
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

  /** The {@code host:port} the proxy is asked to CONNECT to. */
  String connectTarget() {
    return server.url().replaceAll("^wss?://([^/]+)/.*$", "$1");
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
