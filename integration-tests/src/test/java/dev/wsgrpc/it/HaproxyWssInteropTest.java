package dev.wsgrpc.it;

/** The interop cases through a real haproxy in front of the tunnel server (wss, TLS terminated at haproxy). */
class HaproxyWssInteropTest extends AbstractInteropSuite {
  @Override
  protected TunnelSetup newSetup() {
    return ProxiedTunnelSetup.haproxy(true);
  }
}
