package dev.wsgrpc.it;

/** The shared suite through a real haproxy in front of the tunnel server (wss, TLS terminated at haproxy). */
class HaproxyWssEndToEndTest extends AbstractEndToEndSuite {
  @Override
  protected TunnelSetup newSetup() {
    return ProxiedTunnelSetup.haproxy(true);
  }
}
