package dev.wsgrpc.okhttp;

import dev.wsgrpc.okhttp.internal.CallbacksAfterStartInterceptor;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ProxiedSocketAddress;
import io.grpc.ProxyDetector;
import io.grpc.okhttp.OkHttpChannelBuilder;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * Entry points for channels on grpc-okhttp that reach a gRPC server through a WebSocket URL: the client for
 * Android and small desktop apps, with no Netty on its classpath.
 *
 * <pre>{@code
 * ManagedChannel channel = OkHttpWebSocketChannels.newChannel("wss://edge.example.com/grpc");
 * GreeterGrpc.GreeterBlockingStub greeter = GreeterGrpc.newBlockingStub(channel);
 * }</pre>
 *
 * <p>Each of the channel's connections is one WebSocket opened by OkHttp (its DNS, proxies, TLS, certificate pinning
 * and HTTP/1.1 upgrade); grpc-okhttp speaks HTTP/2 (h2c) over it as over a socket, and its bytes travel in binary
 * messages. Everything else is ordinary grpc-java: deadlines, cancellation, metadata, keepalive, reconnect with
 * backoff. On Android, wrap the builder with grpc-android's {@code AndroidChannelBuilder.usingBuilder(...)} so
 * that network changes reconnect at once.
 */
public final class OkHttpWebSocketChannels {

  /** gRPC keepalive: an HTTP/2 PING after this much silence, below the 60 s idle timeout common on proxies. */
  static final long KEEPALIVE_TIME_SECONDS = 30;
  /** gRPC keepalive: how long a PING may go unanswered before the connection is considered dead. */
  static final long KEEPALIVE_TIMEOUT_SECONDS = 10;
  /**
   * The HTTP/2 flow-control window of each stream: {@value} bytes (1 MiB), where grpc-okhttp's default is 65535. A
   * WebSocket path (proxies, CDNs, TLS) has a longer round trip than a direct connection, and a 64 KiB window capped
   * a 1 MiB stream's throughput to a fraction of the link's.
   */
  static final int FLOW_CONTROL_WINDOW = 1024 * 1024;

  private static final ProxyDetector NO_GRPC_PROXY = new ProxyDetector() {
    @Override
    public ProxiedSocketAddress proxyFor(SocketAddress targetServerAddress) {
      return null; // OkHttp chooses and speaks to proxies; grpc-okhttp must not CONNECT inside the WebSocket.
    }
  };

  /** A channel to {@code url} with default options. */
  public static ManagedChannel newChannel(String url) {
    return newChannel(OkHttpWebSocketOptions.newBuilder(url).build());
  }

  /**
   * A channel for {@code options}, built as {@link #newChannelBuilder(OkHttpWebSocketOptions)} would, whose
   * {@code shutdownNow()} also gives up the WebSocket upgrades under way: it terminates at once with their sockets
   * closed (their connection attempts fail {@code "the channel was shut down during the WebSocket upgrade to
   * wss://host/grpc"}). {@code shutdown()} lets them go on, as calls that wait for them still run.
   */
  public static ManagedChannel newChannel(OkHttpWebSocketOptions options) {
    ProxyChooser proxies = systemProxies(options);
    TunnelSocketFactory tunnels = new TunnelSocketFactory(options, proxies);
    return new TunnelChannel(newChannelBuilder(options, proxies, tunnels).build(), tunnels);
  }

  /** A channel builder for {@code url} with default options, to configure further like any OkHttp channel. */
  public static OkHttpChannelBuilder newChannelBuilder(String url) {
    return newChannelBuilder(OkHttpWebSocketOptions.newBuilder(url).build());
  }

