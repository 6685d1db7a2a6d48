package dev.wsgrpc.cli;

import dev.wsgrpc.client.WebSocketClientOptions;
import java.io.File;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

/**
 * The options every command shares with the library, named as {@link WebSocketClientOptions.Builder} names them:
 * {@code header} is {@code --header}, {@code trustCertificates} is {@code --trust-certificates}, and so on.
 */
final class ClientOptions {

  @Option(names = "--header", paramLabel = "NAME:VALUE",
      description = "A header for the upgrade request, e.g. 'Authorization: Bearer ...'. Repeatable.")
  List<String> headers = new ArrayList<>();

  @Option(names = "--proxy", paramLabel = "[http://][USER:PASSWORD@]HOST:PORT",
      description = "Reach the server through this HTTP CONNECT proxy. Default: the standard settings decide "
          + "(https.proxyHost/http.proxyHost, HTTPS_PROXY/HTTP_PROXY, NO_PROXY).")
  String proxy;

  @Option(names = "--proxy-credentials", paramLabel = "USER:PASSWORD",
      description = "Basic authentication for the proxy.")
  String proxyCredentials;

  @Option(names = "--use-system-proxy", arity = "1", paramLabel = "true|false",
      description = "Whether the standard settings may choose a proxy when --proxy is not given. Default: true.")
  boolean useSystemProxy = true;

  @Option(names = "--trust-certificates", paramLabel = "PEM",
      description = "Trust the CA or server certificates in this PEM file for wss (default: the JDK's trust store).")
  File trustCertificates;

  @Option(names = "--connect-to", paramLabel = "HOST:PORT",
      description = "Dial this address instead of the URL's; Host, TLS SNI and the certificate check still use the "
          + "URL's host.")
  String connectTo;

  @Option(names = "--subprotocols", split = ",", paramLabel = "NAME[,NAME...]",
      description = "Subprotocols to offer, in order; an empty value offers none. Default: wsgrpc.v1.")
  List<String> subprotocols;

  @Option(names = "--origin", description = "The Origin header, for servers that check it.")
  String origin;

  @Option(names = "--handshake-timeout", paramLabel = "DURATION", converter = DurationConverter.class,
      description = "Time allowed for TLS and the upgrade, e.g. 10s. Default: 10s.")
  Duration handshakeTimeout;

  @Option(names = "--ping-interval", paramLabel = "DURATION", converter = DurationConverter.class,
      description = "Time between WebSocket pings; 0 sends none. Default: 30s.")
  Duration pingInterval;

  @Option(names = "--ping-timeout", paramLabel = "DURATION", converter = DurationConverter.class,
      description = "How long after a ping something must arrive. Default: 15s.")
  Duration pingTimeout;

  @Option(names = "--max-inbound-frame-payload", paramLabel = "BYTES",
      description = "The largest frame accepted. Default: 1048576.")
  Integer maxInboundFramePayload;

  @Option(names = "--max-outbound-frame-payload", paramLabel = "BYTES",
      description = "The largest frame sent. Default: 65536.")
  Integer maxOutboundFramePayload;

