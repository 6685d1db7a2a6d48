package dev.wsgrpc.it;

/** The interop cases over ws. */
class WsInteropTest extends AbstractInteropSuite {
  @Override
  protected TunnelSetup newSetup() {
    return DirectTunnelSetup.ws();
  }
}
