package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.it.UpstreamReplicas.JavaReplica;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The caller as proxy mode's upstream learns it, through a real nginx in front of the gateway jar, nginx being its
 * only trusted proxy: tunnels over ws and wss (nginx {@code proxy_pass}, the HTTP/1.1 upgrade) and native gRPC over
 * h2c and TLS h2 (nginx {@code grpc_pass}, with {@code proxies/nginx-native-grpc.conf}). nginx connects to the jar
 * from {@value #NGINX_SOURCE}, the trusted address; the client connects to nginx from 127.0.0.1, its true address.
 * The upstream learning 127.0.0.1 (not nginx's address) shows the forwarded header was read; the client's own
 * {@code X-Forwarded-For} and forged {@code wsgrpc-*} headers change nothing.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class CallerThroughNginxTest {

  private static final String NGINX_SOURCE = "127.0.0.2";
  private static final String SPOOFED = "198.51.100.1";

  private final Closer closer = new Closer();

  @AfterEach
  void stop() throws Exception {
    closer.close();
  }

  @ParameterizedTest(name = "tls: {0}")
  @ValueSource(booleans = {false, true})
  void theUpstreamLearnsTheTrueClientItsPrincipalAndTransportForTunnelsAndNativeCalls(boolean tls) throws Exception {
    throughNginx(tls);
  }

  private void throughNginx(boolean tls) throws Exception {
    JavaReplica replica = closer.add(new JavaReplica("java"));
    TestCertificates certs = tls ? TestCertificates.create() : null;
    File tokens = File.createTempFile("tokens", ".txt");
    tokens.deleteOnExit();
    Files.write(tokens.toPath(), List.of("s3cr3t alice"));
    List<String> args = new ArrayList<>(List.of("--port", "0", "--upstream", replica.address(),
        "--trusted-proxies", NGINX_SOURCE + "/32", "--auth-tokens", tokens.getPath()));
    if (tls) {
      args.addAll(List.of("--tls-cert", certs.serverCertPem().getPath(), "--tls-key", certs.serverKeyPem().getPath()));
    }
    TunnelServerJar jar = closer.add(TunnelServerJar.start(args.toArray(new String[0])));
    jar.awaitUrl();

    int tunnelPort = ExternalProgram.freePort();
    ReverseProxy nginx = closer.add(ReverseProxy.nginxNativeGrpc(jar.port(), certs,
        tunnelSite(tunnelPort, jar.port(), certs)
            + "proxy_bind " + NGINX_SOURCE + ";\ngrpc_bind " + NGINX_SOURCE + ";\n").start());

    // A tunnel through nginx, its upgrade carrying a client's own X-Forwarded-For.
    WebSocketClientOptions.Builder options = WebSocketClientOptions
        .newBuilder((tls ? "wss" : "ws") + "://127.0.0.1:" + tunnelPort + "/grpc")
        .header("Authorization", "Bearer s3cr3t")
        .header("X-Forwarded-For", SPOOFED);
    if (tls) {
      options.tls(ClientTls.trusting(certs.caPem()));
    }
    ManagedChannel tunnel = closer.add(WebSocketChannels.newChannelBuilder(options.build()).build());
    assertCaller(UpstreamReplicas.forgedCall(tunnel, new Metadata()), tls ? "wss" : "ws", "alice", nginx);

    // Native gRPC through nginx's grpc_pass, the call carrying a client's own x-forwarded-for.
    Metadata nativeHeaders = new Metadata();
    nativeHeaders.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer s3cr3t");
    nativeHeaders.put(Metadata.Key.of("x-forwarded-for", Metadata.ASCII_STRING_MARSHALLER), SPOOFED);
    ManagedChannel nativeThroughNginx = closer.add(nativeChannel(nginx.port(), certs));
    // Each native call is authenticated on its own (its authorization metadata), so it has a principal too.
    assertCaller(UpstreamReplicas.forgedCall(nativeThroughNginx, nativeHeaders), "native", "alice", nginx);

    // Native gRPC straight to the jar: its peer is not a trusted proxy, so its header is not read.
    ManagedChannel nativeDirect = closer.add(nativeChannel(jar.port(), certs));
    assertCaller(UpstreamReplicas.forgedCall(nativeDirect, nativeHeaders), "native", "alice", nginx);
  }

  private static void assertCaller(Metadata seen, String transport, String principal, ReverseProxy nginx) {
    String report = seen + "\n" + nginx.output();
    assertEquals("127.0.0.1", seen.get(UpstreamReplicas.seen("wsgrpc-client-address")), report);
    if (principal != null) {
      assertEquals(principal, seen.get(UpstreamReplicas.seen("wsgrpc-principal")), report);
    }
    assertEquals(transport, seen.get(UpstreamReplicas.seen("wsgrpc-transport")), report);
    assertNull(seen.get(UpstreamReplicas.seen("wsgrpc-forged")), report);
  }

  private static ManagedChannel nativeChannel(int port, TestCertificates certs) throws Exception {
    NettyChannelBuilder builder = NettyChannelBuilder.forAddress("127.0.0.1", port);
    if (certs == null) {
      return builder.usePlaintext().build();
    }
    return builder.sslContext(GrpcSslContexts.forClient().trustManager(certs.caPem()).build()).build();
  }

  /**
   * The tunnel's server block, as {@code proxies/nginx-tunnel.conf} but on {@code location = /grpc} and, with
   * {@code certs}, TLS on both hops so the gateway sees wss.
   */
  private static String tunnelSite(int port, int jarPort, TestCertificates certs) {
    String tls = certs == null ? "" : "    ssl_certificate " + certs.serverCertPem() + ";\n"
        + "    ssl_certificate_key " + certs.serverKeyPem() + ";\n";
    String upstreamTls = certs == null ? "" : "        proxy_ssl_trusted_certificate " + certs.caPem() + ";\n"
        + "        proxy_ssl_verify on;\n        proxy_ssl_name localhost;\n";
    return "map $http_upgrade $connection_upgrade {\n    default upgrade;\n    ''      close;\n}\n"
        + "server {\n"
        + "    listen 127.0.0.1:" + port + (certs != null ? " ssl" : "") + ";\n"
        + tls
        + "    location = /grpc {\n"
        + "        proxy_pass " + (certs != null ? "https" : "http") + "://127.0.0.1:" + jarPort + ";\n"
        + upstreamTls
        + "        proxy_http_version 1.1;\n"
        + "        proxy_set_header Upgrade $http_upgrade;\n"
        + "        proxy_set_header Connection $connection_upgrade;\n"
        + "        proxy_set_header Host $host;\n"
        + "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        + "        proxy_buffering off;\n"
        + "    }\n"
        + "}\n";
  }
}
