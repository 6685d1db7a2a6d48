package dev.wsgrpc.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.distribution.Jdks.Jdk;
import dev.wsgrpc.gateway.TunnelServerMain;
import dev.wsgrpc.testing.ExternalProgram;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/**
 * The gateway's container image, built by deploy/container/build-image.sh (buildah, no Docker daemon, nothing from a
 * registry), then run as a container runtime runs it: the image's layers unpacked in order into a root file system,
 * its entry point, user and environment read from the image's config, in a private mount namespace with /proc and
 * /dev, chrooted. (podman can load the image here, but cannot run any container in this sandbox: crun's setrlimit
 * fails for want of CAP_SYS_RESOURCE; so the test runs the image's config itself.) Needs root, buildah and
 * util-linux's unshare; skipped without them. One image from the build's JDK, one from the newest JDK on the machine
 * ({@link Jdks}), each built once.
 */
class ContainerImageTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  static Path work;

  /** The images built so far, by JDK home, or why building one failed (not tried again). */
  private static final Map<Path, Image> IMAGES = new HashMap<>();
  private static final Map<Path, Throwable> FAILED = new HashMap<>();
  private static String unshare;
  private static String mount;
  private static String chroot;

  /** An image unpacked: its root file system, and the config a container runtime reads. */
  private record Image(Path rootfs, JsonNode config) {}

  /** The build's JDK, and the newest on the machine (null, and the test says why it does not run, if none). */
  static Stream<Named<Jdk>> jdks() {
    return Stream.of(Named.of("build's JDK", Jdks.build()), Named.of("newest JDK", Jdks.newest().orElse(null)));
  }

  @BeforeAll
  static void requireRootAndTools() throws IOException {
    assumeTrue(System.getProperty("os.name").equals("Linux"), "container images are built on Linux");
    assumeTrue(((Integer) Files.getAttribute(Paths.get("/proc/self"), "unix:uid")) == 0,
        "running the image needs root (chroot, mount namespaces); CI runs as root");
    ExternalProgram.requireInstalled("buildah", "buildah");
    unshare = ExternalProgram.requireInstalled("unshare", "util-linux");
    mount = ExternalProgram.requireInstalled("mount", "mount");
    chroot = ExternalProgram.requireInstalled("chroot", "coreutils");
    IMAGES.clear(); // in this class's @TempDir, gone after it
    FAILED.clear();
  }

  /** The image build-image.sh makes with {@code JAVA_HOME=jdk}, unpacked (built at the first call for it). */
  private static synchronized Image image(Jdk jdk) throws Exception {
    assumeTrue(jdk != null, Jdks::noneNewer);
    assumeTrue(Files.isExecutable(jdk.home().resolve("bin/jlink"))
            && (Files.isDirectory(jdk.home().resolve("jmods")) || jdk.feature() >= 24),
        () -> jdk + " cannot link a runtime (build-image.sh needs jlink, and jmods before JDK 24)");
    Image built = IMAGES.get(jdk.home());
    if (built != null) {
      return built;
    }
    Throwable failed = FAILED.get(jdk.home());
    if (failed != null) {
      throw new AssertionError("building the image from " + jdk + " failed before", failed);
    }
    try {
      built = build(jdk);
    } catch (Exception | AssertionError e) {
      FAILED.put(jdk.home(), e);
      throw e;
    }
    IMAGES.put(jdk.home(), built);
    return built;
  }

  private static Image build(Jdk jdk) throws Exception {
    Path dir = Files.createDirectories(work.resolve("jdk-" + jdk.feature()));
    Path image = dir.resolve("image.tar");
    Path jar = Maven.root().resolve("tunnel-gateway/target/tunnel-server.jar");
    run(dir.resolve("build.log"), Map.of("JAVA_HOME", jdk.home().toString()),
        Maven.root().resolve("deploy/container/build-image.sh").toString(), jar.toString(), image.toString(),
        "wsgrpc/tunnel-gateway:test");

    Path archive = Files.createDirectories(dir.resolve("archive"));
    run(dir.resolve("untar.log"), Map.of(), "tar", "-xf", image.toString(), "-C", archive.toString());
    JsonNode manifest = JSON.readTree(archive.resolve("manifest.json").toFile()).get(0);
    JsonNode config = JSON.readTree(archive.resolve(manifest.get("Config").asText()).toFile()).get("config");
    Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
    for (JsonNode layer : manifest.get("Layers")) {
      run(dir.resolve("untar.log"), Map.of(), "tar", "-xf", archive.resolve(layer.asText()).toString(),
          "-C", rootfs.toString());
    }
    return new Image(rootfs, config);
  }

  @ParameterizedTest
  @MethodSource("jdks")
  void imageRunsTheJarAsANonRootUserWithAHealthCheckAndTheGatewaysPort(Jdk jdk) throws Exception {
    Image built = image(jdk);
    Path rootfs = built.rootfs();
    JsonNode config = built.config();
    assertEquals("10001:10001", config.get("User").asText());
    assertTrue(Files.readString(rootfs.resolve("etc/passwd")).contains("wsgrpc:x:10001:10001:"));
    List<String> entrypoint = strings(config.get("Entrypoint"));
    assertEquals(List.of("-jar", "/app/tunnel-server.jar"), entrypoint.subList(entrypoint.size() - 2,
        entrypoint.size()), "options after the image name go to the gateway");
    assertTrue(Files.isRegularFile(rootfs.resolve("app/tunnel-server.jar")));
    List<String> health = strings(config.get("Healthcheck").get("Test"));
    assertEquals("CMD", health.get(0));
    assertTrue(health.contains("dev.wsgrpc.gateway.HealthCheck"), health.toString());
    CommandLine gateway = new CommandLine(new TunnelServerMain());
    gateway.parseArgs();
    int port = gateway.getCommandSpec().findOption("--port").getValue();
    assertTrue(config.get("ExposedPorts").has(port + "/tcp"), config.get("ExposedPorts").toString());
    assertEquals("Apache-2.0", config.get("Labels").get("org.opencontainers.image.licenses").asText());
    assertEquals(Optional.of(jdk.feature()), Jdks.at(rootfs.resolve("opt/java")).map(Jdk::feature),
        "the image's runtime is linked from " + jdk);
    assertEquals(jdk.jarOptions(), entrypoint.stream().filter(o -> o.startsWith("--sun-misc")).toList(),
        "the JVM options docs/GATEWAY.md gives for " + jdk);
  }

  @ParameterizedTest
  @MethodSource("jdks")
  void gatewayInTheImageAnswersHealthzRelaysACallAndDrainsOnSigterm(Jdk jdk) throws Exception {
    Image image = image(jdk);
    // A service name only the upstream knows: an answer for it proves the call went through to the upstream.
    HealthStatusManager health = new HealthStatusManager();
    health.setStatus("wsgrpc.relayed", HealthCheckResponse.ServingStatus.SERVING);
    Server upstream = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(health.getHealthService()).build().start();
    Path log = work.resolve("jdk-" + jdk.feature()).resolve("gateway.log");
    List<String> command = new ArrayList<>(strings(image.config().get("Entrypoint")));
    // Options after the image name, as `podman run IMAGE --port ...`; ports from 0: the gateway names the ones it got
    // in its start-up lines.
    command.addAll(List.of("--bind", "127.0.0.1", "--port", "0", "--admin-port", "0",
        "--upstream", "127.0.0.1:" + ((InetSocketAddress) upstream.getListenSockets().get(0)).getPort()));
    Process container = inContainer(image, command, Map.of())
        .redirectErrorStream(true)
        .redirectOutput(log.toFile()).start();
    try {
      int port = StartupLines.awaitPort(container, StartupLines.DIAL, log);
      int adminPort = StartupLines.awaitPort(container, StartupLines.ADMIN, log);

      HttpURLConnection healthz = (HttpURLConnection) new URL("http://127.0.0.1:" + port + "/healthz")
          .openConnection(Proxy.NO_PROXY);
      assertEquals(200, healthz.getResponseCode());
      healthz.disconnect();

      // The image's own HEALTHCHECK command with the image's environment alone, as a container runtime runs it: the
      // gateway's options were given on its command line, which the check reaches through TUNNEL_HEALTH_FILE. With
      // the admin listener (loopback by default) the check asks it.
      Path healthFile = image.rootfs().resolve("tmp/wsgrpc-gateway.health");
      assertEquals("http://127.0.0.1:" + adminPort + "/healthz", Files.readString(healthFile).trim());
      List<String> check = strings(image.config().get("Healthcheck").get("Test"));
      Path checkLog = log.resolveSibling("healthcheck.log");
      Process healthCheck = inContainer(image, check.subList(1, check.size()), Map.of())
          .redirectErrorStream(true).redirectOutput(checkLog.toFile()).start();
      assertTrue(healthCheck.waitFor(60, TimeUnit.SECONDS));
      assertEquals(0, healthCheck.exitValue(), Files.readString(checkLog));
      assertTrue(Files.readString(checkLog).startsWith("healthy: HTTP/1.1 200"), Files.readString(checkLog));
      HttpURLConnection publicMetrics = (HttpURLConnection) new URL("http://127.0.0.1:" + port + "/metrics")
          .openConnection(Proxy.NO_PROXY);
      assertEquals(404, publicMetrics.getResponseCode(), "the admin listener serves /metrics, the public port not");
      publicMetrics.disconnect();

      ManagedChannel channel = WebSocketChannels.newChannel("ws://127.0.0.1:" + port + "/grpc");
      try {
        HealthCheckResponse response = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
            .check(HealthCheckRequest.newBuilder().setService("wsgrpc.relayed").build());
        assertEquals(HealthCheckResponse.ServingStatus.SERVING, response.getStatus(), "forwarded to the upstream");
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }

      container.destroy();
      assertTrue(container.waitFor(60, TimeUnit.SECONDS), "the gateway stops after SIGTERM");
      String output = Files.readString(log, StandardCharsets.UTF_8);
      assertEquals(0, container.exitValue(), output);
      assertTrue(output.contains("Stopped:"), output);
      assertFalse(Files.exists(healthFile), "the gateway deletes its health file when it exits");
      assertFalse(output.contains("Native epoll is unavailable"), "the image carries epoll and its libraries:\n"
          + output);
      assertFalse(output.contains("WARNING:"), "the JVM of the image from " + jdk + " warned:\n" + output);
    } finally {
      container.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      upstream.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /**
   * {@code command} run as the image's user inside its root file system, with /proc and /dev mounted in a mount
   * namespace of its own (gone when it exits), and the image's environment plus {@code env}. The process started is
   * the command itself (each step execs the next), so SIGTERM reaches the gateway as a container runtime sends it.
   */
  private static ProcessBuilder inContainer(Image image, List<String> command, Map<String, String> env) {
    JsonNode config = image.config();
    List<String> full = new ArrayList<>(List.of(unshare, "--mount", "--propagation", "private", "/bin/sh", "-c",
        mount + " -t proc proc \"$0/proc\" && " + mount + " --rbind /dev \"$0/dev\" && exec " + chroot
            + " --userspec=" + config.get("User").asText() + " \"$0\" \"$@\"",
        image.rootfs().toString()));
    full.addAll(command);
    ProcessBuilder builder = new ProcessBuilder(full);
    builder.environment().clear();
    for (JsonNode e : config.get("Env")) {
      String[] kv = e.asText().split("=", 2);
      builder.environment().put(kv[0], kv[1]);
    }
    builder.environment().putAll(env);
    return builder;
  }

  private static List<String> strings(JsonNode array) {
    assertNotNull(array);
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  private static void run(Path log, Map<String, String> env, String... command) throws Exception {
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    builder.environment().putAll(env);
    Process process = builder.start();
    if (!process.waitFor(10, TimeUnit.MINUTES)) {
      process.destroyForcibly();
      throw new AssertionError(String.join(" ", command) + " still running after 10 minutes");
    }
    assertEquals(0, process.exitValue(), String.join(" ", command) + ":\n" + Files.readString(log));
  }
}
