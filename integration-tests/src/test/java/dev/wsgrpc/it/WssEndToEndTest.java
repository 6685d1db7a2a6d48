package dev.wsgrpc.it;

/** The shared suite over wss: TLS with a certificate issued for this run, verified by the client. */
class WssEndToEndTest extends AbstractEndToEndSuite {
  @Override
  protected TunnelSetup newSetup() {
    return DirectTunnelSetup.wss();
  }
}
