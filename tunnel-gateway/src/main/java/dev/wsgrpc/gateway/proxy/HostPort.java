package dev.wsgrpc.gateway.proxy;

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
   * @throws IllegalArgumentException "{@code what}: VALUE (expected: HOST:PORT)"
   */
  static HostPort parse(String what, String value) {
    String s = value.trim();
    int colon = s.lastIndexOf(':');
    String host = colon > 0 ? s.substring(0, colon) : "";
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port = -1;
    try {
      port = colon > 0 ? Integer.parseInt(s.substring(colon + 1)) : -1;
    } catch (NumberFormatException e) {
      // reported below
    }
    if (host.isEmpty() || host.indexOf('/') >= 0 || port < 1 || port > 65535) {
      throw new IllegalArgumentException(what + ": " + s + " (expected: HOST:PORT)");
    }
    return new HostPort(host, port);
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
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }
}
