package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.security.KeyStore;
import java.security.Provider;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.conscrypt.Conscrypt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Over wss the client hands OkHttp its TLS provider's socket inside one that follows the plaintext: with the JDK's
 * TLS and with Conscrypt's (the provider of Android), the server reads the URL's host as SNI (a CDN routes on it),
 * a message over the limit is refused at its header, inside TLS, with Close 1009, and a message of 1 MiB crosses the
 * tunnel server both ways.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TlsProvidersTest {

  /** A name with a dot: the JDK sends no SNI for {@code localhost}. */
  private static final String HOST = "edge.wsgrpc.test";
  private static final TestCertificates CERTIFICATES = TestCertificates.create(HOST);

  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  static Stream<Arguments> providers() throws Exception {
    // Conscrypt's own trust manager, as on Android (the JDK's does not know the key exchange Conscrypt names for
    // TLS 1.3), trusting the test CA.
    Provider provider = Conscrypt.newProvider();
    KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
    store.load(null, null);
    try (InputStream ca = Files.newInputStream(CERTIFICATES.caPem().toPath())) {
      store.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(ca));
    }
    TrustManagerFactory trustFactory = TrustManagerFactory.getInstance("PKIX", provider);
    trustFactory.init(store);
    X509TrustManager trust = (X509TrustManager) trustFactory.getTrustManagers()[0];
    SSLContext conscrypt = SSLContext.getInstance("TLS", provider);
    conscrypt.init(null, new TrustManager[] {trust}, null);
    try (SSLSocket socket = (SSLSocket) conscrypt.getSocketFactory().createSocket()) {
      assertTrue(Conscrypt.isConscrypt(socket));
    }
    return Stream.of(
        Arguments.of("JDK", ClientTls.trusting(CERTIFICATES.caPem())),
        Arguments.of("Conscrypt", ClientTls.of(conscrypt.getSocketFactory(), trust)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("providers")
  void theServerReadsTheUrlsHostAsSniAndAMessageOverTheLimitIsRefusedInsideTls(String provider, ClientTls tls)
      throws Exception {
    CompletableFuture<String> sni = new CompletableFuture<>();
    CompletableFuture<String> close = new CompletableFuture<>();
    byte[] oversized = Arrays.copyOf(new byte[] {(byte) 0x82, 126, 0x10, 0x01}, 4 + 100); // 4097 bytes announced
    ScriptedHttpServer.Script script = ScriptedHttpServer.afterTheCallStartsScript("", oversized, oversized.length,
        close);
    ScriptedHttpServer server = new ScriptedHttpServer(CERTIFICATES.jdkServerContext(), (Socket s, String head) -> {
      sni.complete(serverNames((SSLSocket) s));
      script.play(s, head);
    });
    toClose.add(server);
    toClose.add(() -> close.complete("none"));
    String url = "wss://" + HOST + ":" + server.port() + "/grpc";
    ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(OkHttpWebSocketOptions.newBuilder(url)
        .tls(tls)
        .connectTo("127.0.0.1", server.port())
        .settings(TunnelSettings.newBuilder().maxInboundFramePayload(4096).build())
        .build()).build();
    toClose.add(() -> channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));

    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS).unary(TestEcho.payload(1)));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
    assertEquals("Max frame length of 4096 has been exceeded. (from " + url + "; sent close 1009 (Message Too Big))",
        e.getStatus().getDescription());
    assertEquals("1009 Max frame length of 4096 has been exceeded.", close.get(10, TimeUnit.SECONDS));
    assertEquals(HOST, sni.get(10, TimeUnit.SECONDS));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("providers")
  void aMessageOfOneMibRoundTripsThroughTheServer(String provider, ClientTls tls) throws Exception {
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder()
                .tls(ServerTls.pemFiles(CERTIFICATES.serverCertPem(), CERTIFICATES.serverKeyPem())).build())
        .addService(new TestEcho())
        .build()
        .start();
    toClose.add(() -> server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(
        OkHttpWebSocketOptions.newBuilder("wss://" + HOST + ":" + port + "/grpc")
            .tls(tls)
            .connectTo("127.0.0.1", port)
            .build()).build();
    toClose.add(() -> channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));

    EchoRequest request = TestEcho.payload(1024 * 1024);
    assertEquals(request.getPayload(), EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .unary(request).getPayload());
  }

  /** The host names the client asked for in its SNI, or "none". */
  private static String serverNames(SSLSocket s) {
    List<String> names = new ArrayList<>();
    for (SNIServerName name : ((ExtendedSSLSession) s.getSession()).getRequestedServerNames()) {
      names.add(name instanceof SNIHostName ? ((SNIHostName) name).getAsciiName() : name.toString());
    }
    return names.isEmpty() ? "none" : String.join(",", names);
  }
}
