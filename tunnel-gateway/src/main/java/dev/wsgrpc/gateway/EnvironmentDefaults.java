package dev.wsgrpc.gateway;

import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Reads each option's default from the environment: {@code --drain-timeout} from {@code TUNNEL_DRAIN_TIMEOUT}, and so
 * on. The command line wins over the environment, which wins over the built-in default.
 */
final class EnvironmentDefaults implements IDefaultValueProvider {

  private final Map<String, String> env;

  EnvironmentDefaults() {
    this(System.getenv());
  }

  EnvironmentDefaults(Map<String, String> env) {
    this.env = env;
  }

  /** {@code --upstream-tls} becomes {@code TUNNEL_UPSTREAM_TLS}. */
  static String variableFor(OptionSpec option) {
    return "TUNNEL_" + option.longestName().replaceFirst("^-+", "").replace('-', '_').toUpperCase(Locale.ROOT);
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (!(arg instanceof OptionSpec) || ((OptionSpec) arg).usageHelp() || ((OptionSpec) arg).versionHelp()) {
      return null;
    }
    String value = env.get(variableFor((OptionSpec) arg));
    return value != null ? value : arg.defaultValue();
  }
}
