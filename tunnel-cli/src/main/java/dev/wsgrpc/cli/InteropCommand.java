package dev.wsgrpc.cli;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.interop.InteropCases;
import dev.wsgrpc.okhttp.OkHttpWebSocketChannels;
import dev.wsgrpc.okhttp.OkHttpWebSocketOptions;
import io.grpc.ManagedChannel;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code interop URL}: the standard gRPC interop cases ({@code grpc.testing.TestService}) through the tunnel, one
 * {@code PASS name} or {@code FAIL name: reason} line per case, then {@code N passed, M failed}. Exits 0 when all
 * passed, 1 otherwise. {@code --client okhttp} runs them with the OkHttp client for Android
 * ({@code tunnel-client-okhttp}) instead of the Netty client, with the same options.
 */
@Command(name = "interop", mixinStandardHelpOptions = true,
    description = "Run the standard gRPC interop cases against a grpc.testing.TestService behind a tunnel.")
final class InteropCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "URL", description = "The tunnel server's ws:// or wss:// URL.")
  String url;

  @Option(names = "--case", paramLabel = "NAME", description = "A case to run (repeatable). Default: all of "
      + "empty_unary, large_unary, client_streaming, server_streaming, ping_pong, empty_stream, cancel_after_begin, "
      + "cancel_after_first_response, timeout_on_sleeping_server, custom_metadata, status_code_and_message, "
      + "special_status_message, unimplemented_method, unimplemented_service.")
  List<String> cases = new ArrayList<>();

  @Option(names = "--client", paramLabel = "netty|okhttp", description = "The client library that runs the cases: "
      + "netty (tunnel-client) or okhttp (tunnel-client-okhttp, the Android client), with the same options. okhttp "
      + "ends a tunnel on which nothing has arrived for --ping-interval plus --ping-timeout; a bearer.TOKEN among "
      + "--subprotocols is offered as its bearer token (one at most), and header values, --origin and proxy "
      + "credentials must be printable ASCII. Default: netty.")
  String clientKind = "netty";

  @Mixin
  ClientOptions client;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    WebSocketClientOptions options;
    OkHttpWebSocketOptions okHttpOptions = null;
    try {
      for (String c : cases) {
        if (!InteropCases.ALL_CASES.contains(c)) {
          throw new IllegalArgumentException("--case: " + c + " (expected: one of "
              + String.join(", ", InteropCases.ALL_CASES) + ")");
        }
      }
      if (!clientKind.equals("netty") && !clientKind.equals("okhttp")) {
        throw new IllegalArgumentException("--client: " + clientKind + " (expected: netty or okhttp)");
      }
      options = client.toOptions(url);
      if (clientKind.equals("okhttp")) {
        okHttpOptions = toOkHttp(options);
      }
    } catch (IllegalArgumentException e) {
      spec.commandLine().getErr().println("interop: " + e.getMessage());
      spec.commandLine().getErr().flush();
      return WsgrpcCli.USAGE;
    }
    ManagedChannel channel = okHttpOptions != null
        ? OkHttpWebSocketChannels.newChannel(okHttpOptions)
        : WebSocketChannels.newChannelBuilder(options).build();
    try {
      PrintStream out = new PrintStream(new WriterOutputStream(spec.commandLine().getOut()), true,
          StandardCharsets.UTF_8.name());
      int failed = InteropCases.run(channel, cases.isEmpty() ? InteropCases.ALL_CASES : cases, out);
      out.flush();
      return failed == 0 ? WsgrpcCli.OK : WsgrpcCli.FAILED;
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /**
   * The same settings for the OkHttp client. The Netty client's builders have validated every value, with the
   * messages and flag names every command uses; only the proxy password, which those options never hand out, is read
   * again from {@code --proxy-credentials} or {@code --proxy}. A {@code bearer.<token>} among {@code --subprotocols}
   * is a credential, which the Netty client offers as it offers any name but the OkHttp client takes only through
   * {@code bearerTokenSubprotocol} (and offers after the others). What the OkHttp client refuses beyond that (header
   * values, the origin and proxy credentials in printable ASCII only, where the Netty client takes Latin-1) is
   * reported under the flag that set it, as the library words it: values redacted as it redacts them.
   */
  OkHttpWebSocketOptions toOkHttp(WebSocketClientOptions o) {
    OkHttpWebSocketOptions.Builder b = OkHttpWebSocketOptions.newBuilder(o.url().toString());
    List<String> names = new ArrayList<>();
    List<String> tokens = new ArrayList<>();
    for (String name : o.subprotocols()) {
      // As the gateway reads the prefix (BearerTokens): in any case.
      if (name.regionMatches(true, 0, OkHttpWebSocketOptions.BEARER_SUBPROTOCOL_PREFIX, 0,
          OkHttpWebSocketOptions.BEARER_SUBPROTOCOL_PREFIX.length())) {
        tokens.add(name.substring(OkHttpWebSocketOptions.BEARER_SUBPROTOCOL_PREFIX.length()));
      } else {
        names.add(name);
      }
    }
    if (tokens.size() > 1) {
      List<String> shown = new ArrayList<>();
      for (int i = 0; i < tokens.size(); i++) {
        shown.add(OkHttpWebSocketOptions.BEARER_SUBPROTOCOL_PREFIX + "<redacted>");
      }
      throw new IllegalArgumentException("--subprotocols: " + String.join(",", shown)
          + " (expected: at most one bearer.<token> with --client okhttp)");
    }
    b.subprotocols(names.toArray(new String[0]));
    if (!tokens.isEmpty()) {
      b.bearerTokenSubprotocol(tokens.get(0));
    }
    okHttp("--origin", true, () -> b.origin(o.origin()));
    for (Map.Entry<String, String> header : o.headers().entrySet()) {
      okHttp("--header", true, () -> b.header(header.getKey(), header.getValue()));
    }
    if (o.tls().trustCertificates() != null) {
      b.tls(dev.wsgrpc.okhttp.ClientTls.trusting(o.tls().trustCertificates()));
    }
    TunnelSettings s = o.settings();
    b.settings(dev.wsgrpc.okhttp.TunnelSettings.newBuilder()
        .handshakeTimeout(s.handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .pingInterval(s.pingInterval().toMillis(), TimeUnit.MILLISECONDS)
        .pingTimeout(s.pingTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .maxInboundFramePayload(s.maxInboundFramePayload())
        .maxOutboundFramePayload(s.maxOutboundFramePayload())
        .build());
    dev.wsgrpc.client.ProxyOptions p = o.proxy();
    dev.wsgrpc.okhttp.ProxyOptions.Builder proxy = dev.wsgrpc.okhttp.ProxyOptions.newBuilder()
        .useSystemProxy(p.useSystemProxy());
    if (p.host() != null) {
      proxy.address(p.host(), p.port());
    }
    if (p.username() != null) {
      okHttp(client.proxyCredentials != null ? "--proxy-credentials" : "--proxy", false,
          () -> proxy.credentials(p.username(), proxyPassword()));
    }
    b.proxy(proxy.build());
    if (o.connectToHost() != null) {
      b.connectTo(o.connectToHost(), o.connectToPort());
    }
    return b.build();
  }

  /**
   * Runs one OkHttp setter for {@code flag}; its refusal, whose text already redacts what may be a secret, is reported
   * as {@code "--header X-Name: <redacted> (...)"} when the library names the value as the flag does
   * ({@code sameName}), else as {@code "--proxy-credentials: proxy password: <redacted> (...)"}.
   */
  private static void okHttp(String flag, boolean sameName, Runnable setter) {
    try {
      setter.run();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException((sameName ? "--" : flag + ": ") + e.getMessage(), e);
    }
  }

  /** The password of {@code --proxy-credentials USER:PASSWORD}, else of {@code --proxy USER:PASSWORD@HOST:PORT}. */
  private String proxyPassword() {
    if (client.proxyCredentials != null) {
      return client.proxyCredentials.substring(client.proxyCredentials.indexOf(':') + 1);
    }
    String info = URI.create(client.proxy.contains("://") ? client.proxy : "http://" + client.proxy).getRawUserInfo();
    try {
      return URLDecoder.decode(info.substring(info.indexOf(':') + 1).replace("+", "%2B"), "UTF-8");
    } catch (java.io.UnsupportedEncodingException e) {
      throw new AssertionError(e);
    }
  }

  /** Feeds a PrintStream's UTF-8 bytes into picocli's writer. */
  private static final class WriterOutputStream extends java.io.OutputStream {
    private final java.io.PrintWriter writer;
    private final java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();

    WriterOutputStream(java.io.PrintWriter writer) {
      this.writer = writer;
    }

    @Override
    public void write(int b) {
      line.write(b);
      if (b == '\n') {
        flush();
      }
    }

    @Override
    public void flush() {
      writer.print(new String(line.toByteArray(), StandardCharsets.UTF_8));
      writer.flush();
      line.reset();
    }
  }
}
