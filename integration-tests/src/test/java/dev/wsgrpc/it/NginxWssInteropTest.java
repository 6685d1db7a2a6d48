package dev.wsgrpc.it;

/** The interop cases through a real nginx in front of the tunnel server (wss, TLS terminated at nginx). */
class NginxWssInteropTest extends AbstractInteropSuite {
  @Override
  protected TunnelSetup newSetup() {
    return ProxiedTunnelSetup.nginx(true);
  }
}
