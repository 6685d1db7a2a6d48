package dev.wsgrpc.it;

/** The shared suite through a real nginx in front of the tunnel server (ws). */
class NginxWsEndToEndTest extends AbstractEndToEndSuite {
  @Override
  protected TunnelSetup newSetup() {
    return ProxiedTunnelSetup.nginx(false);
  }
}
