package dev.wsgrpc.cli;

import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.WsgrpcVersion;
import io.grpc.internal.GrpcUtil;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
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
    System.exit(commandLine().execute(args));
  }

  /** The tool's command line, as {@link #main} runs it. */
  static CommandLine commandLine() {
    return new CommandLine(new WsgrpcCli()).setParameterExceptionHandler(WsgrpcCli::optionError);
  }

  /**
   * How a bad option or argument ends a command: its one-line message on stderr, picocli's suggestions for a
   * mistyped option, then where that command's options are described; exit code 2. Not the whole usage: it is
   * dozens of lines, and the message would scroll out of sight.
   */
  static int optionError(CommandLine.ParameterException e, String[] args) {
    CommandLine command = e.getCommandLine();
    PrintWriter err = command.getErr();
    err.println(message(e));
    CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
    String sub = command.getCommandSpec().qualifiedName(" ").replaceFirst("^wsgrpc-cli ?", "");
    err.println("Run 'java -jar wsgrpc-cli.jar " + (sub.isEmpty() ? "" : sub + " ") + "--help' for the options.");
    err.flush();
    return USAGE;
  }

  /**
   * The exception's message, without the arguments picocli could not place: those are often a secret split off its
   * option ({@code --header Authorization: Bearer TOKEN} unquoted leaves {@code Bearer} and {@code TOKEN}), and
   * picocli's own message quotes them all. An unknown option is named up to its {@code =}.
   */
  static String message(CommandLine.ParameterException e) {
    if (!(e instanceof CommandLine.UnmatchedArgumentException)) {
      return e.getMessage();
    }
    List<String> unmatched = ((CommandLine.UnmatchedArgumentException) e).getUnmatched();
    if (!unmatched.isEmpty() && !optionLike(unmatched.get(0))
        && !e.getCommandLine().getSubcommands().isEmpty()) {
      // A mistyped command: its name is no secret, and the rest would only blame options that exist.
      return "Unknown command: '" + Http11Tokens.printable(unmatched.get(0), 40)
          + "' (expected forward, probe or interop)";
    }
    List<String> parts = new ArrayList<>();
    int unexpected = 0;
    for (String argument : unmatched) {
      if (optionLike(argument)) {
        int equals = argument.indexOf('=');
        parts.add(equals < 0 ? "Unknown option: '" + argument + "'"
            : "Unknown option: '" + argument.substring(0, equals) + "' (its value is not shown)");
      } else {
        unexpected++;
      }
    }
    if (unexpected > 0) {
      parts.add("expected no more arguments but there " + (unexpected == 1 ? "was 1" : "were " + unexpected)
          + " (not shown: it may be a secret; quote an option's value that contains spaces)");
    }
    return parts.isEmpty() ? "the command line was not understood (its arguments are not shown: they may hold a secret)"
        : String.join("; ", parts);
  }

  /**
   * Whether {@code argument} reads as an option's name ({@code --name}, {@code -x}) rather than a value: a token may
   * begin with {@code -} too (base64url), and is then not shown.
   */
  private static boolean optionLike(String argument) {
    return argument.startsWith("--") && argument.length() > 2
        || argument.length() == 2 && argument.charAt(0) == '-' && argument.charAt(1) != '-';
  }

  /** The version the build wrote into tunnel-core ({@link WsgrpcVersion}), with grpc-java's and Netty's. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"wsgrpc-cli " + WsgrpcVersion.version() + " (grpc-java " + GrpcUtil.IMPLEMENTATION_VERSION
          + ", Netty " + nettyVersion() + ")"};
    }

    /** Every Netty module of a build has the same version: whichever the jar lists first. */
    private static String nettyVersion() {
      return io.netty.util.Version.identify().values().stream().map(io.netty.util.Version::artifactVersion)
          .findFirst().orElse("unknown");
    }
  }
}
