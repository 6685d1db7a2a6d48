package dev.wsgrpc.it;

/** The shared suite through a real nginx in front of the tunnel server (wss, TLS terminated at nginx). */
class NginxWssEndToEndTest extends AbstractEndToEndSuite {
  @Override
  protected TunnelSetup newSetup() {
    return ProxiedTunnelSetup.nginx(true);
  }
}
