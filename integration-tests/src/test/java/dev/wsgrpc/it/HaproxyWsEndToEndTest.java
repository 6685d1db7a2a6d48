package dev.wsgrpc.it;

/** The shared suite through a real haproxy in front of the tunnel server (ws). */
class HaproxyWsEndToEndTest extends AbstractEndToEndSuite {
  @Override
  protected TunnelSetup newSetup() {
    return ProxiedTunnelSetup.haproxy(false);
  }
}