  /**
   * A channel builder for {@code options}, to configure further like any OkHttp channel. Besides the socket
   * factory that opens tunnels it sets:
   *
   * <ul>
   *   <li>plaintext HTTP/2 inside the tunnel (TLS, for wss, is the WebSocket's);</li>
   *   <li>a flow-control window of {@value #FLOW_CONTROL_WINDOW} bytes (grpc-okhttp's default: 65535), and
   *       TCP_NODELAY on the WebSocket's socket;</li>
   *   <li>gRPC keepalive on, also without calls: a PING after {@value #KEEPALIVE_TIME_SECONDS} s of silence, dead
   *       after {@value #KEEPALIVE_TIMEOUT_SECONDS} s unanswered (servers from {@code WebSocketServers} permit
   *       this). Override with {@code keepAliveTime}/{@code keepAliveTimeout}/{@code keepAliveWithoutCalls};</li>
   *   <li>retries off: grpc-okhttp reports every stream of a lost connection as refused (never sent), so with
   *       retries on, gRPC replays calls the server may already have run on the next tunnel; with them off,
   *       in-flight calls fail UNAVAILABLE as on the Netty client. {@code enableRetry()} turns gRPC's retries and
   *       that replay back on;</li>
   *   <li>no gRPC proxy detection: the tunnel chooses the proxy at each connect (see
   *       {@link OkHttpWebSocketOptions.Builder#proxy(ProxyOptions)}), and when it names an HTTP proxy the channel's
   *       name resolution does not look the target up (the proxy resolves it), as grpc-java does for the Netty
   *       client. Do not replace the name resolver factory;</li>
   *   <li>an interceptor that gives RPCs the status of their tunnel's failure, e.g. UNAVAILABLE {@code "expected
   *       HTTP 101 but was 403 Forbidden from wss://host/grpc"};</li>
   *   <li>an interceptor that delivers each call's listener callbacks one at a time, those during its
   *       {@code start} after it has returned, and runs an onReady that grpc-okhttp delivers from inside its own
   *       writing (with {@code directExecutor()}) on a thread of its own: grpc-okhttp 1.82 strands a message written
   *       there, and an onReady-driven upload stalls for good (see {@code CallbacksAfterStartInterceptor}).
   *       Callbacks that grpc delivers on an executor stay on it;</li>
   *   <li>with {@link OkHttpWebSocketOptions.Builder#connectTo}, the URL's {@code host:port} as authority.</li>
   * </ul>
   *
   * <p>Do not replace the socket factory, the SSL socket factory or the negotiation type: the tunnel needs them.
   *
   * <p>The channel it builds is grpc-okhttp's own: its {@code shutdownNow()} waits for a WebSocket upgrade under way,
   * up to the handshake timeout, since grpc-okhttp never interrupts the socket factory. A channel from
   * {@link #newChannel(OkHttpWebSocketOptions)} gives the upgrade up at once.
   */
  public static OkHttpChannelBuilder newChannelBuilder(OkHttpWebSocketOptions options) {
    return newChannelBuilder(options, systemProxies(options));
  }

  private static ProxyChooser systemProxies(OkHttpWebSocketOptions options) {
    return new ProxyChooser(options, ProxySelector.getDefault(), ProxyChooser.SYSTEM_ENVIRONMENT);
  }

  /** The same, choosing proxies with {@code proxies} (tests give it their own environment). */
  static OkHttpChannelBuilder newChannelBuilder(OkHttpWebSocketOptions options, ProxyChooser proxies) {
    return newChannelBuilder(options, proxies, new TunnelSocketFactory(options, proxies));
  }

  @SuppressWarnings("deprecation") // nameResolverFactory: the only per-channel hook for name resolution.
  private static OkHttpChannelBuilder newChannelBuilder(OkHttpWebSocketOptions options, ProxyChooser proxies,
      TunnelSocketFactory tunnels) {
    OkHttpChannelBuilder builder = OkHttpChannelBuilder.forTarget(options.target(),
            InsecureChannelCredentials.create())
        .socketFactory(tunnels)
        .nameResolverFactory(new ProxiedTargetResolver(options, proxies))
        .proxyDetector(NO_GRPC_PROXY)
        .keepAliveTime(KEEPALIVE_TIME_SECONDS, TimeUnit.SECONDS)
        .keepAliveTimeout(KEEPALIVE_TIMEOUT_SECONDS, TimeUnit.SECONDS)
        .keepAliveWithoutCalls(true)
        .flowControlWindow(FLOW_CONTROL_WINDOW)
        .disableRetry()
        .intercept(new TunnelStatusInterceptor(tunnels), new CallbacksAfterStartInterceptor());
    if (options.connectToHost() != null) {
      builder.overrideAuthority(options.authority());
    }
    return builder;
  }

  private OkHttpWebSocketChannels() {}
}
