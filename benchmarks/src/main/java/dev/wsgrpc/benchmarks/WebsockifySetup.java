package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import java.time.Duration;

/**
 * A generic bridge for comparison: our client, offering no subprotocol, through websockify (Debian's package, the
 * usual WebSocket-to-TCP bridge) to a plain grpc-java h2c server.
 */
final class WebsockifySetup implements Setup {

  private final DirectSetup backend = DirectSetup.h2c();
  private Transports transports;
  private ExternalProgram websockify;
  private int port;
  private TunnelSetup.Client client;

  @Override
  public String name() {
    return "websockify";
  }

  @Override
  public String description() {
    return "our client through websockify (generic WebSocket-to-TCP bridge) to a plain h2c server";
  }

  @Override
  public String baseline() {
    return "h2c";
  }

  @Override
  public void start(Transports transports, BindableService service, TestCertificates certs) throws Exception {
    this.transports = transports;
    String exe = ExternalProgram.which("websockify");
    if (exe == null) {
      throw new NotMeasured("websockify is not installed (apt-get install websockify)");
    }
    backend.start(transports, service, certs);
    port = ExternalProgram.freePort();
    client = TunnelSetup.Client.of("ws://127.0.0.1:" + port + "/", null, false);
    websockify = ExternalProgram.start("websockify", exe, "127.0.0.1:" + port, "127.0.0.1:" + backend.port());
    websockify.awaitListening(port, Duration.ofSeconds(30));
  }

  @Override
  public ManagedChannel newChannel() {
    return client.newChannel(transports);
  }

  @Override
  public void close() {
    if (websockify != null) {
      try {
        websockify.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    backend.close();
  }
}
