package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.TestCertificates;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;

/**
 * One way for a client to reach the benchmark service: direct gRPC (the baselines), the tunnel, or the tunnel
 * through something else. Every workload runs unchanged over every setup.
 */
interface Setup extends AutoCloseable {

  /** A short name for tables and JSON keys, e.g. {@code "ws"}. */
  String name();

  /** What the setup is, for the report. */
  String description();

  /** The setup this one is compared against ({@code "h2c"} or {@code "h2"}), or null for a baseline. */
  String baseline();

  /**
   * Starts servers and helper programs. Throws {@link NotMeasured} when something the setup needs is missing, which
   * the report shows instead of numbers.
   */
  void start(Transports transports, BindableService service, TestCertificates certs) throws Exception;

  /** A new channel to the started service; one connection (tunnel) per channel. Callers shut it down. */
  ManagedChannel newChannel();

  /**
   * The program this setup runs outside this JVM (the gateway, nginx, websockify), or null: its CPU time counts in
   * the CPU figures, since every byte passes through it.
   */
  default Process helperProcess() {
    return null;
  }

  @Override
  void close();

  /** Large enough for the 1 MiB streaming messages. */
  int MAX_MESSAGE = 16 * 1024 * 1024;

  /** Why a setup could not be measured in this run, e.g. a program that is not installed. */
  final class NotMeasured extends Exception {
    private static final long serialVersionUID = 1L;

    NotMeasured(String reason) {
      super(reason);
    }
  }
}
