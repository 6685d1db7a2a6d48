package dev.wsgrpc.cli;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.ProxyOptions;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.core.internal.InvalidValueException;
import dev.wsgrpc.core.internal.OptionValues;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.File;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;
import picocli.CommandLine;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The options every command shares with the library, named as {@link WebSocketClientOptions.Builder} names them:
 * {@code header} is {@code --header}, {@code trustCertificates} is {@code --trust-certificates}, and so on.
 */
final class ClientOptions {

  /** The command these options belong to: its command line tells which of an option's names was given. */
  @Spec(Spec.Target.MIXEE)
  CommandSpec command;

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

  @Option(names = "--subprotocols", split = ",", paramLabel = "NAME",
      description = "Subprotocols to offer, in order; an empty value offers none. Default: wsgrpc.v1.")
  List<String> subprotocols;

  @Option(names = "--origin", paramLabel = "ORIGIN", description = "The Origin header, for servers that check it.")
  String origin;

  @Option(names = "--handshake-timeout", paramLabel = "DURATION", converter = DurationConverter.class,
      description = "Time allowed for the TCP connect, then for TLS and the upgrade, e.g. 10s. Default: 10s.")
  Duration handshakeTimeout;

  @Option(names = "--ping-interval", paramLabel = "DURATION", converter = DurationConverter.class,
      description = "Time between WebSocket pings; 0 sends none. Default: 30s.")
  Duration pingInterval;

  @Option(names = "--ping-timeout", paramLabel = "DURATION", converter = DurationConverter.class,
      description = "How long after a ping, and after the upgrade's 101, something must arrive. Default: 15s.")
  Duration pingTimeout;

  @Option(names = {"--max-inbound-frame-payload", "--max-inbound-frame"}, paramLabel = "BYTES",
      description = "The largest frame accepted (--max-inbound-frame is the gateway's name). Default: 1048576.")
  Integer maxInboundFramePayload;

  @Option(names = {"--max-outbound-frame-payload", "--max-outbound-frame"}, paramLabel = "BYTES",
      description = "The largest frame sent (--max-outbound-frame is the gateway's name). Default: 65536.")
  Integer maxOutboundFramePayload;

  /**
   * The library options for {@code url} with everything given on the command line.
   *
   * @throws IllegalArgumentException naming the option whose value is wrong
   */
  WebSocketClientOptions toOptions(String url) {
    return toOptions(url, "url");
  }

