package dev.wsgrpc.gateway.proxy;

import dev.wsgrpc.core.internal.OptionValues;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/** One {@code HOST:PORT} of an upstream list; IPv6 literals in brackets. */
final class HostPort {
  final String host;
  final int port;

  private HostPort(String host, int port) {
    this.host = host;
    this.port = port;
  }

  /**
   * Parses {@code HOST:PORT}.
   *
   * @throws IllegalArgumentException "{@code what}: VALUE (expected: HOST:PORT)", from {@link OptionValues}
   */
  static HostPort parse(String what, String value) {
    InetSocketAddress hp = OptionValues.parseHostAndPort(value, what, false);
    return new HostPort(hp.getHostString(), hp.getPort());
  }

  /** Parses the lines of a list file: one {@code HOST:PORT} per line, blank lines and {@code #} comments skipped. */
  static List<HostPort> parseLines(String what, List<String> lines) {
    List<HostPort> out = new ArrayList<>();
    for (String line : lines) {
      int hash = line.indexOf('#');
      String s = (hash >= 0 ? line.substring(0, hash) : line).trim();
      if (!s.isEmpty()) {
        out.add(parse(what, s));
      }
    }
    return out;
  }

  @Override
  public String toString() {
    return OptionValues.hostAndPort(host, port);
  }
}
