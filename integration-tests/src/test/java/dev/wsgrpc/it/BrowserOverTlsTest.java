package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * One TLS port for browsers and native gRPC clients. A browser offers ALPN {@code h2} and {@code http/1.1}, and
 * gRPC-Web over HTTP/2 would reach gRPC's own handler, which refuses it; gRPC clients offer {@code h2} alone. The
 * JDK's HTTP client, asked for HTTP/2, offers both as a browser does.
 */
class BrowserOverTlsTest {

  private static final TestCertificates CERTS = TestCertificates.create();
  private final EchoService echo = new EchoService();
  private Server server;
  private int port;

  @BeforeEach
  void start() throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder()
                .tls(ServerTls.pemFiles(CERTS.serverCertPem(), CERTS.serverKeyPem()))
                .nativeGrpc(true)
                .browser(BrowserOptions.forOrigins("*"))
                .build())
        .addService(echo)
        .build()
        .start();
    port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  @AfterEach
  void stop() throws Exception {
    server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    echo.shutdown();
  }

  @Test
  void grpcWebFromAClientOfferingH2AndHttp11IsServedOverHttp11() throws Exception {
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(CERTS.jdkClientContext())
        .build();
    byte[] message = EchoRequest.newBuilder().setPayload(com.google.protobuf.ByteString.copyFromUtf8("web"))
        .build().toByteArray();
    HttpResponse<byte[]> response = http.send(HttpRequest.newBuilder(
            URI.create("https://localhost:" + port + "/wsgrpc.testing.Echo/Unary"))
        .header("Content-Type", "application/grpc-web+proto")
        .header("X-Grpc-Web", "1")
        .POST(HttpRequest.BodyPublishers.ofByteArray(
            ByteBuffer.allocate(5 + message.length).put((byte) 0).putInt(message.length).put(message).array()))
        .timeout(Duration.ofSeconds(30))
        .build(), HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, response.statusCode(), new String(response.body(), StandardCharsets.ISO_8859_1));
    assertEquals(HttpClient.Version.HTTP_1_1, response.version(), "ALPN chose http/1.1 for a browser");
    assertEquals("application/grpc-web+proto", response.headers().firstValue("content-type").orElse(null));
    assertTrue(new String(response.body(), StandardCharsets.ISO_8859_1).contains("grpc-status: 0"));
    assertEquals(1, echo.unaryCalls.get());
  }

  @Test
  void aGrpcClientOfferingH2AloneStillGetsHttp2OnTheSamePort() throws Exception {
    ManagedChannel channel = NettyChannelBuilder.forAddress("localhost", port)
        .sslContext(GrpcSslContexts.forClient().trustManager(CERTS.caPem()).build())
        .build();
    try {
      EchoResponse response = EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .unary(EchoRequest.newBuilder().setPayload(com.google.protobuf.ByteString.copyFromUtf8("native")).build());
      assertEquals("native", response.getPayload().toStringUtf8());
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
