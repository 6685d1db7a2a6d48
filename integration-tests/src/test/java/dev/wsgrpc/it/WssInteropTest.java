package dev.wsgrpc.it;

/** The interop cases over wss. */
class WssInteropTest extends AbstractInteropSuite {
  @Override
  protected TunnelSetup newSetup() {
    return DirectTunnelSetup.wss();
  }
}
