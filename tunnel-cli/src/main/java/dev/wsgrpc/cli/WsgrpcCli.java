package dev.wsgrpc.cli;

import org.slf4j.bridge.SLF4JBridgeHandler;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code java -jar wsgrpc-cli.jar forward | probe | interop}: the client command-line tool. Exit codes: 0 success,
 * 1 a check or tunnel failed, 2 bad arguments.
 */
@Command(name = "wsgrpc-cli", mixinStandardHelpOptions = true, versionProvider = WsgrpcCli.Version.class,
    description = "gRPC over WebSocket from the command line.",
    subcommands = {ForwardCommand.class, ProbeCommand.class, InteropCommand.class})
public final class WsgrpcCli implements Runnable {

  static final int OK = 0;
  static final int FAILED = 1;
  static final int USAGE = 2;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "expected a command: forward, probe or interop");
  }

  public static void main(String[] args) {
    // grpc-java logs through java.util.logging: route it to logback like everything else.
    SLF4JBridgeHandler.removeHandlersForRootLogger();
    SLF4JBridgeHandler.install();
    System.exit(new CommandLine(new WsgrpcCli()).execute(args));
  }

  /** The version from the jar's manifest, when there is one. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = WsgrpcCli.class.getPackage().getImplementationVersion();
      return new String[] {"wsgrpc-cli " + (v != null ? v : "(development build)")};
    }
  }
}
