package dev.wsgrpc.okhttp;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.Socket;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.SocketFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import okhttp3.Dispatcher;
import okhttp3.Dns;
import okhttp3.Interceptor;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;

/**
 * The {@link SocketFactory} handed to grpc-okhttp: each socket it asks for is a new tunnel, a WebSocket opened by
 * OkHttp (its DNS, proxy, TLS, certificate pinning and upgrade), returned once the 101 has been checked. The address
 * grpc-java resolved is the one OkHttp dials (unless a proxy is used), so the channel's load balancing and
 * reconnects work as on any channel.
 *
 * <p>Every failure is a {@link TunnelFailure} (an {@link IOException}) whose text names the URL and what came back.
 * Runs on grpc-okhttp's transport threads; blocks until the upgrade is done or the handshake timeout passes.
 */
final class TunnelSocketFactory extends SocketFactory {

  private static final String USER_AGENT = "wsgrpc-okhttp/" + BuildVersion.VERSION;

  private static final ThreadFactory DAEMON_THREADS = new ThreadFactory() {
    private final AtomicInteger count = new AtomicInteger();

    @Override
    public Thread newThread(Runnable r) {
      Thread t = new Thread(r, "wsgrpc-okhttp-tunnel-" + count.incrementAndGet());
      t.setDaemon(true);
      return t;
    }
  };

  /**
   * Takes OkHttp's {@code Sec-WebSocket-Extensions: permessage-deflate} offer out of the upgrade request: wsgrpc
   * offers no extension (docs/PROTOCOL.md 2.1, as the Netty client), and a server or proxy that accepted the offer
   * would be refused ({@link UpgradeAnswer#problemWithAccepted}). {@code RealWebSocket} adds the header to the
   * request it hands its call, and an application interceptor sees that request (network interceptors do not run for
   * WebSocket calls).
   */
  static final Interceptor NO_EXTENSION_OFFER = new Interceptor() {
    @Override
    public Response intercept(Chain chain) throws IOException {
      Request request = chain.request();
      return chain.proceed(request.header("Sec-WebSocket-Extensions") == null ? request
          : request.newBuilder().removeHeader("Sec-WebSocket-Extensions").build());
    }
  };

  private final OkHttpWebSocketOptions options;
  private final OkHttpClient base;
  private final ProxyChooser proxies;
  /** The tunnel most recently asked for, and the one before it; see {@link #latestFailureBeforeServerSettings()}. */
  private final Object attempts = new Object();
  private Tunnel latest; // guarded by attempts
  private Tunnel previous; // guarded by attempts
  /** Tunnels whose upgrade is under way; see {@link #shutdownNow()}. */
  private final Set<Tunnel> upgrading = Collections.newSetFromMap(new ConcurrentHashMap<Tunnel, Boolean>());
  private volatile boolean shutDown;

