package dev.wsgrpc.gateway;

import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.core.WebSocketTunnel;
import dev.wsgrpc.core.internal.InvalidValueException;
import dev.wsgrpc.core.internal.OptionValues;
import dev.wsgrpc.core.internal.Preconditions;
import dev.wsgrpc.core.internal.WsgrpcVersion;
import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.Http2Limits;
import dev.wsgrpc.server.InternalTunnelServer;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.TunnelAdmission;
import dev.wsgrpc.server.TrustedProxies;
import dev.wsgrpc.server.TunnelInfo;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.gateway.proxy.CallMetrics;
import dev.wsgrpc.gateway.proxy.ForwardingRegistry;
import dev.wsgrpc.gateway.proxy.ReflectionSchemas;
import dev.wsgrpc.gateway.proxy.UpstreamChannel;
import dev.wsgrpc.gateway.proxy.UpstreamChannels;
import dev.wsgrpc.gateway.proxy.UpstreamOptions;
import dev.wsgrpc.gateway.proxy.UpstreamProblems;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.ResourceLeakDetector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.File;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code java -jar tunnel-server.jar}: the standalone gateway operators run behind their CDN. Demo mode (no
 * {@code --upstream}) serves health, reflection and the interop test service in-process; with upstreams, proxy mode
 * (the default) forwards every call to them, balanced per call, and relay mode relays each tunnel's bytes to one of
 * them. All serve native gRPC, {@code /healthz} and {@code /metrics} on the same port (or {@code /metrics} on
 * {@code --admin-port} only) and drain on SIGTERM/SIGINT.
 */
@Command(
    name = "tunnel-server",
    mixinStandardHelpOptions = true,
    versionProvider = TunnelServerMain.Version.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
        "gRPC over WebSocket: accepts tunnels (ws:// or wss://) and serves them in-process (demo mode) or passes them "
            + "to existing gRPC servers (--upstream): call by call (--mode proxy, the default) or tunnel by tunnel "
            + "(--mode relay). The same port also serves plain gRPC (h2c, "
            + "or TLS with ALPN h2), GET /healthz (200 serving, 503 draining) and GET /metrics (Prometheus text; "
            + "only on --admin-port when it is set).",
        "Every option can also come from the environment variable shown; the command line wins. Durations read "
            + "500ms, 30s, 2m or 1h; a number without a unit is seconds. Each is at most 2147483647 ms (about 24.8 "
            + "days) and, unless 0, at least 1 ms. An option that the mode, or the options it comes with, would not "
            + "use (such as --max-inbound-message in relay mode) is refused unless it has its default.",
        ""},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:stopped after SIGTERM/SIGINT (drained)", "1:failed to start", "2:bad option"})
public final class TunnelServerMain implements Callable<Integer> {

