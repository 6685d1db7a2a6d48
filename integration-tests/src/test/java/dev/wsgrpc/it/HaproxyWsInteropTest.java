package dev.wsgrpc.it;

/** The interop cases through a real haproxy in front of the tunnel server (ws). */
class HaproxyWsInteropTest extends AbstractInteropSuite {
  @Override
  protected TunnelSetup newSetup() {
    return ProxiedTunnelSetup.haproxy(false);
  }
}
