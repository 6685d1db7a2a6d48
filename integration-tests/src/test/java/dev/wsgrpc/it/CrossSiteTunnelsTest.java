package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.TunnelAuthenticator;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Cross-site tunnels (issue 12, item 7): a browser sends Origin with every upgrade, and a page's script can speak
 * HTTP/2 inside binary messages, so without an Origin allow-list an upgrade whose Origin is another site than the
 * Host gets 403, with credentials a browser sends by itself (mutual TLS) or without any (cross-site WebSocket
 * hijacking, security review); the Host's own pages, clients without Origin, a listed origin and the explicit opt-out
 * keep working. The library and the jar in each mode, over real sockets.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class CrossSiteTunnelsTest {

  private static final String EVIL = "https://evil.example.net";

  private final TestCertificates certs = TestCertificates.create();
  private final Closer closer = new Closer();

  @AfterEach
  void stop() throws Exception {
    closer.close();
  }

  /** One call through a tunnel that presents the client certificate, with {@code origin} (null: none). */
  private Status call(int port, String origin) throws Exception {
    return call(WebSocketClientOptions.newBuilder("wss://localhost:" + port + "/grpc").tls(ClientTls.of(SslContextBuilder.forClient()
            .trustManager(certs.caPem())
            .keyManager(certs.clientCertPem(), certs.clientKeyPem())
            .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, ApplicationProtocolNames.HTTP_1_1))
            .build())), origin);
  }

  /** One call through a plain tunnel, with {@code origin} (null: none). */
  private static Status plainCall(int port, String origin) throws Exception {
    return call(WebSocketClientOptions.newBuilder("ws://127.0.0.1:" + port + "/grpc"), origin);
  }

  private static Status call(WebSocketClientOptions.Builder options, String origin) throws Exception {
    if (origin != null) {
      options.origin(origin);
    }
    ManagedChannel channel = WebSocketChannels.newChannelBuilder(options.build()).build();
    try {
      HealthGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance());
      return Status.OK;
    } catch (io.grpc.StatusRuntimeException e) {
      return e.getStatus();
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private static void assertCrossSiteRefused(Status status) {
    assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    assertTrue(String.valueOf(status.getDescription()).contains("but was 403 Forbidden"), status.toString());
    assertTrue(String.valueOf(status.getDescription()).contains("expected an Origin of the same site as Host"),
        status.toString());
    assertTrue(String.valueOf(status.getDescription()).contains("TLS client certificate"), status.toString());
  }

  private static void assertTunnelFromAnotherSiteRefused(Status status) {
    assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    assertTrue(String.valueOf(status.getDescription()).contains("but was 403 Forbidden"), status.toString());
    assertTrue(String.valueOf(status.getDescription()).contains("expected an Origin of the same site as Host "
        + "'127.0.0.1:"), status.toString());
    assertTrue(String.valueOf(status.getDescription()).contains("a web page may open tunnels on its own site only"),
        status.toString());
  }

  private int library(AccessPolicy.Builder access) throws Exception {
    io.grpc.protobuf.services.HealthStatusManager health = new io.grpc.protobuf.services.HealthStatusManager();
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.newBuilder()
            .tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem())
                .requireClientCertificates(certs.caPem()))
            .access(access.authenticator(TunnelAuthenticator.CLIENT_CERTIFICATE).build())
            .build())
        .addService(health.getHealthService())
        .build().start();
    closer.add(server);
    return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  @Test
  void libraryWithMutualTlsRefusesCrossSiteUpgradesUnlessListedOrAllowed() throws Exception {
    int port = library(AccessPolicy.newBuilder());
    assertCrossSiteRefused(call(port, EVIL));
    assertCrossSiteRefused(call(port, "null"));
    assertEquals(Status.OK, call(port, "https://localhost:" + port), "the Host's own pages");
    assertEquals(Status.OK, call(port, null), "clients without Origin");

    assertEquals(Status.OK, call(library(AccessPolicy.newBuilder().allowedOrigins(List.of(EVIL))), EVIL),
        "a listed origin");
    assertEquals(Status.OK, call(library(AccessPolicy.newBuilder().crossSiteCredentialsAllowed(true)), EVIL),
        "the explicit opt-out");
  }

  private int jar(String... extra) throws Exception {
    List<String> args = new ArrayList<>(List.of("--port", "0", "--tls-cert", certs.serverCertPem().getPath(),
        "--tls-key", certs.serverKeyPem().getPath(), "--tls-client-ca", certs.caPem().getPath()));
    args.addAll(List.of(extra));
    TunnelServerJar jar = TunnelServerJar.start(args.toArray(new String[0]));
    closer.add(jar);
    jar.awaitUrl();
    return jar.port();
  }

  @Test
  void jarWithTlsClientCaRefusesCrossSiteUpgradesUnlessListedOrAllowed() throws Exception {
    int port = jar();
    assertCrossSiteRefused(call(port, EVIL));
    assertEquals(Status.OK, call(port, "https://localhost:" + port), "the Host's own pages");
    assertEquals(Status.OK, call(port, null), "clients without Origin");
    assertEquals(Status.OK, call(jar("--allowed-origins", EVIL), EVIL), "a listed origin");
    assertEquals(Status.OK, call(jar("--allow-cross-site-credentials"), EVIL), "the explicit opt-out");
  }

  /** A plain server without credentials, as the review found it: a page of any site could call its services. */
  private int plainLibrary(AccessPolicy.Builder access) throws Exception {
    io.grpc.protobuf.services.HealthStatusManager health = new io.grpc.protobuf.services.HealthStatusManager();
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.newBuilder().access(access.build()).build())
        .addService(health.getHealthService())
        .build().start();
    closer.add(server);
    return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  @Test
  void libraryWithoutCredentialsRefusesTunnelsFromPagesOfOtherSitesUnlessListedOrAllowed() throws Exception {
    int port = plainLibrary(AccessPolicy.newBuilder());
    assertTunnelFromAnotherSiteRefused(plainCall(port, EVIL));
    assertTunnelFromAnotherSiteRefused(plainCall(port, "null"));
    assertEquals(Status.OK, plainCall(port, "http://127.0.0.1:" + port), "the Host's own pages");
    assertEquals(Status.OK, plainCall(port, null), "clients without Origin");
    assertEquals(Status.OK, plainCall(plainLibrary(AccessPolicy.newBuilder().allowedOrigins(List.of(EVIL))), EVIL),
        "a listed origin");
    assertEquals(Status.OK, plainCall(plainLibrary(AccessPolicy.newBuilder().crossSiteCredentialsAllowed(true)),
        EVIL), "the explicit opt-out");
  }

  /**
   * Every mode of the jar opens tunnels with the same handler: the review's repro (demo mode with browser origins,
   * no authenticator) and relay and proxy modes in front of a plain gRPC server.
   */
  @ParameterizedTest(name = "--mode {0}")
  @ValueSource(strings = {"demo", "relay", "proxy"})
  void jarWithoutCredentialsRefusesTunnelsFromPagesOfOtherSitesInEveryMode(String mode) throws Exception {
    io.grpc.protobuf.services.HealthStatusManager health = new io.grpc.protobuf.services.HealthStatusManager();
    Server upstream = io.grpc.Grpc.newServerBuilderForPort(0, io.grpc.InsecureServerCredentials.create())
        .addService(health.getHealthService()).build().start();
    closer.add(upstream);
    List<String> args = new ArrayList<>(List.of("--port", "0"));
    if (mode.equals("demo")) {
      args.addAll(List.of("--browser-origins", "https://app.example.com"));
    } else {
      args.addAll(List.of("--mode", mode, "--upstream", "127.0.0.1:" + upstream.getPort()));
    }
    TunnelServerJar jar = closer.add(TunnelServerJar.start(args.toArray(new String[0])));
    jar.awaitUrl();
    int port = jar.port();
    assertTunnelFromAnotherSiteRefused(plainCall(port, EVIL));
    // The browser protocols' origins are for browser calls: a tunnel from that page is another site's too.
    if (mode.equals("demo")) {
      assertTunnelFromAnotherSiteRefused(plainCall(port, "https://app.example.com"));
    }
    assertEquals(Status.OK, plainCall(port, "http://127.0.0.1:" + port), "the Host's own pages");
    assertEquals(Status.OK, plainCall(port, null), "clients without Origin");
    args.addAll(List.of("--allowed-origins", EVIL));
    TunnelServerJar listed = closer.add(TunnelServerJar.start(args.toArray(new String[0])));
    listed.awaitUrl();
    assertEquals(Status.OK, plainCall(listed.port(), EVIL), "a listed origin");
  }
}