  /** As {@link #toOptions(String)}, a refused URL reported under {@code urlOption} (forward's {@code --to}). */
  WebSocketClientOptions toOptions(String url, String urlOption) {
    WebSocketClientOptions.Builder b = set(urlOption, () -> WebSocketClientOptions.newBuilder(url));
    for (String header : headers) {
      // Never quoted: without its colon the argument may be the value alone ("Bearer ..."), and any value may be a
      // secret. The library's refusals say which character is wrong, and where.
      int colon = header.indexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException("--header: <redacted> (expected: NAME:VALUE; found "
            + (colon < 0 ? "no ':'" : "no NAME before ':'") + ")");
      }
      try {
        b.header(header.substring(0, colon).trim(), header.substring(colon + 1).trim());
      } catch (InvalidValueException e) {
        // "--header name: ..." or "--header X-Auth-Key: <redacted> (...)": the library's text, which names the header.
        throw new IllegalArgumentException("--" + e.getMessage(), e);
      }
    }
    ProxyOptions.Builder proxyOptions = ProxyOptions.newBuilder().useSystemProxy(useSystemProxy);
    if (proxy != null) {
      applyProxy(proxyOptions, proxy);
    }
    if (proxyCredentials != null) {
      String[] userPassword = splitCredentials(proxyCredentials, "--proxy-credentials");
      set("--proxy-credentials", () -> proxyOptions.credentials(userPassword[0], userPassword[1]));
    }
    set("--proxy-credentials", () -> b.proxy(proxyOptions.build()));
    if (trustCertificates != null) {
      checkCertificates(trustCertificates);
      b.tls(ClientTls.trusting(trustCertificates));
    }
    if (connectTo != null) {
      InetSocketAddress hp = OptionValues.parseHostAndPort(connectTo, "--connect-to", false);
      set("--connect-to", () -> b.connectTo(hp.getHostString(), hp.getPort()));
    }
    if (subprotocols != null) {
      List<String> names = new ArrayList<>();
      for (String s : subprotocols) {
        if (!s.trim().isEmpty()) {
          names.add(s.trim());
        }
      }
      set("--subprotocols", () -> b.subprotocols(names.toArray(new String[0])));
    }
    if (origin != null) {
      set("--origin", () -> b.origin(origin));
    }
    TunnelSettings.Builder settings = TunnelSettings.newBuilder();
    if (handshakeTimeout != null) {
      set("--handshake-timeout", () -> settings.handshakeTimeout(handshakeTimeout));
    }
    if (pingInterval != null) {
      set("--ping-interval", () -> settings.pingInterval(pingInterval));
    }
    if (pingTimeout != null) {
      set("--ping-timeout", () -> settings.pingTimeout(pingTimeout));
    }
    if (maxInboundFramePayload != null) {
      set(nameGiven("--max-inbound-frame-payload", "--max-inbound-frame"),
          () -> settings.maxInboundFramePayload(maxInboundFramePayload));
    }
    if (maxOutboundFramePayload != null) {
      set(nameGiven("--max-outbound-frame-payload", "--max-outbound-frame"),
          () -> settings.maxOutboundFramePayload(maxOutboundFramePayload));
    }
    return set("--trust-certificates", () -> b.settings(settings.build()).build());
  }

  /**
   * Which of an option's {@code names} the command line gave, so that a refusal names the option as it was typed
   * ({@code --max-inbound-frame 0} is refused as {@code --max-inbound-frame}); the first name when no command line
   * was parsed.
   */
  private String nameGiven(String... names) {
    CommandLine commandLine = command == null ? null : command.commandLine();
    CommandLine.ParseResult parsed = commandLine == null ? null : commandLine.getParseResult();
    if (parsed != null) {
      for (String arg : parsed.originalArgs()) {
        if ("--".equals(arg)) {
          break; // the end of the options
        }
        for (String name : names) {
          if (arg.equals(name) || arg.startsWith(name + "=")) {
            return name;
          }
        }
      }
    }
    return names[0];
  }

  /**
   * Reads {@code pem} now, as the channel will when it dials, so that a file that is not one of certificates is a
   * usage error before anything is dialled rather than a failure of the command.
   */
  private static void checkCertificates(File pem) {
    if (!pem.canRead()) {
      throw new IllegalArgumentException("--trust-certificates: " + pem + " (expected: a readable PEM file)");
    }
    try {
      SslContextBuilder.forClient().trustManager(pem).build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("--trust-certificates: " + pem
          + " (expected: a PEM file of certificates; " + e.getMessage() + ")", e);
    }
  }

  /**
   * Runs one library setter for {@code option}; a value it refuses is reported as {@code "--option: value (...)"}.
   */
  static <T> T set(String option, Supplier<T> setter) {
    try {
      return setter.get();
    } catch (InvalidValueException e) {
      throw new IllegalArgumentException(option + ": " + e.value() + " (expected: " + e.expected() + ")", e);
    }
  }

  private static void applyProxy(ProxyOptions.Builder b, String spec) {
    String withScheme = spec.contains("://") ? spec : "http://" + spec;
    URI uri;
    try {
      uri = new URI(withScheme);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("--proxy: " + redact(spec) + " (expected: [http://][USER:PASSWORD@]HOST:PORT)");
    }
    if (!"http".equals(uri.getScheme().toLowerCase(Locale.ROOT)) || uri.getHost() == null || uri.getPort() < 1
        || uri.getPort() > 65535) {
      throw new IllegalArgumentException("--proxy: " + redact(spec) + " (expected: [http://][USER:PASSWORD@]HOST:PORT)");
    }
    String host = uri.getHost().startsWith("[") ? uri.getHost().substring(1, uri.getHost().length() - 1)
        : uri.getHost();
    set("--proxy", () -> b.address(host, uri.getPort()));
    if (uri.getRawUserInfo() != null) {
      String[] userPassword = splitCredentials(uri.getRawUserInfo(), "--proxy");
      set("--proxy", () -> b.credentials(decode(userPassword[0]), decode(userPassword[1])));
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

  /** Durations as {@link OptionValues#parseDuration} reads them: {@code 500ms}, {@code 10s}, {@code 2m}, ... */
  static final class DurationConverter implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      return OptionValues.parseDuration(value);
    }
  }
}