  /**
   * The library options for {@code url} with everything given on the command line.
   *
   * @throws IllegalArgumentException naming the option whose value is wrong
   */
  WebSocketClientOptions toOptions(String url) {
    WebSocketClientOptions.Builder b = WebSocketClientOptions.newBuilder(url);
    for (String header : headers) {
      int colon = header.indexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException("--header: " + header + " (expected: NAME:VALUE)");
      }
      b.header(header.substring(0, colon).trim(), header.substring(colon + 1).trim());
    }
    if (proxy != null) {
      applyProxy(b, proxy);
    }
    if (proxyCredentials != null) {
      String[] userPassword = splitCredentials(proxyCredentials, "--proxy-credentials");
      b.proxyCredentials(userPassword[0], userPassword[1]);
    }
    b.useSystemProxy(useSystemProxy);
    if (trustCertificates != null) {
      if (!trustCertificates.canRead()) {
        throw new IllegalArgumentException("--trust-certificates: " + trustCertificates
            + " (expected: a readable PEM file)");
      }
      b.trustCertificates(trustCertificates);
    }
    if (connectTo != null) {
      HostPort hp = HostPort.parse(connectTo, "--connect-to");
      b.connectTo(hp.host, hp.port);
    }
    if (subprotocols != null) {
      List<String> names = new ArrayList<>();
      for (String s : subprotocols) {
        if (!s.trim().isEmpty()) {
          names.add(s.trim());
        }
      }
      b.subprotocols(names.toArray(new String[0]));
    }
    if (origin != null) {
      b.origin(origin);
    }
    if (handshakeTimeout != null) {
      b.handshakeTimeout(handshakeTimeout);
    }
    if (pingInterval != null) {
      b.pingInterval(pingInterval);
    }
    if (pingTimeout != null) {
      b.pingTimeout(pingTimeout);
    }
    if (maxInboundFramePayload != null) {
      b.maxInboundFramePayload(maxInboundFramePayload);
    }
    if (maxOutboundFramePayload != null) {
      b.maxOutboundFramePayload(maxOutboundFramePayload);
    }
    return b.build();
  }

  private static void applyProxy(WebSocketClientOptions.Builder b, String spec) {
    String withScheme = spec.contains("://") ? spec : "http://" + spec;
    URI uri;
    try {
      uri = new URI(withScheme);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("--proxy: " + redact(spec) + " (expected: [http://][USER:PASSWORD@]HOST:PORT)");
    }
    if (!"http".equals(uri.getScheme().toLowerCase(Locale.ROOT)) || uri.getHost() == null || uri.getPort() == -1) {
      throw new IllegalArgumentException("--proxy: " + redact(spec) + " (expected: [http://][USER:PASSWORD@]HOST:PORT)");
    }
    String host = uri.getHost().startsWith("[") ? uri.getHost().substring(1, uri.getHost().length() - 1)
        : uri.getHost();
    b.proxy(host, uri.getPort());
    if (uri.getRawUserInfo() != null) {
      String[] userPassword = splitCredentials(uri.getRawUserInfo(), "--proxy");
      b.proxyCredentials(decode(userPassword[0]), decode(userPassword[1]));
    }
  }

  private static String[] splitCredentials(String value, String option) {
    int colon = value.indexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException(option + ": <redacted> (expected: USER:PASSWORD)");
    }
    return new String[] {value.substring(0, colon), value.substring(colon + 1)};
  }

  private static String decode(String s) {
    return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  private static String redact(String spec) {
    int at = spec.lastIndexOf('@');
    return at < 0 ? spec : "<redacted>@" + spec.substring(at + 1);
  }

  /** {@code host:port}, with IPv6 literals in brackets. */
  static final class HostPort {
    final String host;
    final int port;

    private HostPort(String host, int port) {
      this.host = host;
      this.port = port;
    }

    static HostPort parse(String value, String option) {
      int colon = value.lastIndexOf(':');
      if (colon <= 0 || colon == value.length() - 1) {
        throw new IllegalArgumentException(option + ": " + value + " (expected: HOST:PORT)");
      }
      String host = value.substring(0, colon);
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
      }
      int port;
      try {
        port = Integer.parseInt(value.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(option + ": " + value + " (expected: HOST:PORT)");
      }
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException(option + ": " + value + " (expected: a port from 0 to 65535)");
      }
      return new HostPort(host, port);
    }

    @Override
    public String toString() {
      return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
  }

  /** Durations as {@code 500ms}, {@code 10s}, {@code 2m}, {@code 1h}, a bare number of seconds, or ISO-8601. */
  static final class DurationConverter implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      return parseDuration(value);
    }
  }

  static Duration parseDuration(String value) {
    String v = value.trim().toLowerCase(Locale.ROOT);
    try {
      if (v.startsWith("p")) {
        return Duration.parse(value.trim().toUpperCase(Locale.ROOT));
      }
      if (v.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
      }
      if (v.endsWith("s")) {
        return Duration.ofMillis(Math.round(Double.parseDouble(v.substring(0, v.length() - 1)) * 1000));
      }
      if (v.endsWith("m")) {
        return Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1)) * 60);
      }
      if (v.endsWith("h")) {
        return Duration.ofHours(Long.parseLong(v.substring(0, v.length() - 1)));
      }
      return Duration.ofMillis(Math.round(Double.parseDouble(v) * 1000));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(value + " (expected: a duration such as 500ms, 10s, 2m)");
    }
  }
}
