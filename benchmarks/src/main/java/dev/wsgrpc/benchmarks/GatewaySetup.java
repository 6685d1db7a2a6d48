package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.ExternalProgram;
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
 * ws (or, for {@link #nativeH2c}, plain gRPC dials the gateway's native h2c on the same port, no WebSocket at all),
 * and the gateway speaks h2c to the upstream. The gateway runs as its own JVM from {@code tunnel-server.jar}; the
 * command line is a template ({@code {java}}, {@code {jar}}, {@code {port}}, {@code {upstream}}), so it can follow the
 * gateway's options without a change here.
 */
final class GatewaySetup extends RelaySetup {

  /** The default command line of the gateway. */
  static final String DEFAULT_COMMAND =
      "{java} -jar {jar} --bind 127.0.0.1 --port {port} --mode relay --upstream {upstream}";

  private final File jar;
  private final String commandTemplate;
  private final boolean tunnel;

  private GatewaySetup(String name, String description, File jar, String commandTemplate, boolean tunnel) {
    super(name, description, DirectSetup.h2c());
    this.jar = jar;
    this.commandTemplate = commandTemplate;
    this.tunnel = tunnel;
  }

  /** Our client over ws to the gateway. */
  static GatewaySetup tunnel(File jar, String commandTemplate) {
    return new GatewaySetup("gateway",
        "the tunnel over ws to the gateway (tunnel-server.jar, upstream mode, own JVM), h2c to a plain server", jar,
        commandTemplate, true);
  }

  /** Plain gRPC over h2c to the gateway's native HTTP/2: the same relay without WebSocket. */
  static GatewaySetup nativeH2c(File jar, String commandTemplate) {
    return new GatewaySetup("gateway_h2c",
        "direct gRPC over h2c to the gateway (native HTTP/2 on the same port, relayed as is), h2c to a plain server",
        jar, commandTemplate, false);
  }

  @Override
  ExternalProgram startProgram(int port, int backendPort) throws Exception {
    if (!jar.isFile()) {
      throw new NotMeasured("not yet measured: " + jar + " does not exist (build tunnel-gateway first)");
    }
    // Run a copy: a build that rewrites the jar under a running JVM breaks its class loading mid-run.
    Path copy = Files.createTempFile("wsgrpc-bench-gateway", ".jar");
    copy.toFile().deleteOnExit();
    Files.copy(jar.toPath(), copy, StandardCopyOption.REPLACE_EXISTING);
    String java = new File(System.getProperty("java.home"), "bin/java").getPath();
    List<String> command = new ArrayList<>();
    for (String part : commandTemplate.trim().split("\\s+")) {
      command.add(part.replace("{java}", java).replace("{jar}", copy.toString())
          .replace("{port}", Integer.toString(port)).replace("{upstream}", "127.0.0.1:" + backendPort));
    }
    ExternalProgram gateway = ExternalProgram.start("gateway", command);
    try {
      return gateway.awaitListening(port, Duration.ofSeconds(60));
    } catch (AssertionError e) {
      gateway.close();
      throw new NotMeasured("the gateway did not start with '" + String.join(" ", command) + "': "
          + e.getMessage().replace('\n', ' '));
    }
  }

  @Override
  ManagedChannel newChannel(Transports transports, int port) {
    if (tunnel) {
      return TunnelSetup.Client.of("ws://127.0.0.1:" + port + "/grpc", null, true).newChannel(transports);
    }
    return DirectSetup.h2cChannel(transports, port);
  }
}
