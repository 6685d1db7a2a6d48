package dev.wsgrpc.gateway;

import java.util.Locale;
import picocli.CommandLine;

/** How the gateway passes calls to its upstreams ({@code --mode}). */
enum GatewayMode {
  /** grpc-java's server ends each tunnel's HTTP/2; every call is forwarded, balanced over healthy upstreams. */
  PROXY,
  /** Each tunnel's HTTP/2 bytes are relayed unchanged to one upstream connection. */
  RELAY;

  /** Reads {@code proxy} or {@code relay}, in any case. */
  static final class Converter implements CommandLine.ITypeConverter<GatewayMode> {
    @Override
    public GatewayMode convert(String value) {
      for (GatewayMode mode : values()) {
        if (mode.name().equalsIgnoreCase(value.trim())) {
          return mode;
        }
      }
      throw new CommandLine.TypeConversionException("'" + value + "' is not a mode (expected: proxy or relay)");
    }
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
