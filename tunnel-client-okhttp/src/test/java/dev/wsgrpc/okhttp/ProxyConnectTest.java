package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Tunnels through an HTTP proxy go through {@code CONNECT host:port}, for ws as for wss, as the Netty client's do:
 * the request (the target by name, preemptive Basic credentials), the proxy choice for ws, and every way a proxy's
 * answer can fail, each an UNAVAILABLE naming the proxy and what it did. The proxy is a loopback fake ({@link
 * FakeConnectProxy}) so that it can misbehave; integration-tests run the same paths through tinyproxy.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ProxyConnectTest {

  private final Closer closer = new Closer();
  private final Map<String, String> env = new HashMap<>();
  private TestCertificates certs;

  @AfterEach
  void closeAll() throws Exception {
    closer.close();
  }

  private int startServer(boolean tls) throws Exception {
    WebSocketServerOptions.Builder options = WebSocketServerOptions.newBuilder();
    if (tls) {
      certs = TestCertificates.create();
      options.tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()));
    }
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), options.build())
        .addService(new TestEcho()).build().start();
    closer.add(server);
    return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  private FakeConnectProxy proxy(ScriptedHttpServer.Script script) throws IOException {
    FakeConnectProxy proxy = new FakeConnectProxy(script);
    closer.add(proxy);
    return proxy;
  }

  /** A channel whose proxy choice sees {@link #env} and {@code platform} rather than the JVM's. */
  private ManagedChannel channel(OkHttpWebSocketOptions options, ProxySelector platform) {
    ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(options,
        new ProxyChooser(options, platform, env::get)).build();
    closer.add(channel);
    return channel;
  }

  private ManagedChannel channel(OkHttpWebSocketOptions options) {
    return channel(options, null);
  }

  private static int echo(ManagedChannel channel, int size) {
    return EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).unary(TestEcho.payload(size))
        .getPayload().size();
  }

  private static Status fails(ManagedChannel channel) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> echo(channel, 1));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
    return e.getStatus();
  }

  /** How a call to ws://localhost:8080/grpc through {@code proxy} (explicit, no credentials) fails. */
  private Status failsThrough(FakeConnectProxy proxy) {
    return fails(channel(OkHttpWebSocketOptions.newBuilder("ws://localhost:8080/grpc").proxy(explicit(proxy)).build()));
  }

  private static ProxyOptions explicit(FakeConnectProxy proxy) {
    return ProxyOptions.of("127.0.0.1", proxy.port());
  }

  @Test
  void wsGoesThroughConnectNamingTheUrlsHostWithPreemptiveBasicCredentials() throws Exception {
    int port = startServer(false);
    FakeConnectProxy proxy = proxy(FakeConnectProxy.RELAY);
    ManagedChannel channel = channel(OkHttpWebSocketOptions.newBuilder("ws://localhost:" + port + "/grpc")
        .proxy(ProxyOptions.newBuilder().address("127.0.0.1", proxy.port()).credentials("alice", "s3cr:t")
            .build())
        .build());
    assertEquals(1000, echo(channel, 1000));
    assertEquals(1, proxy.requests().size(), proxy.requests().toString());
    // The name, for the proxy to resolve; credentials on the first request, as Netty's HttpProxyHandler sends them.
    assertEquals("CONNECT localhost:" + port + " HTTP/1.1\r\nHost: localhost:" + port + "\r\n"
        + "Proxy-Authorization: Basic " + Base64.getEncoder().encodeToString(
            "alice:s3cr:t".getBytes(StandardCharsets.UTF_8)), proxy.requests().get(0));
  }

  @Test
  void wssGoesThroughTheSameConnectAndTlsRunsEndToEnd() throws Exception {
    int port = startServer(true);
    FakeConnectProxy proxy = proxy(FakeConnectProxy.RELAY);
    ManagedChannel channel = channel(OkHttpWebSocketOptions.newBuilder("wss://localhost:" + port + "/grpc")
        .tls(ClientTls.trusting(certs.caPem())).proxy(explicit(proxy)).build());
    assertEquals(1000, echo(channel, 1000));
    assertEquals("CONNECT localhost:" + port + " HTTP/1.1\r\nHost: localhost:" + port, proxy.requests().get(0));
  }

  @Test
  void aNameOnlyTheProxyCanResolveIsNeverLookedUpHere() throws Exception {
    int port = startServer(false);
    FakeConnectProxy proxy = proxy(FakeConnectProxy.relayTo(port));
    ManagedChannel channel = channel(OkHttpWebSocketOptions.newBuilder("ws://grpc.corp.invalid:" + port + "/grpc")
        .proxy(explicit(proxy)).build());
    assertEquals(10, echo(channel, 10));
    assertTrue(proxy.requests().get(0).startsWith("CONNECT grpc.corp.invalid:" + port + " HTTP/1.1\r\n"),
        proxy.requests().toString());
  }

  @Test
  void withoutAProxyTheNameIsResolvedHereAsBefore() throws Exception {
    int port = startServer(false);
    Status status = fails(channel(OkHttpWebSocketOptions.newBuilder("ws://grpc.corp.invalid:" + port + "/grpc")
        .proxy(ProxyOptions.DIRECT).build()));
    assertTrue(status.getDescription().contains("grpc.corp.invalid"), status.toString());
  }

  @Test
  void connectToIsTheConnectTargetAsOnTheNettyClient() throws Exception {
    int port = startServer(false);
    FakeConnectProxy proxy = proxy(FakeConnectProxy.RELAY);
    ManagedChannel channel = channel(OkHttpWebSocketOptions.newBuilder("ws://edge.invalid/grpc")
        .connectTo("127.0.0.1", port).proxy(explicit(proxy)).build());
    assertEquals(10, echo(channel, 10));
    assertTrue(proxy.requests().get(0).startsWith("CONNECT 127.0.0.1:" + port + " HTTP/1.1\r\n"),
        proxy.requests().toString());
  }

  @Test
  void httpProxyEnvironmentVariableSendsWsThroughConnect() throws Exception {
    int port = startServer(false);
    FakeConnectProxy proxy = proxy(FakeConnectProxy.RELAY);
    env.put("HTTPS_PROXY", "http://127.0.0.1:1"); // For wss only: never dialed here.
    env.put("http_proxy", "http://bob:pw@127.0.0.1:" + proxy.port());
    ManagedChannel channel = channel(OkHttpWebSocketOptions.newBuilder("ws://localhost:" + port + "/grpc").build());
    assertEquals(10, echo(channel, 10));
    assertEquals("CONNECT localhost:" + port + " HTTP/1.1\r\nHost: localhost:" + port + "\r\n"
        + "Proxy-Authorization: Basic " + Base64.getEncoder().encodeToString("bob:pw".getBytes(StandardCharsets.UTF_8)),
        proxy.requests().get(0));
  }

  @Test
  void noProxyExemptsTheHostForWs() throws Exception {
    int port = startServer(false);
    env.put("http_proxy", "http://127.0.0.1:1");
    env.put("no_proxy", "localhost");
    assertEquals(10, echo(channel(OkHttpWebSocketOptions.newBuilder("ws://localhost:" + port + "/grpc").build()), 10));
  }

  @Test
  void platformSelectorsHttpProxyCarriesWsThroughConnect() throws Exception {
    int port = startServer(false);
    FakeConnectProxy proxy = proxy(FakeConnectProxy.RELAY);
    URI[] asked = new URI[1];
    ProxySelector platform = new ProxySelector() {
      @Override
      public List<Proxy> select(URI uri) {
        asked[0] = uri;
        return Collections.singletonList(new Proxy(Proxy.Type.HTTP, proxy.address()));
      }

      @Override
      public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {}
    };
    ManagedChannel channel = channel(OkHttpWebSocketOptions.newBuilder("ws://localhost:" + port + "/grpc").build(),
        platform);
    assertEquals(10, echo(channel, 10));
    assertEquals("http://localhost:" + port, asked[0].toString());
    assertTrue(proxy.requests().get(0).startsWith("CONNECT localhost:" + port + " "), proxy.requests().toString());
  }

  /**
   * A platform selector's SOCKS proxy is still OkHttp's (the JDK's SOCKS client under it): a minimal SOCKS5 server
   * (no authentication, CONNECT only) that records the host the client asked for and relays.
   */
  @Test
  void platformSelectorsSocksProxyStaysWithOkHttp() throws Exception {
    int port = startServer(false);
    List<String> asked = new CopyOnWriteArrayList<>();
    ServerSocket socks = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    closer.add(socks);
    Thread acceptor = new Thread(() -> {
      while (!socks.isClosed()) {
        try {
          Socket client = socks.accept();
          closer.add(client);
          DataInputStream in = new DataInputStream(client.getInputStream());
          OutputStream out = client.getOutputStream();
          in.readFully(new byte[in.readUnsignedByte() == 5 ? in.readUnsignedByte() : 0]); // greeting: methods
          out.write(new byte[] {5, 0}); // no authentication
          byte[] request = new byte[4];
          in.readFully(request); // 5, CONNECT, 0, address type
          String host;
          if (request[3] == 3) {
            byte[] name = new byte[in.readUnsignedByte()];
            in.readFully(name);
            host = new String(name, StandardCharsets.US_ASCII);
          } else {
            byte[] address = new byte[request[3] == 1 ? 4 : 16];
            in.readFully(address);
            host = InetAddress.getByAddress(address).getHostAddress();
          }
          int targetPort = in.readUnsignedShort();
          asked.add(host + ":" + targetPort);
          Socket upstream = new Socket(host, targetPort);
          closer.add(upstream);
          out.write(new byte[] {5, 0, 0, 1, 0, 0, 0, 0, 0, 0});
          Thread back = new Thread(() -> FakeConnectProxy.pump(upstream, client));
          back.setDaemon(true);
          back.start();
          Thread forth = new Thread(() -> FakeConnectProxy.pump(client, upstream));
          forth.setDaemon(true);
          forth.start();
        } catch (IOException e) {
          return;
        }
      }
    }, "fake-socks5");
    acceptor.setDaemon(true);
    acceptor.start();
    ProxySelector platform = new ProxySelector() {
      @Override
      public List<Proxy> select(URI uri) {
        return Collections.singletonList(new Proxy(Proxy.Type.SOCKS,
            new InetSocketAddress(InetAddress.getLoopbackAddress(), socks.getLocalPort())));
      }

      @Override
      public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {}
    };
    ManagedChannel channel = channel(OkHttpWebSocketOptions.newBuilder("ws://localhost:" + port + "/grpc").build(),
        platform);
    assertEquals(10, echo(channel, 10));
    assertTrue(asked.contains("localhost:" + port) || asked.contains("127.0.0.1:" + port), asked.toString());
  }

  @Test
  void refusedCredentialsNameTheProxyItsStatusLineAndServer() throws Exception {
    FakeConnectProxy proxy = proxy(FakeConnectProxy.answer("HTTP/1.1 407 Proxy Authentication Required\r\n"
        + "Server: corp-proxy/2.0\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n"));
    Status status = fails(channel(OkHttpWebSocketOptions.newBuilder("ws://localhost:8080/grpc")
        .proxy(ProxyOptions.newBuilder().address("127.0.0.1", proxy.port()).credentials("alice", "wrong").build())
        .build()));
    assertEquals("HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option) answered CONNECT localhost:8080 "
        + "with 407 Proxy Authentication Required (Server: corp-proxy/2.0): the proxy credentials were refused",
        status.getDescription());
  }

  @Test
  void aForbiddenPortIsNamed() throws Exception {
    FakeConnectProxy proxy = proxy(FakeConnectProxy.answer("HTTP/1.0 403 Access violation\r\n\r\n"));
    Status status = failsThrough(proxy);
    assertEquals("HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option) answered CONNECT localhost:8080 "
        + "with 403 Access violation: the proxy does not allow CONNECT to this host or port", status.getDescription());
  }

  @Test
  void aProxyClosingMidAnswerIsNamed() throws Exception {
    FakeConnectProxy proxy = proxy(FakeConnectProxy.answer("HTTP/1.1 200 Conn"));
    Status status = failsThrough(proxy);
    assertEquals("HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option) closed the connection before "
        + "answering CONNECT localhost:8080 (after 17 bytes of its answer: 'HTTP/1.1 200 Conn')",
        status.getDescription());
  }

  @Test
  void garbageInsteadOfAStatusLineIsQuoted() throws Exception {
    FakeConnectProxy proxy = proxy(FakeConnectProxy.answer("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
    Status status = failsThrough(proxy);
    assertEquals("HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option) answered CONNECT localhost:8080 "
        + "with 'SSH-2.0-OpenSSH_9.2' (expected: an HTTP/1.1 status line such as 'HTTP/1.1 200 Connection "
        + "established')", status.getDescription());
  }

  @Test
  void anEndlessHeadIsCutAtEightKibibytes() throws Exception {
    StringBuilder endless = new StringBuilder("HTTP/1.1 200 Connection established\r\n");
    while (endless.length() < 64 * 1024) {
      endless.append("X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    FakeConnectProxy proxy = proxy((client, head) -> {
      client.getOutputStream().write(endless.toString().getBytes(StandardCharsets.US_ASCII));
      client.getInputStream().read(); // Holds the connection until the client gives up.
    });
    Status status = failsThrough(proxy);
    assertEquals("HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option) answered CONNECT localhost:8080 "
        + "with a head of more than 8192 bytes (expected: a status line and headers ending in an empty line); it "
        + "began 'HTTP/1.1 200 Connection established\\r\\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'",
        status.getDescription());
  }

  @Test
  void aSilentProxyEndsAtTheHandshakeTimeout() throws Exception {
    FakeConnectProxy proxy = proxy((client, head) -> client.getInputStream().read());
    long start = System.nanoTime();
    Status status = fails(channel(OkHttpWebSocketOptions.newBuilder("ws://localhost:8080/grpc")
        .settings(TunnelSettings.newBuilder().handshakeTimeout(1, TimeUnit.SECONDS).build())
        .proxy(explicit(proxy)).build()));
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertTrue(status.getDescription().contains("HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option)"),
        status.getDescription());
    assertTrue(millis < 20_000, "expected the handshake timeout (1 s) to end the wait, not " + millis + " ms");
  }

  @Test
  void anUnreachableProxyIsNamed() throws Exception {
    FakeConnectProxy proxy = proxy(FakeConnectProxy.RELAY);
    int port = proxy.port();
    proxy.close();
    Status status = fails(channel(OkHttpWebSocketOptions.newBuilder("ws://localhost:8080/grpc")
        .proxy(ProxyOptions.of("127.0.0.1", port)).build()));
    assertTrue(status.getDescription().startsWith("cannot connect to HTTP proxy 127.0.0.1:" + port
        + " (from the proxy option) for ws://localhost:8080/grpc: Connection refused"), status.getDescription());
  }
}
