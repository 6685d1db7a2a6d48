package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import java.time.Duration;

/**
 * A setup whose client reaches a server of this JVM through a program of its own (nginx, websockify, haproxy, the
 * gateway's JVM): the backend starts first, then the program on a free port in front of it. The program's CPU time
 * counts in the CPU figures ({@link #helperProcess}), since every byte passes through it.
 */
abstract class RelaySetup implements Setup {

  private final String name;
  private final String description;
  private final LocalServerSetup backend;
  private Transports transports;
  private ExternalProgram program;
  private int port;

  RelaySetup(String name, String description, LocalServerSetup backend) {
    this.name = name;
    this.description = description;
    this.backend = backend;
  }

  /**
   * Starts the program in front of {@code backendPort}, listening on {@code port}, and waits until it accepts
   * connections. Throws {@link NotMeasured} when the program is missing.
   */
  abstract ExternalProgram startProgram(int port, int backendPort) throws Exception;

  /** A channel of this setup's client to the program's {@code port}. */
  abstract ManagedChannel newChannel(Transports transports, int port);

  /** Returns the path of {@code program}, or throws {@link NotMeasured} saying which package to install. */
  static String require(String program, String debianPackage) throws NotMeasured {
    String exe = ExternalProgram.which(program);
    if (exe == null) {
      throw new NotMeasured(program + " is not installed (apt-get install " + debianPackage + ")");
    }
    return exe;
  }

  /** Waits for {@code program} to listen on {@code port}. */
  static ExternalProgram listening(ExternalProgram program, int port) throws InterruptedException {
    return program.awaitListening(port, Duration.ofSeconds(30));
  }

  @Override
  public final String name() {
    return name;
  }

  @Override
  public final String description() {
    return description;
  }

  @Override
  public final String baseline() {
    return "h2c";
  }

  @Override
  public final void start(Transports transports, BindableService service, TestCertificates certs)
      throws Exception {
    this.transports = transports;
    backend.start(transports, service, certs);
    port = ExternalProgram.freePort();
    program = startProgram(port, backend.port());
    ManagedChannel channel = newChannel(transports, port);
    try {
      afterStart(channel);
    } finally {
      Channels.shutdown(channel);
    }
  }

  /** Called once the program listens, with a channel through it: e.g. to warm a JVM up. Default: nothing. */
  void afterStart(ManagedChannel channel) throws Exception {}

  @Override
  public final ManagedChannel newChannel() {
    return newChannel(transports, port);
  }

  @Override
  public final Process helperProcess() {
    return program == null ? null : program.process();
  }

  @Override
  public final void close() {
    if (program != null) {
      try {
        program.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    backend.close();
  }
}
