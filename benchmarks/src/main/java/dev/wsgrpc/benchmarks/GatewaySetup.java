package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The standalone gateway with an upstream, in front of a plain grpc-java h2c server: our client dials the gateway
 * over ws (or, for the {@code _h2c} setups, plain gRPC dials the gateway's native h2c on the same port, no WebSocket
 * at all), and the gateway speaks h2c to the upstream, in relay mode (each connection's bytes passed on) or proxy
 * mode (every call forwarded by grpc-java on both sides). The gateway runs as its own JVM from
 * {@code tunnel-server.jar}; the command line is a template ({@code {java}}, {@code {jar}}, {@code {port}},
 * {@code {upstream}}, {@code {mode}}), so it can follow the gateway's options without a change here.
 */
final class GatewaySetup extends RelaySetup {

  /** The default command line of the gateway. */
  static final String DEFAULT_COMMAND =
      "{java} -jar {jar} --bind 127.0.0.1 --port {port} --mode {mode} --upstream {upstream}";

  private final File jar;
  private final String commandTemplate;
  private final String mode;
  private final boolean tunnel;

  private GatewaySetup(String name, String description, File jar, String commandTemplate, String mode,
      boolean tunnel) {
    super(name, description, DirectSetup.h2c());
    this.jar = jar;
    this.commandTemplate = commandTemplate;
    this.mode = mode;
    this.tunnel = tunnel;
  }

  /** Our client over ws to the gateway in relay mode. */
  static GatewaySetup tunnel(File jar, String commandTemplate) {
    return new GatewaySetup("gateway",
        "the tunnel over ws to the gateway (tunnel-server.jar, relay mode, own JVM), h2c to a plain server", jar,
        commandTemplate, "relay", true);
  }

  /** Plain gRPC over h2c to the gateway's native HTTP/2 in relay mode: the same relay without WebSocket. */
  static GatewaySetup nativeH2c(File jar, String commandTemplate) {
    return new GatewaySetup("gateway_h2c",
        "direct gRPC over h2c to the gateway (native HTTP/2 on the same port, relay mode: relayed as is), h2c to a "
            + "plain server", jar, commandTemplate, "relay", false);
  }

  /** Our client over ws to the gateway in proxy mode: every call forwarded. */
  static GatewaySetup proxyTunnel(File jar, String commandTemplate) {
    return new GatewaySetup("gateway_proxy",
        "the tunnel over ws to the gateway in proxy mode (own JVM: grpc-java ends the tunnel's HTTP/2 and forwards "
            + "every call), h2c to a plain server", jar, commandTemplate, "proxy", true);
  }

  /**
   * Plain gRPC over h2c to the gateway in proxy mode: the same client and protocol as the layer-7 proxies
   * ({@link NginxGrpcSetup}, {@link HaproxyH2Setup}), so only the proxy in the middle differs.
   */
  static GatewaySetup proxyNativeH2c(File jar, String commandTemplate) {
    return new GatewaySetup("gateway_proxy_h2c",
        "direct gRPC over h2c to the gateway in proxy mode (native HTTP/2, every call forwarded), h2c to a plain "
            + "server", jar, commandTemplate, "proxy", false);
  }

  @Override
  ExternalProgram startProgram(int port, int backendPort) throws Exception {
    if (!jar.isFile()) {
      throw new NotMeasured("not yet measured: " + jar + " does not exist (build tunnel-gateway first)");
    }
    List<String> command = command(jar, commandTemplate, port, "127.0.0.1:" + backendPort, mode);
    ExternalProgram gateway = ExternalProgram.start("gateway", command);
    try {
      return gateway.awaitListening(port, Duration.ofSeconds(60));
    } catch (AssertionError e) {
      gateway.close();
      throw new NotMeasured("the gateway did not start with '" + String.join(" ", command) + "': "
          + e.getMessage().replace('\n', ' '));
    }
  }

  /**
   * The gateway's command line from {@code template} ({@link #DEFAULT_COMMAND}), running a copy of {@code jar}: a
   * build that rewrites the jar under a running JVM breaks its class loading mid-run.
   */
  static List<String> command(File jar, String template, int port, String upstream, String mode)
      throws java.io.IOException {
    Path copy = Files.createTempFile("wsgrpc-bench-gateway", ".jar");
    copy.toFile().deleteOnExit();
    Files.copy(jar.toPath(), copy, StandardCopyOption.REPLACE_EXISTING);
    String java = new File(System.getProperty("java.home"), "bin/java").getPath();
    List<String> command = new ArrayList<>();
    for (String part : template.trim().split("\\s+")) {
      command.add(part.replace("{java}", java).replace("{jar}", copy.toString())
          .replace("{port}", Integer.toString(port)).replace("{upstream}", upstream).replace("{mode}", mode));
    }
    return command;
  }

  /**
   * Unary calls through the gateway, 64 at a time, before any workload: a JIT-compiled gateway, as a long-running
   * one is. 20,000 left proxy mode's compiler busy into the measured iterations (its one-at-a-time p50 fell by a
   * quarter from the first iteration to the last in run 8).
   */
  static final int WARM_UP_CALLS = 100_000;
  /** Then unary calls one at a time, the other shape the workloads measure. */
  static final int WARM_UP_SEQUENTIAL_CALLS = 10_000;
  /** The longest a warm-up may take (about 10 s on a 2-core machine) before the setup is reported unmeasured. */
  static final Duration WARM_UP_LIMIT = Duration.ofMinutes(5);

  /**
   * Warms the gateway's JVM up with {@link #WARM_UP_CALLS} unary calls, 64 at a time, then
   * {@link #WARM_UP_SEQUENTIAL_CALLS} one at a time, so that even a quick run measures compiled code (a workload's
   * own warm-up is short next to a JVM's; nginx and HAProxy need none).
   */
  @Override
  void afterStart(ManagedChannel channel) throws Exception {
    EchoGrpc.EchoStub stub = EchoGrpc.newStub(channel);
    Semaphore inFlight = new Semaphore(64);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    long deadline = System.nanoTime() + WARM_UP_LIMIT.toNanos();
    for (int i = 0; i < WARM_UP_CALLS && failure.get() == null; i++) {
      checkWarmUpTime(i, deadline);
      if (!inFlight.tryAcquire(60, TimeUnit.SECONDS)) {
        throw new NotMeasured("the gateway answered no warm-up call within 60 s");
      }
      stub.withDeadlineAfter(60, TimeUnit.SECONDS).unary(UnaryLatency.REQUEST, new StreamObserver<EchoResponse>() {
        @Override
        public void onNext(EchoResponse value) {}

        @Override
        public void onError(Throwable t) {
          failure.compareAndSet(null, t);
          inFlight.release();
        }

        @Override
        public void onCompleted() {
          inFlight.release();
        }
      });
    }
    if (!inFlight.tryAcquire(64, 60, TimeUnit.SECONDS)) {
      throw new NotMeasured("the gateway left warm-up calls unanswered for 60 s");
    }
    if (failure.get() != null) {
      throw new NotMeasured("a warm-up call through the gateway failed: " + failure.get());
    }
    EchoGrpc.EchoBlockingStub blocking = EchoGrpc.newBlockingStub(channel);
    try {
      for (int i = 0; i < WARM_UP_SEQUENTIAL_CALLS; i++) {
        checkWarmUpTime(i, deadline);
        blocking.withDeadlineAfter(60, TimeUnit.SECONDS).unary(UnaryLatency.REQUEST);
      }
    } catch (RuntimeException e) {
      throw new NotMeasured("a warm-up call through the gateway failed: " + e);
    }
  }

  /** Every 1,000 calls: gives up once the warm-up has run past {@link #WARM_UP_LIMIT}. */
  private static void checkWarmUpTime(int call, long deadlineNanos) throws NotMeasured {
    if (call % 1000 == 0 && System.nanoTime() > deadlineNanos) {
      throw new NotMeasured("the gateway's warm-up took over " + WARM_UP_LIMIT.toMinutes() + " minutes");
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
