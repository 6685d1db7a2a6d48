package dev.wsgrpc.it;

/** The interop cases through a real nginx in front of the tunnel server (ws). */
class NginxWsInteropTest extends AbstractInteropSuite {
  @Override
  protected TunnelSetup newSetup() {
    return ProxiedTunnelSetup.nginx(false);
  }
}