  TunnelSocketFactory(OkHttpWebSocketOptions options, ProxyChooser proxies) {
    this.options = options;
    this.proxies = proxies;
    TunnelSettings settings = options.settings();
    // OkHttp's default dispatcher threads are not daemons and linger 60 s, which keeps a JVM whose main() has
    // returned alive for a minute; grpc-java's own threads are daemons, and so are these (each one carries a tunnel's
    // upgrade, then reads its frames for the tunnel's life).
    Dispatcher dispatcher = new Dispatcher(new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS,
        new SynchronousQueue<Runnable>(), DAEMON_THREADS));
    // An open WebSocket holds a dispatcher slot for its whole life: no limit on tunnels per host.
    dispatcher.setMaxRequests(Integer.MAX_VALUE);
    dispatcher.setMaxRequestsPerHost(Integer.MAX_VALUE);
    OkHttpClient.Builder b = new OkHttpClient.Builder()
        .dispatcher(dispatcher)
        .protocols(Collections.singletonList(Protocol.HTTP_1_1))
        .connectTimeout(settings.handshakeTimeoutMillis(), TimeUnit.MILLISECONDS)
        // Read and write timeouts stay on for the WebSocket's life in OkHttp: none. The handshake has its own
        // deadline (Tunnel.open); a dead path is found by pings and gRPC keepalive.
        .readTimeout(0, TimeUnit.MILLISECONDS)
        .writeTimeout(0, TimeUnit.MILLISECONDS)
        .pingInterval(settings.pingIntervalMillis(), TimeUnit.MILLISECONDS)
        .followRedirects(false)
        .followSslRedirects(false)
        .retryOnConnectionFailure(false)
        .addInterceptor(NO_EXTENSION_OFFER);
    ClientTls tls = options.tls();
    if (tls.trustCertificates() != null) {
      X509TrustManager trust = trustManagerFor(tls.trustCertificates());
      b.sslSocketFactory(sslContextFor(trust).getSocketFactory(), trust);
    } else if (tls.sslSocketFactory() != null) {
      b.sslSocketFactory(tls.sslSocketFactory(), tls.trustManager());
    }
    if (tls.certificatePinner() != null) {
      b.certificatePinner(tls.certificatePinner());
    }
    this.base = b.build();
  }

  @Override
  public Socket createSocket(InetAddress address, int port) throws IOException {
    final Tunnel tunnel = new Tunnel(options);
    synchronized (attempts) {
      previous = latest;
      latest = tunnel;
    }
    Request request;
    try {
      request = upgradeRequest();
    } catch (RuntimeException e) {
      throw TunnelFailure.handshake("could not build the upgrade request for " + options.safeUrl() + ": "
          + e.getMessage(), e);
    }
    OkHttpClient client;
    try {
      client = clientFor(tunnel, address, port);
    } catch (IOException e) {
      throw TunnelFailure.handshake("cannot choose a proxy for " + options.safeUrl() + ": " + e.getMessage(), e);
    }
    upgrading.add(tunnel);
    try {
      if (shutDown) {
        tunnel.abandonUpgrade();
      }
      tunnel.open(client, request);
    } finally {
      upgrading.remove(tunnel);
    }
    return new TunnelSocket(tunnel, options.settings().maxOutboundFramePayload());
  }

  /**
   * The channel was shut down now: every upgrade under way, and any asked for later, fails at once with {@code "the
   * channel was shut down during the WebSocket upgrade to ws://host/grpc"} and closes its socket. grpc-okhttp waits
   * for {@link #createSocket} and never interrupts it, so its transport would otherwise end only with the handshake
   * timeout.
   */
  void shutdownNow() {
    shutDown = true;
    for (Tunnel t : upgrading) {
      t.abandonUpgrade();
    }
  }

  /**
   * How the channel's most recent tunnel ended, if it ended after its upgrade but before the server's HTTP/2 SETTINGS
   * (for example a Close 1013 from a relay-mode gateway without an upstream). grpc-okhttp fails the calls waiting for
   * that connection with {@code "End of stream or IOException"} and no cause, and no stream of theirs ever names the
   * tunnel; {@link TunnelStatusInterceptor} asks here. grpc-java may already be dialing the next tunnel when those
   * calls learn their status: while the newest tunnel has not ended, the answer is the one before it. Null when the
   * tunnel asked about is open or connecting, or once its server's SETTINGS had arrived. A later tunnel's end
   * replaces the answer, so a failure is never given to calls that a newer connection attempt failed.
   */
  TunnelFailure latestFailureBeforeServerSettings() {
    Tunnel t;
    Tunnel before;
    synchronized (attempts) {
      t = latest;
      before = previous;
    }
    if (t != null && t.failure() == null) {
      t = before; // still connecting, or open: the calls were failed by the tunnel before it
    }
    return t == null ? null : t.failureBeforeServerSettings();
  }

  @Override
  public Socket createSocket() throws SocketException {
    throw new SocketException("a tunnel socket is connected when created: use createSocket(address, port)");
  }

  @Override
  public Socket createSocket(String host, int port) throws IOException {
    return createSocket((InetAddress) null, port);
  }

  @Override
  public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
    return createSocket((InetAddress) null, port);
  }

  @Override
  public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
      throws IOException {
    return createSocket(address, port);
  }

  /**
   * This connect's client: OkHttp's socket tells the tunnel about writes. The URL's host resolves to {@code address}
   * (what grpc-java resolved), and without a proxy the socket dials {@code address:port}, which differ from the URL's
   * with {@code connectTo}.
   *
   * <p>Through an HTTP proxy (ws and wss alike) OkHttp is told to connect directly and the socket makes the
   * connection a CONNECT tunnel ({@link ProxyConnect}) to the host grpc-java was given, by name, as the Netty
   * client's CONNECT does: the URL's {@code host:port}, or {@code connectTo}'s. OkHttp's own proxy code is kept for
   * SOCKS proxies that the platform's selector names.
   */
  private OkHttpClient clientFor(final Tunnel tunnel, final InetAddress address, int port) throws IOException {
    ProxyChooser.Choice choice = proxies.choose();
    OkHttpClient.Builder b = base.newBuilder();
    if (options.isSecure()) {
      // The TLS factory and trust manager OkHttp chose or was given, the plaintext inside TLS followed as for ws.
      b.sslSocketFactory(new FollowedTlsSocketFactory(base.sslSocketFactory(), tunnel), base.x509TrustManager());
    }
    final String host = options.host();
    if (choice != null && choice.proxy.type() == Proxy.Type.HTTP) {
      tunnel.onProxyChosen(choice);
      String targetHost = options.connectToHost() != null ? options.connectToHost() : host;
      String target = (targetHost.indexOf(':') >= 0 && !targetHost.startsWith("[") ? "[" + targetHost + "]"
          : targetHost) + ":" + port;
      int timeout = (int) Math.min(Integer.MAX_VALUE, options.settings().handshakeTimeoutMillis());
      b.socketFactory(new SignallingSocketFactory(tunnel,
          new SignallingSocketFactory.HttpProxyRoute(choice, target, options.safeUrl(), timeout)));
      b.proxy(Proxy.NO_PROXY);
      // OkHttp wants an address for the URL's host before it connects; the socket dials the proxy instead, and the
      // proxy resolves the target. Hand OkHttp grpc-java's address, or a stand-in, and never look the name up here.
      final InetAddress standIn = address != null ? address : InetAddress.getByAddress(host, new byte[4]);
      b.dns(new Dns() {
        @Override
        public List<InetAddress> lookup(String hostname) {
          return Collections.singletonList(standIn);
        }
      });
      return b.build();
    }
    InetSocketAddress dial = choice == null && address != null ? new InetSocketAddress(address, port) : null;
    b.socketFactory(new SignallingSocketFactory(tunnel, dial));
    if (address != null) {
      b.dns(new Dns() {
        @Override
        public List<InetAddress> lookup(String hostname) throws UnknownHostException {
          return hostname.equalsIgnoreCase(host) ? Collections.singletonList(address) : Dns.SYSTEM.lookup(hostname);
        }
      });
    }
    if (choice == null) {
      b.proxy(Proxy.NO_PROXY);
    } else {
      // A SOCKS proxy from the platform's selector: OkHttp speaks SOCKS5 (with the JVM's authenticator, if any).
      tunnel.onProxyChosen(choice);
      b.proxy(choice.proxy);
    }
    return b.build();
  }

  private Request upgradeRequest() {
    Request.Builder r = new Request.Builder().url(options.url().toString());
    List<String> offered = options.offeredSubprotocols();
    if (!offered.isEmpty()) {
      StringBuilder joined = new StringBuilder();
      for (String name : offered) {
        joined.append(joined.length() == 0 ? "" : ", ").append(name);
      }
      r.header("Sec-WebSocket-Protocol", joined.toString());
    }
    if (options.origin() != null) {
      r.header("Origin", options.origin());
    }
    r.header("User-Agent", USER_AGENT);
    for (Map.Entry<String, String> e : options.headers().entrySet()) {
      r.header(e.getKey(), e.getValue());
    }
    if (options.headersSupplier() != null) {
      Map<String, String> supplied = options.headersSupplier().get();
      if (supplied != null) {
        for (Map.Entry<String, String> e : supplied.entrySet()) {
          OkHttpWebSocketOptions.Builder.checkHeader(e.getKey(), e.getValue());
          r.header(e.getKey(), e.getValue());
        }
      }
    }
    return r.build();
  }

  /** Trusts exactly the certificates in a PEM file. */
  static X509TrustManager trustManagerFor(File pem) {
    try {
      Collection<? extends Certificate> certificates;
      InputStream in = new FileInputStream(pem);
      try {
        certificates = CertificateFactory.getInstance("X.509").generateCertificates(in);
      } finally {
        in.close();
      }
      if (certificates.isEmpty()) {
        throw new IllegalArgumentException("trustCertificates: " + pem + " (expected: PEM certificates)");
      }
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      int i = 0;
      for (Certificate c : new ArrayList<Certificate>(certificates)) {
        store.setCertificateEntry("trusted-" + i++, c);
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(store);
      for (TrustManager tm : tmf.getTrustManagers()) {
        if (tm instanceof X509TrustManager) {
          return (X509TrustManager) tm;
        }
      }
      throw new IllegalStateException("no X509TrustManager from " + tmf.getAlgorithm());
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("trustCertificates: " + pem + " (expected: a readable PEM file of "
          + "certificates; " + e.getMessage() + ")", e);
    }
  }

  private static SSLContext sslContextFor(X509TrustManager trust) {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, new TrustManager[] {trust}, null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot create a TLS context: " + e.getMessage(), e);
    }
  }
}