  static {
    // Before the first logger exists: the jar's own logging configuration, unless the operator named one.
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty("logback.configurationFile", "tunnel-server-logback.xml");
    }
  }

  private static final Logger logger = LoggerFactory.getLogger(TunnelServerMain.class);

  @Spec
  CommandSpec spec;

  @Option(names = "--port", paramLabel = "PORT", defaultValue = "8080",
      description = "TCP port to listen on; 0 picks a free one. Default: ${DEFAULT-VALUE}. Env: TUNNEL_PORT.")
  int port;

  @Option(names = "--bind", paramLabel = "ADDRESS", defaultValue = "0.0.0.0",
      description = "Address to listen on. Default: ${DEFAULT-VALUE}. Env: TUNNEL_BIND.")
  String bind;

  @Option(names = "--path", paramLabel = "PATH", defaultValue = WebSocketTunnel.DEFAULT_PATH,
      description = "Path that accepts the WebSocket upgrade. Default: ${DEFAULT-VALUE}. Env: TUNNEL_PATH.")
  String path;

  @Option(names = "--upstream", paramLabel = "HOST:PORT", split = ",",
      description = "The gRPC servers behind the gateway (plain h2c unless --upstream-tls): HOST:PORT entries, every "
          + "address of every name used; in proxy mode also one target URI such as dns:///grpc.internal:50051. "
          + "Proxy mode balances calls, relay mode tunnels (see --mode). Without it (and --upstream-file): demo mode. "
          + "Default: none (demo mode). Env: TUNNEL_UPSTREAM.")
  List<String> upstream = new ArrayList<>();

  @Option(names = "--upstream-tls", defaultValue = "false",
      description = "Connect to upstreams with TLS (ALPN h2). Default: ${DEFAULT-VALUE}. Env: TUNNEL_UPSTREAM_TLS.")
  boolean upstreamTls;

  @Option(names = "--upstream-trust-cert", paramLabel = "PEM",
      description = "CA or server certificates to trust for --upstream-tls. Default: the JDK's trust store. "
          + "Env: TUNNEL_UPSTREAM_TRUST_CERT.")
  File upstreamTrustCert;

  @Option(names = "--tls-cert", paramLabel = "PEM",
      description = "Certificate chain for wss:// (with --tls-key); replaced files are picked up without a restart. "
          + "Default: none (ws://). Env: TUNNEL_TLS_CERT.")
  File tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM",
      description = "PKCS#8 private key for --tls-cert. Default: none. Env: TUNNEL_TLS_KEY.")
  File tlsKey;

  @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "30s", converter = DurationConverter.class,
      description = "On SIGTERM/SIGINT: how long in-flight RPCs may take to finish before tunnels are closed (WebSocket close 1001). Default: ${DEFAULT-VALUE}. Env: TUNNEL_DRAIN_TIMEOUT.")
  Duration drainTimeout;

  @Option(names = "--trusted-proxies", paramLabel = "CIDR", split = ",",
      description = "Proxies (CIDR blocks or addresses) whose --forwarded-header names the client, which services, "
          + "limits and logs then see: the chain is read from the right past these proxies, the first other hop is "
          + "the client. Headers from anyone else are ignored. Default: none. Env: TUNNEL_TRUSTED_PROXIES.")
  List<String> trustedProxies = new ArrayList<>();

  @Option(names = "--forwarded-header", paramLabel = "HEADER", defaultValue = "X-Forwarded-For",
      description = "The one header --trusted-proxies append the client's address to: X-Forwarded-For (nginx "
          + "$proxy_add_x_forwarded_for, HAProxy option forwardfor) or Forwarded (RFC 7239); the other is ignored. "
          + "Default: ${DEFAULT-VALUE}. Env: TUNNEL_FORWARDED_HEADER.")
  String forwardedHeader;

  @Option(names = "--handshake-timeout", paramLabel = "DURATION", defaultValue = "10s",
      converter = DurationConverter.class,
      description = "Time allowed for TLS, the upgrade request, and then a tunnel's HTTP/2 preface and SETTINGS "
          + "(relay mode: from its upstream connection on, which it has this long to find; keep it below the "
          + "clients' pingTimeout, 15 s). Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_HANDSHAKE_TIMEOUT.")
  Duration handshakeTimeout;

  @Option(names = "--max-inbound-frame", paramLabel = "BYTES",
      defaultValue = "" + WebSocketTunnel.DEFAULT_MAX_INBOUND_FRAME_PAYLOAD,
      description = "Largest WebSocket frame payload accepted (larger: close 1009). Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_MAX_INBOUND_FRAME.")
  int maxInboundFrame;

  @Option(names = "--max-outbound-frame", paramLabel = "BYTES",
      defaultValue = "" + WebSocketTunnel.DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD,
      description = "Largest WebSocket frame payload sent. Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_MAX_OUTBOUND_FRAME.")
  int maxOutboundFrame;

  @Option(names = "--auth-tokens", paramLabel = "FILE",
      description = "Require a bearer token on every upgrade (Authorization: Bearer, or a bearer.<token> "
          + "subprotocol), native gRPC call and GET /metrics on --port: a file of 'TOKEN PRINCIPAL' lines, re-read "
          + "when it changes. Default: none (no authentication). Env: TUNNEL_AUTH_TOKENS.")
  File authTokens;

  @Option(names = "--tls-client-ca", paramLabel = "PEM",
      description = "Mutual TLS: require a client certificate issued by these CAs (with --tls-cert); without "
          + "--auth-tokens the certificate subject is the principal. Default: none. Env: TUNNEL_TLS_CLIENT_CA.")
  File tlsClientCa;

  @Option(names = "--allowed-origins", paramLabel = "ORIGIN", split = ",",
      description = "Origins of web pages allowed to open tunnels (e.g. https://app.example.com); others get 403. "
          + "Browsers send Origin with every upgrade, wsgrpc clients only with --origin; requests without Origin are "
          + "allowed. Pages use --browser-origins for browser calls, not this. Default: none, only pages of the "
          + "Host's own site: same host and port, any scheme (see --allow-cross-site-credentials). "
          + "Env: TUNNEL_ALLOWED_ORIGINS.")
  List<String> allowedOrigins = new ArrayList<>();

  @Option(names = "--allow-cross-site-credentials", defaultValue = "false",
      description = "Without --allowed-origins, tunnel upgrades from web pages of other sites than the Host get "
          + "403 (any page could otherwise call the services from its visitors' browsers), as do browser calls with "
          + "--browser-origins '*' when the browser sends a credential by itself (--tls-client-ca); this lets them "
          + "in. List --allowed-origins instead where you can. Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_ALLOW_CROSS_SITE_CREDENTIALS.")
  boolean allowCrossSiteCredentials;

  @Option(names = "--browser-origins", paramLabel = "ORIGIN", split = ",",
      description = "Serve web pages from these origins (or *) too: gRPC-Web, gRPC over WebSocket "
          + "(subprotocol grpc-websockets) and JSON over WebSocket (subprotocol wsgrpc-json; proxy mode takes the "
          + "schemas from the upstream's server reflection or --descriptor-set), on every path but --path, with "
          + "CORS; the same authentication and limits as tunnels. Demo and proxy modes. Default: none (off). "
          + "Env: TUNNEL_BROWSER_ORIGINS.")
  List<String> browserOrigins = new ArrayList<>();

  @Option(names = "--descriptor-set", paramLabel = "FILE",
      description = "Proxy mode, with --browser-origins: JSON-over-WebSocket calls of the services this file "
          + "describes (protoc --descriptor_set_out=FILE --include_imports) take their schemas from it; other "
          + "services' from the upstream's server reflection. Read at start. Default: none (reflection only). "
          + "Env: TUNNEL_DESCRIPTOR_SET.")
  File descriptorSet;

  @Option(names = "--reflection-refresh", paramLabel = "DURATION", defaultValue = "5m",
      converter = DurationConverter.class,
      description = "Proxy mode, with --browser-origins: how long a schema fetched from the upstream's server "
          + "reflection serves JSON-over-WebSocket calls before it is fetched again. Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_REFLECTION_REFRESH.")
  Duration reflectionRefresh;

  @Option(names = "--browser-headers", paramLabel = "NAME", split = ",",
      description = "Metadata headers pages may send and read beyond gRPC's own (CORS allowed and exposed "
          + "headers), with --browser-origins. Default: none. Env: TUNNEL_BROWSER_HEADERS.")
  List<String> browserHeaders = new ArrayList<>();

  @Option(names = "--browser-body-timeout", paramLabel = "DURATION", defaultValue = "60s",
      converter = DurationConverter.class,
      description = "With --browser-origins: how long a gRPC-Web request's body may go without a byte arriving "
          + "(the clock restarts on every read) before its call is cancelled, the client gets 408 and the "
          + "connection closes; HTTP/1.1 has no ping. Default: ${DEFAULT-VALUE}. Env: TUNNEL_BROWSER_BODY_TIMEOUT.")
  Duration browserBodyTimeout;

  /** The library's default ({@code BrowserOptions.DEFAULT_KEEP_ALIVE_TIMEOUT}), which a test holds this to. */
  @Option(names = "--browser-keepalive-timeout", paramLabel = "DURATION", defaultValue = "75s",
      converter = DurationConverter.class,
      description = "With --browser-origins: how long a kept-alive gRPC-Web connection may carry no request before "
          + "it is closed, giving back its place under --max-tunnels (never while a request or its answer is under "
          + "way; answers that keep the connection say Keep-Alive: timeout=SECONDS); HTTP/1.1 has no ping. "
          + "Default: ${DEFAULT-VALUE}. Env: TUNNEL_BROWSER_KEEPALIVE_TIMEOUT.")
  Duration browserKeepAliveTimeout;

  /** The library's default ({@code BrowserOptions.DEFAULT_SEND_TIMEOUT}), which a test holds this to. */
  @Option(names = "--browser-send-timeout", paramLabel = "DURATION", defaultValue = "60s",
      converter = DurationConverter.class,
      description = "With --browser-origins: how long what is written to a gRPC-Web client may wait without a byte "
          + "of it leaving (a client that stopped reading) before the connection is closed and its call cancelled; "
          + "HTTP/1.1 has no ping. Default: ${DEFAULT-VALUE}. Env: TUNNEL_BROWSER_SEND_TIMEOUT.")
  Duration browserSendTimeout;

  @Option(names = "--max-tunnels", paramLabel = "N", defaultValue = "10000",
      description = "Most tunnels open at once; more get 503 with Retry-After. Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_MAX_TUNNELS.")
  int maxTunnels;

  @Option(names = "--max-tunnels-per-client", paramLabel = "N", defaultValue = "100",
      description = "Most tunnels open at once from one client address (after --trusted-proxies); more get 503. "
          + "Default: ${DEFAULT-VALUE}. Env: TUNNEL_MAX_TUNNELS_PER_CLIENT.")
  int maxTunnelsPerClient;

  @Option(names = "--max-handshakes-per-client", paramLabel = "N", defaultValue = "100",
      description = "Most connections from one address still in their handshake (accepted, not yet admitted: TLS, "
          + "the upgrade request, a native connection before its preface or, with --auth-tokens, its first accepted "
          + "call); each connection past it is refused 503 at its request (a native call UNAVAILABLE) and held at "
          + "most 2 s. Connections from --trusted-proxies are not counted. Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_MAX_HANDSHAKES_PER_CLIENT.")
  int maxHandshakesPerClient;

  @Option(names = "--ipv6-client-prefix", paramLabel = "BITS",
      defaultValue = "" + AccessPolicy.DEFAULT_IPV6_CLIENT_PREFIX,
      description = "IPv6 clients in one network of this prefix length count as one client for "
          + "--max-tunnels-per-client and --max-handshakes-per-client (IPv4 clients count by address); 128 counts "
          + "each address. "
          + "Default: ${DEFAULT-VALUE}. Env: TUNNEL_IPV6_CLIENT_PREFIX.")
  int ipv6ClientPrefix;

  @Option(names = "--max-request-headers", paramLabel = "BYTES",
      defaultValue = "" + WebSocketServerOptions.DEFAULT_MAX_REQUEST_HEADER_BYTES,
      description = "Largest upgrade request headers accepted (256 to 1048576); more get 431. "
          + "Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_MAX_REQUEST_HEADERS.")
  int maxRequestHeaders;

  @Option(names = "--max-concurrent-streams", paramLabel = "N",
      defaultValue = "" + Http2Limits.DEFAULT_MAX_CONCURRENT_CALLS,
      description = "Demo and proxy modes: most concurrent calls in one tunnel or connection (HTTP/2 SETTINGS; relay "
          + "mode passes the upstream's, and refuses this option). Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_MAX_CONCURRENT_STREAMS.")
  int maxConcurrentStreams;

  @Option(names = "--max-inbound-message", paramLabel = "BYTES", defaultValue = "4194304",
      description = "Demo and proxy modes (relay mode refuses it: the upstream's own limit applies): largest gRPC "
          + "message accepted (larger: RESOURCE_EXHAUSTED; in proxy mode from upstreams too), and largest JSON message "
          + "of a wsgrpc-json call (whose requests hold at most one JSON value for every 16 bytes of it). "
          + "Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_MAX_INBOUND_MESSAGE.")
  int maxInboundMessage;

  @Option(names = "--idle-timeout", paramLabel = "DURATION", defaultValue = "30m", converter = DurationConverter.class,
      description = "Close a tunnel with no calls for this long (GOAWAY, then close 1001); 0 keeps idle tunnels. "
          + "Default: ${DEFAULT-VALUE}. Env: TUNNEL_IDLE_TIMEOUT.")
  Duration idleTimeout;

  @Option(names = "--native-grpc", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "Also serve plain gRPC (h2c, or TLS with ALPN h2) on the same port. Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_NATIVE_GRPC.")
  boolean nativeGrpc;

  @Option(names = "--mode", paramLabel = "proxy|relay", defaultValue = "proxy", converter = GatewayMode.Converter.class,
      description = "With upstreams: 'proxy' ends each tunnel's HTTP/2 and forwards every call on its own, balanced "
          + "round robin over every healthy upstream address, with caller metadata, per-call limits and metrics; "
          + "'relay' passes each tunnel's bytes unchanged to one upstream connection (no per-call balancing, caller "
          + "metadata, health checks or per-call metrics; a client's own wsgrpc-* headers reach the upstream "
          + "unchanged, so the upstream must not trust them). Default: ${DEFAULT-VALUE}. Env: TUNNEL_MODE.")
  GatewayMode mode;

  @Option(names = "--upstream-file", paramLabel = "FILE",
      description = "Proxy mode: the upstreams as a file of HOST:PORT lines (# comments), read again every "
          + "--upstream-refresh; a file that cannot be read keeps the last good list. Default: none. "
          + "Env: TUNNEL_UPSTREAM_FILE.")
  File upstreamFile;

  @Option(names = "--upstream-refresh", paramLabel = "DURATION", defaultValue = "30s",
      converter = DurationConverter.class,
      description = "Proxy and relay modes: how often upstream names are looked up again (and --upstream-file "
          + "re-read); both also look them up again when a connection to an upstream fails. The JDK caches each "
          + "answer for 30 s (-Dsun.net.inetaddr.ttl=SECONDS, or networkaddress.cache.ttl in java.security), and "
          + "grpc a dns:/// answer 30 s in its own cache (-Dnetworkaddress.cache.ttl=SECONDS): lower them too for "
          + "a shorter wait. "
          + "Default: ${DEFAULT-VALUE}. Env: TUNNEL_UPSTREAM_REFRESH.")
  Duration upstreamRefresh;

  @Option(names = "--upstream-health-check", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "Proxy mode: watch each upstream's grpc.health.v1 status and send calls only to SERVING ones "
          + "(an upstream without the health service counts as serving). Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_UPSTREAM_HEALTH_CHECK.")
  boolean upstreamHealthCheck;

  @Option(names = "--upstream-health-service", paramLabel = "NAME", defaultValue = "",
      description = "Proxy mode: the service name asked about in health checks; empty asks about the whole server. "
          + "Default: empty. Env: TUNNEL_UPSTREAM_HEALTH_SERVICE.")
  String upstreamHealthService;

  @Option(names = "--upstream-authority", paramLabel = "NAME",
      description = "Proxy mode: the :authority and TLS server name for every upstream. Default: each upstream's "
          + "host name. Env: TUNNEL_UPSTREAM_AUTHORITY.")
  String upstreamAuthority;

  @Option(names = "--upstream-client-cert", paramLabel = "PEM",
      description = "Proxy mode: a client certificate chain to present to upstreams (mutual TLS, with "
          + "--upstream-client-key and --upstream-tls). Default: none. Env: TUNNEL_UPSTREAM_CLIENT_CERT.")
  File upstreamClientCert;

  @Option(names = "--upstream-client-key", paramLabel = "PEM",
      description = "Proxy mode: the PKCS#8 key of --upstream-client-cert. Default: none. "
          + "Env: TUNNEL_UPSTREAM_CLIENT_KEY.")
  File upstreamClientKey;

  @Option(names = "--max-inbound-metadata", paramLabel = "BYTES", defaultValue = "8192",
      description = "Demo and proxy modes (relay mode refuses it: the upstream's own limit applies): largest header "
          + "or trailer block accepted from a caller (and, in proxy mode, from an upstream). "
          + "Default: ${DEFAULT-VALUE}. Env: TUNNEL_MAX_INBOUND_METADATA.")
  int maxInboundMetadata;

  @Option(names = "--max-rst-frames", paramLabel = "N", defaultValue = "" + Http2Limits.DEFAULT_MAX_RST_FRAMES,
      description = "Most RST_STREAM frames a connection may send in 10 s (rapid reset); more end it with GOAWAY "
          + "ENHANCE_YOUR_CALM, then a tunnel with close 1008, in every mode (in relay mode before the upstream sees "
          + "them); 0 turns the limit off. Default: ${DEFAULT-VALUE}. Env: TUNNEL_MAX_RST_FRAMES.")
  int maxRstFrames;

  @Option(names = "--max-control-frames", paramLabel = "N", defaultValue = "" + RelaySettings.DEFAULT_MAX_CONTROL_FRAMES,
      description = "Relay mode: most SETTINGS frames, and most PING frames, a connection may send in 10 s (ACKs do "
          + "not count; PINGs count only while the upstream sends no data; the gateway answers PINGs itself); more "
          + "end it with GOAWAY ENHANCE_YOUR_CALM before the upstream sees them, then close 1008; 0 turns the limit "
          + "off. (Demo and proxy "
          + "modes: grpc-java's server answers PING floods with GOAWAY too_many_pings.) Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_MAX_CONTROL_FRAMES.")
  int maxControlFrames;

  @Option(names = "--max-connection-age", paramLabel = "DURATION", defaultValue = "0",
      converter = DurationConverter.class,
      description = "Demo and proxy modes (relay mode refuses it): after this long a connection gets GOAWAY and "
          + "its calls have --drain-timeout to finish, so clients reconnect and spread over gateway replicas; 0 keeps "
          + "connections. Default: 0 (never). Env: TUNNEL_MAX_CONNECTION_AGE.")
  Duration maxConnectionAge;

  @Option(names = "--event-loop-threads", paramLabel = "N", defaultValue = "0",
      description = "Proxy mode: how many event-loop threads serve connections; each has its own connections to "
          + "every upstream, so a call never leaves the thread of its caller's connection. 0 is Netty's default, "
          + "twice the CPU count. Default: ${DEFAULT-VALUE}. Env: TUNNEL_EVENT_LOOP_THREADS.")
  int eventLoopThreads;

  @Option(names = "--upstream-keepalive", paramLabel = "DURATION",
      defaultValue = RelaySettings.DEFAULT_UPSTREAM_KEEPALIVE_MINUTES + "m", converter = DurationConverter.class,
      description = "Proxy and relay modes: when an upstream connection with a call open has sent nothing for this "
          + "long, send it an HTTP/2 PING (a black-holed upstream is noticed; TCP keepalive is on too). Upstreams must "
          + "permit it (grpc-java: permitKeepAliveTime, 5m by default); 0 sends none. Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_UPSTREAM_KEEPALIVE.")
  Duration upstreamKeepAlive;

  @Option(names = "--upstream-keepalive-timeout", paramLabel = "DURATION",
      defaultValue = RelaySettings.DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT_SECONDS + "s",
      converter = DurationConverter.class,
      description = "Proxy and relay modes: how long an upstream has to answer that PING; no answer fails its calls "
          + "UNAVAILABLE (relay mode: the tunnel ends with close 1013, Try Again Later). Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_UPSTREAM_KEEPALIVE_TIMEOUT.")
  Duration upstreamKeepAliveTimeout;

  @Option(names = "--max-pending-bytes", paramLabel = "BYTES", defaultValue = "" + RelaySettings.DEFAULT_MAX_PENDING_BYTES,
      description = "Relay mode: most bytes held for all tunnels together while their upstream connections are made "
          + "(each holds at most 1 MiB); a tunnel that would pass it ends with close 1013. Default: ${DEFAULT-VALUE}. "
          + "Env: TUNNEL_MAX_PENDING_BYTES.")
  long maxPendingBytes;

  /** Relay mode's limits and timers, from the flags (buildOptions). */
  private RelaySettings relaySettings;
  /** Proxy mode's upstreams, from the flags (buildOptions); null in the other modes. */
  private UpstreamOptions upstreamOptions;
  /** Relay mode's upstreams, from the flags (buildOptions); null in the other modes. */
  private List<Upstreams.Target> relayTargets;

  @Option(names = "--admin-port", paramLabel = "PORT",
      description = "Serve GET /healthz and GET /metrics on this port of --admin-address too (plain HTTP, no "
          + "tunnels), and stop serving /metrics on --port; /healthz stays there for CDN and load-balancer checks. "
          + "0 picks a free one. Default: none (/healthz and /metrics on --port: /metrics to anyone who reaches "
          + "it, or with --auth-tokens only with a token). Env: TUNNEL_ADMIN_PORT.")
  Integer adminPort;

  @Option(names = "--admin-address", paramLabel = "ADDRESS", defaultValue = "127.0.0.1",
      description = "Address of --admin-port: loopback unless monitoring must reach it from elsewhere (e.g. 0.0.0.0 "
          + "in a pod, reached only inside the cluster). Default: ${DEFAULT-VALUE}. Env: TUNNEL_ADMIN_ADDRESS.")
  String adminAddress;

  @Option(names = "--admin-hosts", paramLabel = "NAME", split = ",",
      description = "Names monitoring may reach --admin-port by, as it sends them in the Host header (e.g. a Docker "
          + "Compose or Kubernetes service name). The admin listener answers only requests whose Host is an IP "
          + "address, localhost, --admin-address or one of these (with any port); others get 421, so that a web "
          + "page cannot read it through its visitors' browsers by a name of its own re-resolved to this address "
          + "(DNS rebinding). Default: none. Env: TUNNEL_ADMIN_HOSTS.")
  List<String> adminHosts = new ArrayList<>();

  @Option(names = "--health-file", paramLabel = "FILE",
      description = "Once listening, write the URL of /healthz here (the admin listener's with --admin-port), and "
          + "delete the file on exit. HealthCheck, the container image's health check, reads it (the image sets "
          + "TUNNEL_HEALTH_FILE), so that it follows every option, those on the command line too. Default: none. "
          + "Env: TUNNEL_HEALTH_FILE.")
  File healthFile;

  /** The names of --admin-hosts, lower-case (buildOptions). */
  private java.util.Set<String> adminHostNames = java.util.Set.of();
  /** Every option at its built-in default, once {@link #refuseUnless} has needed them. */
  private CommandSpec builtInDefaults;
  /** The admin listener's address once it listens; null without --admin-port. */
  private InetSocketAddress adminListening;
  /** /healthz and /metrics of both listeners (call); closed when the drain ends, before the port closes. */
  private HealthAndMetrics http;

  /** The services --descriptor-set describes, by full name. */
  private java.util.Map<String, com.google.protobuf.Descriptors.ServiceDescriptor> describedServices =
      java.util.Map.of();
  private volatile boolean draining;
  private final CountDownLatch stop = new CountDownLatch(1);

  public static void main(String[] args) {
    defaultLeakDetection(System.getProperties());
    SLF4JBridgeHandler.removeHandlersForRootLogger();
    SLF4JBridgeHandler.install();
    System.exit(commandLine(new TunnelServerMain(), System.getenv()).execute(args));
  }

  /**
   * The command line of {@code main}: defaults from {@code env}, a bad option reported by {@link OptionErrors}, a
   * failure to start by {@link StartFailure}.
   */
  static CommandLine commandLine(TunnelServerMain main, java.util.Map<String, String> env) {
    return new CommandLine(main)
        .setDefaultValueProvider(new EnvironmentDefaults(env))
        .setParameterExceptionHandler(new OptionErrors(env))
        .setExecutionExceptionHandler(new StartFailure());
  }

  /**
   * Turns Netty's leak detector off unless {@code properties} choose its level ({@code io.netty.leakDetection.level},
   * or Netty's older {@code io.netty.leakDetectionLevel}). At Netty's default level it records a stack trace for one
   * buffer in 128: about 3 % of the gateway's event-loop CPU in proxy mode under load. The build's tests run the jar
   * with {@code paranoid} and fail on a report.
   */
  static void defaultLeakDetection(java.util.Properties properties) {
    if (properties.getProperty("io.netty.leakDetection.level") == null
        && properties.getProperty("io.netty.leakDetectionLevel") == null) {
      ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
    }
  }

  @Override
  public Integer call() throws Exception {
    // First: a bad option is reported alone, on its own line (OptionErrors).
    WebSocketServerOptions options = buildOptions();
    String nio = GatewayTransport.nioReason();
    if (nio != null) {
      // Every mode's sockets (grpc-netty's and the relay's) use epoll where it loads, NIO otherwise.
      logger.info("Native epoll is unavailable ({}); the gateway uses NIO, which costs more CPU per byte", nio);
    }
    PrometheusRegistry registry = new PrometheusRegistry();
    boolean demo = upstream.isEmpty() && upstreamFile == null;
    TunnelTracker tracker = new TunnelTracker(registry, !demo && mode == GatewayMode.RELAY);
    MemoryGauges.register(registry);
    http = new HealthAndMetrics(registry, () -> draining, true);
    Reloading<io.netty.handler.ssl.SslContext> tls = null;
    Reloading<java.util.Map<String, String>> tokens = null;
    AccessPolicy.Builder access = options.access().toBuilder()
        .admission((client, p) -> draining
            ? TunnelAdmission.Refusal.unavailable("draining: this server is shutting down, retry elsewhere", 5)
            : null);
    WebSocketServerOptions.Builder builder = options.toBuilder()
        .listener(tracker)
        .plainHttpHandler(adminPort == null ? http : http.withoutMetrics());
    if (tlsCert != null) {
      boolean browsers = options.browser() != null;
      List<File> files = new ArrayList<>(java.util.Arrays.asList(tlsCert, tlsKey));
      if (tlsClientCa != null) {
        files.add(tlsClientCa);
      }
      try {
        tls = Reloading.keepingPrevious("TLS certificate", files,
            () -> InternalTunnelServer.serverContext(tlsCert, tlsKey, nativeGrpc, browsers, tlsClientCa), 1000);
      } catch (IllegalArgumentException e) {
        // buildOptions() checked that the files are there and hold PEM blocks of the right kinds; what is left is
        // Netty's reason (a garbled block): "tls: CERT, KEY (expected: ...; reason)", reported under the flags.
        String reason = e.getMessage().replaceFirst("^tls: ", "").replaceAll("\\s+", " ");
        throw new ParameterException(spec.commandLine(),
            "--tls-cert, --tls-key" + (tlsClientCa == null ? "" : ", --tls-client-ca") + ": " + reason);
      }
      builder.tls(ServerTls.reloading(tls));
    }
    if (authTokens != null) {
      try {
        // Revocation fails closed: a token file that is missing, unreadable or malformed admits no one.
        tokens = Reloading.failingClosed("bearer tokens", java.util.Collections.singletonList(authTokens),
            () -> TokenFile.read(authTokens), java.util.Collections.emptyMap(),
            "no bearer token is valid (new tunnels get 401, open ones are closed with 1008, native calls end "
                + "UNAUTHENTICATED)", 1000);
      } catch (java.io.IOException e) {
        // TokenFile names the file and the line: "FILE line 3: expected 'TOKEN PRINCIPAL' but found 1 field(s)".
        throw badOption("--auth-tokens", authTokens.toString(), "--auth-tokens: " + e.getMessage());
      }
      if (tokens.get().isEmpty()) {
        logger.warn("{} lists no token: every tunnel is refused until it does", authTokens);
      }
      dev.wsgrpc.server.BearerTokens bearer = dev.wsgrpc.server.BearerTokens.from(tokens);
      Reloading<java.util.Map<String, String>> reloaded = tokens;
      tokens.onChange(() -> {
        if (reloaded.get().isEmpty()) {
          logger.warn("No bearer token is valid now: every tunnel is refused until {} lists tokens", authTokens);
        }
        bearer.refresh(); // closes the tunnels of revoked tokens with 1008 and ends their native calls in flight
      });
      access.authenticator(bearer);
    } else if (tlsClientCa != null) {
      access.authenticator(dev.wsgrpc.server.TunnelAuthenticator.CLIENT_CERTIFICATE);
    }
    if (tlsClientCa != null && adminPort == null) {
      logger.warn("--tls-client-ca without --admin-port: /healthz on --port asks for a client certificate like "
          + "everything there, so health checks without one (HealthCheck, kubelet probes, load balancers) fail; "
          + "give them --admin-port");
    }
    options = builder.access(access.build()).build();
    InetSocketAddress bindAddress = new InetSocketAddress(bind, port);
    String scheme = tlsCert != null ? "wss" : "ws";
    installSignalHandlers();
    AdminServer admin = null;
    try {
      if (adminPort != null) {
        admin = startAdmin(http);
      }
      if (demo) {
        runDemo(options, registry, tracker, bindAddress, scheme);
      } else if (mode == GatewayMode.RELAY) {
        runGateway(options, tracker, bindAddress, scheme);
      } else {
        runProxy(options, registry, tracker, bindAddress, scheme);
      }
    } finally {
      if (healthFile != null) {
        HealthFile.delete(healthFile.toPath());
      }
      http.close(); // first: scrapes still waiting on the admin listener get 503 before it closes
      if (admin != null) {
        admin.close();
      }
      if (tls != null) {
        tls.close();
      }
      if (tokens != null) {
        tokens.close();
      }
    }
    return 0;
  }

  /** Binds the admin listener; it answers until the gateway exits, so metrics are scraped during a drain too. */
  private AdminServer startAdmin(HealthAndMetrics http) {
    AdminServer admin;
    try {
      admin = AdminServer.start(new InetSocketAddress(adminAddress, adminPort), http, adminHostNames);
    } catch (java.io.IOException e) {
      throw badValue("--admin-port", adminPort, "a port free on " + adminAddress + "; " + e.getMessage());
    }
    adminListening = admin.address();
    String host = adminAddress.contains(":") ? "[" + adminAddress + "]" : adminAddress;
    System.out.println("tunnel-server: admin listener on http://" + host + ":" + admin.address().getPort()
        + " (GET /healthz, GET /metrics; /metrics is no longer served on --port)");
    System.out.flush();
    return admin;
  }

  WebSocketServerOptions buildOptions() {
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new ParameterException(spec.commandLine(), "--tls-cert and --tls-key go together: give both or neither");
    }
    if (tlsClientCa != null && tlsCert == null) {
      throw new ParameterException(spec.commandLine(), "--tls-client-ca needs --tls-cert and --tls-key");
    }
    if (upstreamTrustCert != null && !upstreamTls) {
      throw new ParameterException(spec.commandLine(), "--upstream-trust-cert needs --upstream-tls");
    }
    if (mode == GatewayMode.RELAY && upstreamFile != null) {
      throw new ParameterException(spec.commandLine(), "--upstream-file needs --mode proxy");
    }
    if (mode == GatewayMode.RELAY && (upstreamClientCert != null || upstreamAuthority != null)) {
      throw new ParameterException(spec.commandLine(),
          "--upstream-client-cert and --upstream-authority need --mode proxy");
    }
    if ((upstreamTls || upstreamTrustCert != null) && upstream.isEmpty() && upstreamFile == null) {
      throw new ParameterException(spec.commandLine(), "--upstream-tls needs --upstream HOST:PORT");
    }
    if (eventLoopThreads < 0) {
      throw badValue("--event-loop-threads", eventLoopThreads, ">= 0, 0 for twice the CPU count");
    }
    if (maxInboundMessage <= 0) {
      throw badValue("--max-inbound-message", maxInboundMessage, "> 0");
    }
    if (maxInboundMetadata <= 0) {
      throw badValue("--max-inbound-metadata", maxInboundMetadata, "> 0");
    }
    if (!browserOrigins.isEmpty() && mode == GatewayMode.RELAY && !(upstream.isEmpty() && upstreamFile == null)) {
      throw new ParameterException(spec.commandLine(),
          "--browser-origins needs --mode proxy: relay mode passes each tunnel's HTTP/2 bytes to an upstream unread "
              + "(opaque), so it has no calls to translate browser protocols into; proxy mode reads calls and "
              + "forwards each one");
    }
    if (nativeGrpc && authTokens != null && mode == GatewayMode.RELAY
        && !(upstream.isEmpty() && upstreamFile == null)) {
      // Relayed bytes are opaque: a native connection's calls could not be authenticated, so it would be a hole.
      throw new ParameterException(spec.commandLine(), "--native-grpc (on by default) cannot be used with "
          + "--auth-tokens in --mode relay: relay mode passes bytes through unread, so native gRPC calls could not "
          + "be authenticated; add --no-native-grpc (tunnels still need a token), or use --mode proxy (which "
          + "checks the token of every native call)");
    }
    if (!browserHeaders.isEmpty() && browserOrigins.isEmpty()) {
      throw new ParameterException(spec.commandLine(), "--browser-headers needs --browser-origins");
    }
    if (descriptorSet != null && (browserOrigins.isEmpty() || mode == GatewayMode.RELAY
        || (upstream.isEmpty() && upstreamFile == null))) {
      throw new ParameterException(spec.commandLine(),
          "--descriptor-set needs --browser-origins and --upstream in --mode proxy");
    }
    // Every duration, in every mode (those a mode does not use too): each is set on a timer in milliseconds or in
    // nanoseconds of a long, where 0 turns it off and a few hundred years overflow, long after the start.
    set("--drain-timeout", () -> Preconditions.checkDurationOrZero(drainTimeout, "drainTimeout"));
    set("--max-connection-age", () -> Preconditions.checkDurationOrZero(maxConnectionAge, "maxConnectionAge"));
    set("--reflection-refresh", () -> Preconditions.checkDuration(reflectionRefresh, "reflectionRefresh"));
    set("--browser-body-timeout", () -> Preconditions.checkDuration(browserBodyTimeout, "browserBodyTimeout"));
    set("--browser-keepalive-timeout",
        () -> Preconditions.checkDuration(browserKeepAliveTimeout, "browserKeepAliveTimeout"));
    set("--browser-send-timeout", () -> Preconditions.checkDuration(browserSendTimeout, "browserSendTimeout"));
    set("--upstream-refresh", () -> Preconditions.checkDuration(upstreamRefresh, "upstreamRefresh"));
    // Files: each must be there and readable now (a reloaded one is read again when it changes), and keys must be
    // in the one form Java reads without a password: PKCS#8.
    checkFile("--tls-cert", tlsCert, "a PEM certificate chain", OptionFiles::certificatesProblem);
    checkFile("--tls-key", tlsKey, OptionFiles.PRIVATE_KEY, OptionFiles::privateKeyProblem);
    checkFile("--tls-client-ca", tlsClientCa, "PEM CA certificates", OptionFiles::certificatesProblem);
    checkFile("--upstream-trust-cert", upstreamTrustCert, "PEM CA or server certificates",
        OptionFiles::certificatesProblem);
    checkFile("--upstream-client-cert", upstreamClientCert, "a PEM certificate chain",
        OptionFiles::certificatesProblem);
    checkFile("--upstream-client-key", upstreamClientKey, OptionFiles.PRIVATE_KEY, OptionFiles::privateKeyProblem);
    checkFile("--auth-tokens", authTokens, "a file of 'TOKEN PRINCIPAL' lines", OptionFiles::unreadable);
    checkFile("--descriptor-set", descriptorSet, "a FileDescriptorSet, protoc --descriptor_set_out",
        OptionFiles::unreadable);
    if (descriptorSet != null) {
      try {
        describedServices = ReflectionSchemas.readDescriptorSet(java.nio.file.Files.readAllBytes(
            descriptorSet.toPath()));
      } catch (java.io.IOException | IllegalArgumentException e) {
        throw badOption("--descriptor-set", descriptorSet.toString(), "--descriptor-set: " + descriptorSet + ": "
            + e.getMessage());
      }
    }
    if (port < 0 || port > 65535) {
      throw badValue("--port", port, "0 to 65535");
    }
    if (adminPort != null && (adminPort < 0 || adminPort > 65535)) {
      throw badValue("--admin-port", adminPort, "0 to 65535");
    }
    if (adminPort != null && adminPort != 0 && adminPort == port) {
      throw badValue("--admin-port", adminPort, "a port other than --port");
    }
    if (adminPort != null && new InetSocketAddress(adminAddress, 0).isUnresolved()) {
      // Else blamed on --admin-port, as "cannot listen on NAME/<unresolved>:PORT: null".
      throw badValue("--admin-address", adminAddress, "an address of this machine; the name does not resolve");
    }
    // --admin-address, when a name, too: the health check (HealthFile) dials the listener by it.
    java.util.Set<String> names = new java.util.HashSet<>(List.of(adminAddress.toLowerCase(java.util.Locale.ROOT)));
    for (String name : adminHosts) {
      if (!name.matches("[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")) {
        throw badValue("--admin-hosts", name, "host names as monitoring sends them in Host, without a port, such as "
            + "gateway or wsgrpc-gateway.monitoring.svc");
      }
      names.add(name.toLowerCase(java.util.Locale.ROOT));
    }
    adminHostNames = java.util.Set.copyOf(names);
    if (healthFile != null && !healthFile.getAbsoluteFile().getParentFile().isDirectory()) {
      throw badValue("--health-file", healthFile, "a file in a directory that exists");
    }
    if (mode == GatewayMode.PROXY && !(upstream.isEmpty() && upstreamFile == null)) {
      upstreamOptions = upstreamOptions();
    } else if (mode == GatewayMode.RELAY && !upstream.isEmpty()) {
      try {
        relayTargets = Upstreams.parse(upstream);
      } catch (InvalidValueException e) {
        throw badValue("--upstream", e.value(), e.expected());
      }
    }
    // Each library setter runs where this command's flag is known: a refused value is reported under the flag.
    TunnelSettings.Builder settings = TunnelSettings.newBuilder();
    set("--handshake-timeout", () -> settings.handshakeTimeout(handshakeTimeout));
    set("--max-inbound-frame", () -> settings.maxInboundFramePayload(maxInboundFrame));
    set("--max-outbound-frame", () -> settings.maxOutboundFramePayload(maxOutboundFrame));
    AccessPolicy.Builder access = AccessPolicy.newBuilder();
    TrustedProxies.Header[] header = {TrustedProxies.Header.X_FORWARDED_FOR};
    set("--forwarded-header", () -> header[0] = TrustedProxies.Header.named(forwardedHeader));
    set("--trusted-proxies", () -> access.trustedProxies(trustedProxies, header[0]));
    set("--allowed-origins", () -> access.allowedOrigins(allowedOrigins));
    access.crossSiteCredentialsAllowed(allowCrossSiteCredentials);
    set("--max-tunnels", () -> access.maxTunnels(maxTunnels));
    set("--max-tunnels-per-client", () -> access.maxTunnelsPerClient(maxTunnelsPerClient));
    set("--max-handshakes-per-client", () -> access.maxHandshakesPerClient(maxHandshakesPerClient));
    set("--ipv6-client-prefix", () -> access.ipv6ClientPrefix(ipv6ClientPrefix));
    Http2Limits.Builder http2 = Http2Limits.newBuilder();
    set("--max-concurrent-streams", () -> http2.maxConcurrentCalls(maxConcurrentStreams));
    set("--max-rst-frames", () -> http2.maxRstFrames(maxRstFrames, Duration.ofSeconds(10)));
    RelaySettings.Builder relay = RelaySettings.newBuilder();
    set("--max-control-frames", () -> relay.maxControlFrames(maxControlFrames));
    try {
      relay.upstreamKeepAlive(upstreamKeepAlive, upstreamKeepAliveTimeout);
    } catch (InvalidValueException e) {
      // Two flags, one setter: the refusal's name says which ("upstreamKeepAliveTimeout").
      throw badValue(UPSTREAM_FLAGS.get(e.name()), e.value(), e.expected());
    }
    set("--idle-timeout", () -> relay.idleTimeout(idleTimeout));
    set("--max-pending-bytes", () -> relay.maxPendingBytes(maxPendingBytes));
    TunnelSettings tunnelSettings = settings.build();
    Http2Limits http2Limits = http2.build();
    relaySettings = relay.http2Limits(http2Limits).handshakeTimeout(tunnelSettings).build();
    WebSocketServerOptions.Builder options = WebSocketServerOptions.newBuilder().nativeGrpc(nativeGrpc)
        .http2Limits(http2Limits);
    set("--path", () -> options.path(path));
    set("--max-request-headers", () -> options.maxRequestHeaderBytes(maxRequestHeaders));
    if (!browserOrigins.isEmpty()) {
      BrowserOptions.Builder[] browser = new BrowserOptions.Builder[1];
      set("--browser-origins", () -> browser[0] = BrowserOptions.newBuilder(browserOrigins));
      set("--browser-headers", () -> browser[0].allowedHeaders(browserHeaders).exposedHeaders(browserHeaders));
      set("--browser-body-timeout", () -> browser[0].requestBodyTimeout(browserBodyTimeout));
      set("--browser-keepalive-timeout", () -> browser[0].keepAliveTimeout(browserKeepAliveTimeout));
      set("--browser-send-timeout", () -> browser[0].sendTimeout(browserSendTimeout));
      // JSON calls' messages are held to the server's message limit, as gRPC's own calls are.
      set("--max-inbound-message", () -> browser[0].maxJsonMessageBytes(maxInboundMessage));
      options.browser(browser[0].build());
    }
    refuseUnused();
    return options.settings(tunnelSettings).access(access.build()).build();
  }

  /**
   * Refuses every option that the chosen mode, or the options it comes with, never reads, when its value differs from
   * its built-in default (from the command line or its {@code TUNNEL_*} variable alike): it would be checked and then
   * ignored, and the operator would believe it applied. Its default given explicitly does nothing either way and is
   * taken. Runs after the values' own checks, so that a bad value is reported as such in every mode.
   */
  private void refuseUnused() {
    boolean demo = upstream.isEmpty() && upstreamFile == null;
    boolean relay = !demo && mode == GatewayMode.RELAY;
    String[][] relayPasses = {{"--max-concurrent-streams", "SETTINGS_MAX_CONCURRENT_STREAMS"},
        {"--max-inbound-message", "message size limit"}, {"--max-inbound-metadata", "metadata size limit"},
        {"--max-connection-age", "connection age (grpc-java: maxConnectionAge)"}};
    for (String[] option : relayPasses) {
      refuseUnless(!relay, option[0], "demo or proxy mode: relay mode passes each tunnel's HTTP/2 bytes to an "
          + "upstream unread, so the upstream's own " + option[1] + " applies (set it there); use --mode proxy for "
          + "the gateway to apply it");
    }
    for (String flag : List.of("--upstream-keepalive", "--upstream-keepalive-timeout")) {
      refuseUnless(!demo, flag, "--upstream HOST:PORT: it watches upstream connections, and demo mode has none");
    }
    refuseUnless(!demo, "--upstream-refresh", "--upstream HOST:PORT: it times how often upstream names are looked "
        + "up again, and demo mode has none");
    // --no-upstream-health-check is not among them: no health checks is what demo and relay modes do anyway.
    String proxyCalls = "only proxy mode makes calls of its own to upstreams (relay mode passes each client's bytes, "
        + "demo mode has no upstreams)";
    String[][] proxyOnly = {
        {"--upstream-health-service", "it names the service proxy mode's health checks ask about; relay mode does "
            + "no health checks, and demo mode has no upstreams"},
        {"--upstream-authority", proxyCalls}, {"--upstream-client-cert", proxyCalls},
        {"--upstream-client-key", proxyCalls},
        {"--event-loop-threads", "demo and relay modes serve on event loops of their own number, twice the CPU "
            + "count"}};
    for (String[] option : proxyOnly) {
      refuseUnless(!demo && !relay, option[0], "--upstream HOST:PORT in --mode proxy: " + option[1]);
    }
    refuseUnless(!demo, "--mode", "--upstream HOST:PORT: without upstreams the gateway serves its demo services "
        + "(demo mode)");
    refuseUnless(upstreamHealthCheck, "--upstream-health-service", "--upstream-health-check (on by default): it "
        + "names the service that health checks ask about");
    refuseUnless(relay, "--max-control-frames", "--upstream HOST:PORT in --mode relay: in demo and proxy modes "
        + "grpc-java's server ends HTTP/2 and limits SETTINGS and PING frames itself (PING floods get GOAWAY "
        + "too_many_pings)");
    refuseUnless(relay, "--max-pending-bytes", "--upstream HOST:PORT in --mode relay: only relay mode holds a "
        + "tunnel's bytes while its upstream connection is made");
    refuseUnless(!browserOrigins.isEmpty(), "--browser-body-timeout", "--browser-origins: it bounds gRPC-Web "
        + "request bodies, and without --browser-origins there are no browser calls");
    refuseUnless(!browserOrigins.isEmpty(), "--browser-keepalive-timeout", "--browser-origins: it closes idle "
        + "gRPC-Web connections, and without --browser-origins there are none");
    refuseUnless(!browserOrigins.isEmpty(), "--browser-send-timeout", "--browser-origins: it closes gRPC-Web "
        + "connections whose client stopped reading, and without --browser-origins there are none");
    refuseUnless(!browserOrigins.isEmpty() && !demo && !relay, "--reflection-refresh",
        "--browser-origins and --upstream in --mode proxy: it times the schemas fetched from the upstream's server "
            + "reflection for JSON-over-WebSocket calls, which only proxy mode fetches");
    refuseUnless(!trustedProxies.isEmpty(), "--forwarded-header", "--trusted-proxies: the header is read only from "
        + "those proxies, and without them from no one");
    // With --allowed-origins, only browser calls for '*' over connections with a credential browsers send by
    // themselves need the permission, and the only such credential the gateway reads is the TLS client certificate.
    refuseUnless(allowedOrigins.isEmpty() || (browserOrigins.contains("*") && tlsClientCa != null),
        "--allow-cross-site-credentials", "--browser-origins '*' and --tls-client-ca when --allowed-origins is "
            + "given: the list alone then decides which pages may open tunnels, pages of listed --browser-origins "
            + "need no such permission, and browser calls for any origin need it only over connections with a "
            + "credential browsers send by themselves, which is a TLS client certificate here (bearer tokens are "
            + "not one: a page's script adds them)");
    for (String flag : List.of("--admin-address", "--admin-hosts")) {
      refuseUnless(adminPort != null, flag, "--admin-port: it is about the admin listener, which only --admin-port "
          + "opens");
    }
  }

  /**
   * Refuses {@code flag}, unless it is {@code used} or at its built-in default, with {@code "--flag needs
   * <needs>"}: tied to the option, so that {@link OptionErrors} names its variable when the value came from there.
   */
  private void refuseUnless(boolean used, String flag, String needs) {
    if (used) {
      return;
    }
    Object value = spec.findOption(flag).getValue();
    if (builtInDefaults == null) { // this command parsed without arguments or environment
      CommandLine defaults = new CommandLine(new TunnelServerMain());
      defaults.parseArgs();
      builtInDefaults = defaults.getCommandSpec();
    }
    if (!java.util.Objects.equals(value, builtInDefaults.findOption(flag).getValue())) {
      throw badOption(flag, String.valueOf(value), flag + " needs " + needs);
    }
  }

  /** Proxy mode's upstreams, checked with the other options, before anything starts. */
  private UpstreamOptions upstreamOptions() {
    try {
      return UpstreamOptions.newBuilder()
          .upstreams(upstream)
          .upstreamFile(upstreamFile == null ? null : upstreamFile.toPath())
          .refreshInterval(upstreamRefresh)
          .tls(upstreamTls)
          .trustCertificates(upstreamTrustCert)
          .clientCertificate(upstreamClientCert, upstreamClientKey)
          .authority(upstreamAuthority)
          .healthCheckService(upstreamHealthCheck ? upstreamHealthService : null)
          .maxInboundMessageSize(maxInboundMessage)
          .maxInboundMetadataSize(maxInboundMetadata)
          .keepAlive(upstreamKeepAlive, upstreamKeepAliveTimeout)
          .build();
    } catch (InvalidValueException e) {
      // The upstream options check their values together in build(): the flag comes from this command's table.
      throw badValue(UPSTREAM_FLAGS.getOrDefault(e.name(), "--" + e.name()), e.value(), e.expected());
    }
  }

  /** The flag of each {@code UpstreamOptions} value, by the name its refusals give it. */
  private static final java.util.Map<String, String> UPSTREAM_FLAGS = java.util.Map.of(
      "upstream", "--upstream",
      "upstreamRefresh", "--upstream-refresh",
      "upstreamTls", "--upstream-tls",
      "upstreamClientKey", "--upstream-client-key",
      "maxInboundMessage", "--max-inbound-message",
      "maxInboundMetadata", "--max-inbound-metadata",
      "upstreamKeepAlive", "--upstream-keepalive",
      "upstreamKeepAliveTimeout", "--upstream-keepalive-timeout");

  /**
   * Runs one library setter for {@code flag}; a value it refuses is reported as {@code "--flag: value (...)"}, a range
   * as the other flags give theirs ({@code "1 to 128"}, not the library's {@code "1 <= ipv6ClientPrefix <= 128"}).
   */
  private void set(String flag, Runnable setter) {
    try {
      setter.run();
    } catch (InvalidValueException e) {
      throw badValue(flag, e.value(), e.expected().replace(" <= " + e.name() + " <= ", " to "));
    }
  }

  /** Refuses {@code file}, when given, for what {@code problem} finds: {@code "--flag: FILE (expected: X; problem)"}. */
  private void checkFile(String flag, File file, String expected, java.util.function.Function<File, String> problem) {
    String wrong = file == null ? null : problem.apply(file);
    if (wrong != null) {
      throw badValue(flag, file, expected + "; " + wrong);
    }
  }

  /**
   * {@code "--flag: value (expected: what)"}, durations written as people write them ({@code 0s}, not {@code PT0S};
   * a library's refusal has its value so written already), and tied to the option so that {@link OptionErrors} can
   * name its environment variable.
   */
  private ParameterException badValue(String flag, Object value, String expected) {
    String shown = value instanceof Duration ? OptionValues.formatDuration((Duration) value)
        : OptionErrors.shown(flag, String.valueOf(value));
    return badOption(flag, shown, flag + ": " + shown + " (expected: " + expected + ")");
  }

  /** An error about one option's value, tied to the option so that {@link OptionErrors} can name its variable. */
  private ParameterException badOption(String flag, String value, String message) {
    return new ParameterException(spec.commandLine(), message, spec.findOption(flag), value);
  }

  private void runDemo(WebSocketServerOptions options, PrometheusRegistry registry, TunnelTracker tracker,
      InetSocketAddress bindAddress, String scheme) throws Exception {
    // Loud, on purpose: a bare `java -jar tunnel-server.jar` must never pass for a production gateway.
    logger.warn("DEMO MODE: serving test services ({}) to anyone who connects, without authentication unless "
        + "configured. This is not for production: give --upstream HOST:PORT to put the gateway in front of your own "
        + "gRPC servers", String.join(", ", DemoServices.NAMES));
    try (DemoServices demo = new DemoServices()) {
      if (options.browser() != null) {
        options = options.toBuilder().browser(options.browser().toBuilder().json(demo.schemas()).build()).build();
      }
      NettyServerBuilder builder = WebSocketServers.newServerBuilder(bindAddress, options)
          .intercept(new CallMetrics(registry)); // the labels of proxy mode's, and of gRPC's Prometheus interceptors
      demo.addTo(builder);
      serve(builder, tracker, scheme, "demo mode", "serving " + String.join(", ", DemoServices.NAMES),
          demo::notServing);
    }
  }

  /** Proxy mode: grpc-java's server ends every front end's HTTP/2 and forwards each call to the upstream channel. */
  private void runProxy(WebSocketServerOptions options, PrometheusRegistry registry, TunnelTracker tracker,
      InetSocketAddress bindAddress, String scheme) throws Exception {
    UpstreamOptions upstreams = upstreamOptions;
    // The server's event loops are the gateway's own, and each has its own upstream channel on the same loop: a call
    // is read and written by one thread from its caller's connection to its upstream connection and back.
    EventLoopGroup boss = GatewayTransport.newGroup(1, "proxy-accept");
    EventLoopGroup workers = GatewayTransport.newGroup(eventLoopThreads, "proxy-io");
    UpstreamChannels channels = null;
    try {
      channels = UpstreamChannel.createPerLoop(upstreams, workers, GatewayTransport.clientChannelType(),
          new UpstreamProblems(registry));
      if (options.browser() != null) {
        // JSON over WebSocket: the upstream's schemas, asked through the channel of the first loop.
        options = options.toBuilder().browser(options.browser().toBuilder()
            .json(new ReflectionSchemas(channels.first(), describedServices, reflectionRefresh)).build()).build();
      }
      NettyServerBuilder builder = WebSocketServers.newServerBuilder(bindAddress, options)
          .bossEventLoopGroup(boss)
          .workerEventLoopGroup(workers)
          .channelType(GatewayTransport.serverChannelType())
          // Netty's own allocator in place of grpc-netty's pool, as for the upstream channels: see
          // UpstreamChannel.createPerLoop.
          .withChildOption(ChannelOption.ALLOCATOR, ByteBufAllocator.DEFAULT)
          .directExecutor() // the forwarding never blocks: each call's work runs on its connection's event loop
          .fallbackHandlerRegistry(new ForwardingRegistry(channels, authTokens != null))
          .intercept(new CallMetrics(registry));
      serve(builder, tracker, scheme, "proxy mode", "forwarding every call to " + upstreams + ", "
          + channels.size() + " event loops", () -> { });
    } finally {
      if (channels != null) {
        channels.shutdownNow(5_000);
      }
      workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
      boss.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  /**
   * Serves with grpc-java's server (demo and proxy modes) until SIGTERM/SIGINT, then drains: GOAWAY inside every
   * tunnel, close 1001 once its calls have finished, and GOAWAY on every native gRPC connection, which closes once its
   * calls have finished; the port stays open meanwhile (new tunnels and native connections are refused with the
   * reason), and what is left is closed at the drain deadline.
   */
  private void serve(NettyServerBuilder builder, TunnelTracker tracker, String scheme, String modeName,
      String serving, Runnable notServing) throws Exception {
    // Concurrent calls and resets: the options' Http2Limits, applied by WebSocketServers.
    builder.maxInboundMessageSize(maxInboundMessage)
        .maxInboundMetadataSize(maxInboundMetadata);
    if (!idleTimeout.isZero()) {
      builder.maxConnectionIdle(idleTimeout.toMillis(), TimeUnit.MILLISECONDS);
    }
    if (!maxConnectionAge.isZero()) {
      builder.maxConnectionAge(maxConnectionAge.toMillis(), TimeUnit.MILLISECONDS)
          .maxConnectionAgeGrace(drainTimeout.toMillis(), TimeUnit.MILLISECONDS);
    }
    Server server = builder.build().start();
    int bound = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    listening(bound); // before the line that says so: whoever reads it may read the file at once
    System.out.println("tunnel-server: " + modeName + ", dial " + scheme + "://localhost:" + bound + path
        + " (" + serving + ")");
    System.out.flush();
    stop.await();
    long deadline = System.nanoTime() + drainTimeout.toNanos();
    beginDrain(tracker);
    notServing.run();
    Set<TunnelInfo> told = Collections.newSetFromMap(new IdentityHashMap<>());
    String drained = drainConnections(tracker, deadline, () -> {
      for (TunnelInfo tunnel : tracker.open()) {
        if (told.add(tunnel)) {
          tunnel.close(); // GOAWAY inside the tunnel; the close (1001) follows once its calls have finished
        }
      }
      for (TunnelInfo connection : tracker.openNative()) {
        if (told.add(connection)) {
          connection.close(); // grpc-java's GOAWAY; the close follows once its calls have finished
        }
      }
    });
    http.close(); // scrapes still waiting for /metrics get 503 now, while their connections are open
    // Only now: Server.shutdown() closes the port, and /healthz with it.
    server.shutdown();
    if (!server.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    logger.info("Stopped: {}", drained);
  }

  private void runGateway(WebSocketServerOptions options, TunnelTracker tracker, InetSocketAddress bindAddress,
      String scheme) throws Exception {
    List<Upstreams.Target> targets = relayTargets;
    SslContext upstreamContext = null;
    if (upstreamTls) {
      SslContextBuilder b = SslContextBuilder.forClient().applicationProtocolConfig(new ApplicationProtocolConfig(
          ApplicationProtocolConfig.Protocol.ALPN,
          ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
          ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
          ApplicationProtocolNames.HTTP_2));
      if (upstreamTrustCert != null) {
        b.trustManager(upstreamTrustCert);
      }
      upstreamContext = b.build();
    }
    try (UpstreamGateway gateway = new UpstreamGateway(options, new Upstreams(targets, upstreamRefresh),
        upstreamContext, relaySettings, tracker)) {
      InetSocketAddress bound = gateway.start(bindAddress);
      listening(bound.getPort()); // before the line that says so: whoever reads it may read the file at once
      System.out.println("tunnel-server: relay mode, dial " + scheme + "://localhost:" + bound.getPort() + path
          + " (relaying to " + targets + (upstreamTls ? " over TLS" : " over h2c") + ")");
      System.out.flush();
      stop.await();
      long deadline = System.nanoTime() + drainTimeout.toNanos();
      beginDrain(tracker);
      String drained = drainConnections(tracker, deadline, gateway::beginDrain); // idempotent per connection
      http.close(); // scrapes still waiting for /metrics get 503 now, before the gateway closes their connections
      logger.info("Stopped: {}", drained);
    }
  }

  /** Once the gateway listens on {@code boundPort}: writes {@code --health-file}, when asked for. */
  private void listening(int boundPort) {
    if (healthFile == null) {
      return;
    }
    try {
      HealthFile.write(healthFile.toPath(), adminListening != null
          ? HealthFile.url(adminAddress, adminListening.getPort(), false)
          : HealthFile.url(bind, boundPort, tlsCert != null));
    } catch (java.io.IOException e) {
      throw badValue("--health-file", healthFile, "a file the gateway can write; " + e);
    }
  }

  private void beginDrain(TunnelTracker tracker) {
    draining = true;
    int nativeConnections = tracker.openNative().size();
    logger.info("Draining: /healthz answers 503, new tunnels get 503, {} open tunnel(s) get GOAWAY and have {} to "
        + "finish their calls{}", tracker.open().size(), OptionValues.formatDuration(drainTimeout),
        nativeConnections == 0 ? "" : ", as do " + nativeConnections + " native gRPC connection(s)");
  }

  /**
   * Tells the open tunnels and native gRPC connections to drain until every one has closed or the deadline passes,
   * and says how it went: how many of each closed meanwhile, and how many are left for the deadline to close.
   * {@code tellOpen} runs again on every pass: a connection admitted just before the drain began (checked before
   * {@code draining} was set) opens after the first pass and must be told too, or it would be held until the deadline.
   */
  private static String drainConnections(TunnelTracker tracker, long deadline, Runnable tellOpen)
      throws InterruptedException {
    Set<TunnelInfo> tunnels = Collections.newSetFromMap(new IdentityHashMap<>());
    Set<TunnelInfo> natives = Collections.newSetFromMap(new IdentityHashMap<>());
    while (true) {
      tunnels.addAll(tracker.open());
      natives.addAll(tracker.openNative());
      if ((tracker.open().isEmpty() && tracker.openNative().isEmpty()) || System.nanoTime() >= deadline) {
        break;
      }
      tellOpen.run();
      Thread.sleep(50);
    }
    // Left: those still open, each of them seen, so that the counts add up.
    Set<TunnelInfo> tunnelsLeft = Set.copyOf(tracker.open());
    Set<TunnelInfo> nativesLeft = Set.copyOf(tracker.openNative());
    tunnels.addAll(tunnelsLeft);
    natives.addAll(nativesLeft);
    return (tunnels.size() - tunnelsLeft.size()) + " tunnel(s) drained, " + tunnelsLeft.size() + " closed at the "
        + "drain deadline; native gRPC connections: " + (natives.size() - nativesLeft.size()) + " drained, "
        + nativesLeft.size() + " closed at the drain deadline";
  }

  @SuppressWarnings("restriction")
  private void installSignalHandlers() {
    sun.misc.SignalHandler handler = signal -> {
      logger.info("Received SIG{}: draining for up to {}", signal.getName(),
          OptionValues.formatDuration(drainTimeout));
      stop.countDown();
    };
    sun.misc.Signal.handle(new sun.misc.Signal("TERM"), handler);
    sun.misc.Signal.handle(new sun.misc.Signal("INT"), handler);
  }

  /**
   * Reads durations as {@link OptionValues#parseDuration} does: {@code 30s}, {@code 500ms}, {@code 2m}, {@code 1h}, a
   * number without a unit as seconds ({@code 30}, as systemd and nginx read one), ISO-8601.
   */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      try {
        return OptionValues.parseDuration(value);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException("'" + value + "' is not a duration (expected: "
            + OptionValues.DURATION_FORMS + ")");
      }
    }
  }

  /** The version the build wrote into tunnel-core ({@link WsgrpcVersion}), with grpc-java's and Netty's. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"wsgrpc tunnel-server " + WsgrpcVersion.version() + " (grpc-java "
          + io.grpc.internal.GrpcUtil.IMPLEMENTATION_VERSION + ", Netty "
          + nettyVersion() + ")"};
    }

    /** Every Netty module of a build has the same version: whichever the jar lists first. */
    private static String nettyVersion() {
      return io.netty.util.Version.identify().values().stream().map(io.netty.util.Version::artifactVersion)
          .findFirst().orElse("unknown");
    }
  }
}
