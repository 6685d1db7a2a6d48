package dev.wsgrpc.gateway;

import java.io.PrintWriter;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * How a bad option ends the gateway: its one-line message on stderr (after {@code TUNNEL_X=value: } when the value
 * came from the environment, so that systemd and Kubernetes users see which variable to fix), picocli's suggestions
 * for a mistyped option, then where the options are described; exit code 2. Not the whole {@code --help}: it is
 * hundreds of lines, and the message would scroll out of sight.
 */
final class OptionErrors implements IParameterExceptionHandler {

  /** The last line of every option error. */
  static final String HELP_HINT = "Run 'java -jar tunnel-server.jar --help' for the options.";

  private final Map<String, String> env;

  /** {@code env}: the environment {@link EnvironmentDefaults} reads defaults from. */
  OptionErrors(Map<String, String> env) {
    this.env = env;
  }

  @Override
  public int handleParseException(ParameterException e, String[] args) {
    CommandLine commandLine = e.getCommandLine();
    PrintWriter err = commandLine.getErr();
    err.println(message(e, args));
    UnmatchedArgumentException.printSuggestions(e, err);
    err.println(HELP_HINT);
    err.flush();
    return commandLine.getCommandSpec().exitCodeOnInvalidInput();
  }

  /**
   * The exception's message, after {@code TUNNEL_X=value: } when it is about one option whose value came from its
   * environment variable: the variable is set and the command line gave the option no value (a flag such as
   * {@code --upstream-tls} given alone takes none, and picocli reads the variable for it).
   */
  String message(ParameterException e, String[] args) {
    String message = e.getMessage();
    ArgSpec arg = e.getArgSpec();
    if (!(arg instanceof OptionSpec)) {
      return message;
    }
    OptionSpec option = (OptionSpec) arg;
    String variable = EnvironmentDefaults.variableFor(option);
    String value = env.get(variable);
    if (value == null || givesAValue(option, args)) {
      return message;
    }
    return variable + "=" + shown(option.longestName(), value) + ": " + message;
  }

  /** Options whose files hold secrets: a value given for them that is no path may be the secret itself. */
  private static final java.util.Set<String> SECRET_FILES =
      java.util.Set.of("--tls-key", "--upstream-client-key", "--auth-tokens");

  /**
   * {@code value} of {@code flag} as an error may show it: not at all when it holds what a file should (a PEM block,
   * several lines; for a secret file's option, anything with a space: {@code TOKEN PRINCIPAL}), as when a secret
   * was put in an environment variable in place of its path; a URL's user information never.
   */
  static String shown(String flag, String value) {
    if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0 || value.contains("-----BEGIN")
        || SECRET_FILES.contains(flag) && value.chars().anyMatch(Character::isWhitespace)) {
      return "<" + value.length() + " characters, not shown: the contents of a file rather than its path?>";
    }
    return value.replaceAll("://[^/@\\s]*@", "://***@");
  }

  /** Whether {@code args} give {@code option} a value: {@code --name=value}, or {@code --name value}. */
  private static boolean givesAValue(OptionSpec option, String[] args) {
    boolean takesParameter = option.arity().max() > 0;
    for (int i = 0; i < args.length; i++) {
      if ("--".equals(args[i])) {
        return false; // the end of the options: the rest are positional
      }
      for (String name : option.names()) {
        if (args[i].startsWith(name + "=") || (takesParameter && args[i].equals(name) && i + 1 < args.length)) {
          return true;
        }
      }
    }
    return false;
  }
}
