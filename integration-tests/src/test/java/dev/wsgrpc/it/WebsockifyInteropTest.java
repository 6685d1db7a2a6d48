package dev.wsgrpc.it;

/**
 * The interop cases with the Netty client against a server built from other people's code: websockify in front of a
 * plain grpc-java server (h2c). {@link OkHttpClientSuitesTest} runs the same with the OkHttp client.
 */
class WebsockifyInteropTest extends AbstractInteropSuite {
  @Override
  protected TunnelSetup newSetup() {
    return new WebsockifyTunnelSetup(TunnelClient.NETTY);
  }
}
