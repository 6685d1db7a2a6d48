package dev.wsgrpc.it;

/** The shared suite over ws: client and server on loopback, no TLS. */
class WsEndToEndTest extends AbstractEndToEndSuite {
  @Override
  protected TunnelSetup newSetup() {
    return DirectTunnelSetup.ws();
  }
}
