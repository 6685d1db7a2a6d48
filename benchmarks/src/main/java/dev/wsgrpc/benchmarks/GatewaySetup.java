package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The standalone gateway in upstream mode in front of a plain grpc-java h2c server: our client dials the gateway over
 * ws, the gateway speaks h2c to the upstream. The gateway runs as its own JVM from {@code tunnel-server.jar}; the
 * command line is a template ({@code {java}}, {@code {jar}}, {@code {port}}, {@code {upstream}}), so it can follow the
 * gateway's options without a change here.
 */
final class GatewaySetup implements Setup {

  /** The default command line of the gateway. */
  static final String DEFAULT_COMMAND = "{java} -jar {jar} --bind 127.0.0.1 --port {port} --upstream {upstream}";

  private final File jar;
  private final String commandTemplate;
  private final DirectSetup backend = DirectSetup.h2c();
  private Transports transports;
  private ExternalProgram gateway;
  private int port;
  private TunnelSetup.Client client;

  GatewaySetup(File jar, String commandTemplate) {
    this.jar = jar;
    this.commandTemplate = commandTemplate;
  }

  @Override
  public String name() {
    return "gateway";
  }

  @Override
  public String description() {
    return "the tunnel over ws to the gateway (tunnel-server.jar, upstream mode, own JVM), h2c to a plain server";
  }

  @Override
  public String baseline() {
    return "h2c";
  }

  @Override
  public void start(Transports transports, BindableService service, TestCertificates certs) throws Exception {
    this.transports = transports;
    if (!jar.isFile()) {
      throw new NotMeasured("not yet measured: " + jar + " does not exist (build tunnel-server first)");
    }
    backend.start(transports, service, certs);
    port = ExternalProgram.freePort();
    // Run a copy: a build that rewrites the jar under a running JVM breaks its class loading mid-run.
    Path copy = Files.createTempFile("wsgrpc-bench-gateway", ".jar");
    copy.toFile().deleteOnExit();
    Files.copy(jar.toPath(), copy, StandardCopyOption.REPLACE_EXISTING);
    client = TunnelSetup.Client.of("ws://127.0.0.1:" + port + "/grpc", null, true);
    String java = new File(System.getProperty("java.home"), "bin/java").getPath();
    List<String> command = new ArrayList<>();
    for (String part : commandTemplate.trim().split("\\s+")) {
      command.add(part.replace("{java}", java).replace("{jar}", copy.toString())
          .replace("{port}", Integer.toString(port)).replace("{upstream}", "127.0.0.1:" + backend.port()));
    }
    gateway = ExternalProgram.start("gateway", command);
    try {
      gateway.awaitListening(port, Duration.ofSeconds(60));
    } catch (AssertionError e) {
      throw new NotMeasured("the gateway did not start with '" + String.join(" ", command) + "': "
          + e.getMessage().replace('\n', ' '));
    }
  }

  @Override
  public ManagedChannel newChannel() {
    return client.newChannel(transports);
  }

  @Override
  public void close() {
    if (gateway != null) {
      try {
        gateway.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    backend.close();
  }
}
