package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.WireFrames;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import okhttp3.CertificatePinner;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Every way the upgrade fails gives UNAVAILABLE with the Netty client's words, naming the URL and the answer. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HandshakeTextsTest {

  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  private Status callFails(OkHttpWebSocketOptions options) {
    ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(options).build();
    toClose.add(() -> channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS).unary(TestEcho.payload(1)));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
    return e.getStatus();
  }

  private String scripted(Function<String, String> answer) throws Exception {
    ScriptedHttpServer server = new ScriptedHttpServer(answer);
    toClose.add(server);
    return "ws://127.0.0.1:" + server.port() + "/grpc";
  }

  /** The same, completing {@code head} with the first request's head (request line and headers). */
  private String scripted(Function<String, String> answer, CompletableFuture<String> head) throws Exception {
    ScriptedHttpServer server = new ScriptedHttpServer((socket, requestHead) -> {
      head.complete(requestHead);
      socket.getOutputStream().write(answer.apply(ScriptedHttpServer.webSocketKey(requestHead))
          .getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
    });
    toClose.add(server);
    return "ws://127.0.0.1:" + server.port() + "/grpc";
  }

  private static String upgrade(String key, String extraHeaders) {
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Accept: " + UpgradeAnswer.acceptFor(key) + "\r\n" + extraHeaders + "\r\n";
  }

  @Test
  void forbiddenAnswerNamesTheStatusTheUrlTheServerAndQuotesThePlainTextBody() throws Exception {
    String url = scripted(key -> "HTTP/1.1 403 Forbidden\r\nServer: edge/1.0\r\nContent-Type: text/plain\r\n"
        + "Content-Length: 22\r\nConnection: close\r\n\r\nexpected a valid token");
    Status status = callFails(OkHttpWebSocketOptions.newBuilder(url + "?token=secret").build());
    assertEquals("expected HTTP 101 but was 403 Forbidden from " + url + "?<redacted> (Server: edge/1.0); it said: "
        + "\"expected a valid token\"", status.getDescription());
  }

  /**
   * A refusal whose plain-text body stalls (its Content-Length is not kept, the connection stays open) is reported as
   * the refusal it is, quoting what came: it was reported as a timeout of the handshake, after 10 s.
   */
  @Test
  void aRefusalWhoseBodyStallsIsReportedAtOnceQuotingWhatCame() throws Exception {
    ScriptedHttpServer server = new ScriptedHttpServer((socket, head) -> {
      socket.getOutputStream().write(("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n"
          + "\r\nno token\n").getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      while (socket.getInputStream().read() != -1) {
        // the rest of the body never comes; the client closes
      }
    });
    toClose.add(server);
    String url = "ws://127.0.0.1:" + server.port() + "/grpc";
    long start = System.nanoTime();
    Status status = callFails(OkHttpWebSocketOptions.newBuilder(url).build());
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals("expected HTTP 101 but was 403 Forbidden from " + url + "; it said: \"no token\"",
        status.getDescription());
    assertTrue(millis < 8_000, "reported after " + millis + " ms");
  }

  /** A body cut short of its Content-Length (the server closed) is quoted as far as it came. */
  @Test
  void aRefusalWhoseBodyIsCutShortIsQuotedAsFarAsItCame() throws Exception {
    String url = scripted(key -> "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
        + "no token\n");
    Status status = callFails(OkHttpWebSocketOptions.newBuilder(url).build());
    assertEquals("expected HTTP 101 but was 403 Forbidden from " + url + "; it said: \"no token\"",
        status.getDescription());
  }

  /** The same with a body dribbled a byte at a time: the wait for it is one deadline, not a limit per read. */
  @Test
  void aRefusalWhoseBodyIsDribbledIsReportedWithinASecondOrSo() throws Exception {
    ScriptedHttpServer server = new ScriptedHttpServer((socket, head) -> {
      java.io.OutputStream out = socket.getOutputStream();
      out.write(("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 200\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      try {
        for (int i = 0; i < 200; i++) {
          Thread.sleep(300); // the hostile server's pace, not a wait of the test's
          out.write('x');
          out.flush();
        }
      } catch (InterruptedException | java.io.IOException e) {
        // the client has gone
      }
    });
    toClose.add(server);
    String url = "ws://127.0.0.1:" + server.port() + "/grpc";
    long start = System.nanoTime();
    Status status = callFails(OkHttpWebSocketOptions.newBuilder(url).build());
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertTrue(status.getDescription().startsWith("expected HTTP 101 but was 403 Forbidden from " + url),
        status.getDescription());
    assertTrue(millis < 8_000, "reported after " + millis + " ms");
  }

  /**
   * What a server says in its headers is quoted as printable ASCII, at most 64 characters each, as the Netty client
   * quotes it: a Server header of 100,000 characters with escape sequences (OkHttp reads up to 256 KiB of headers)
   * went into the status whole.
   */
  @Test
  void theServersHeadersAreQuotedPrintableAndShort() throws Exception {
    String url = scripted(key -> "HTTP/1.1 403 \u001b[2JForbidden\r\nServer: " + "\u001b[31m".repeat(20_000) + "\r\n"
        + "Content-Length: 0\r\nConnection: close\r\n\r\n");
    String description = callFails(OkHttpWebSocketOptions.newBuilder(url).build()).getDescription();
    assertEquals("expected HTTP 101 but was 403 ?[2JForbidden from " + url + " (Server: "
        + "?[31m".repeat(12) + "?[31...)", description);
  }

  @Test
  void plainPageSaysAProxyDidNotPassTheUpgrade() throws Exception {
    String url = scripted(key -> "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assertEquals("expected HTTP 101 but was 200 OK from " + url + ": a proxy on the path did not pass the Upgrade "
        + "and Connection headers, or the URL is not a WebSocket endpoint",
        callFails(OkHttpWebSocketOptions.newBuilder(url).build()).getDescription());
  }

  @Test
  void redirectIsNotFollowedAndNamesItsTarget() throws Exception {
    String url = scripted(key -> "HTTP/1.1 301 Moved Permanently\r\nLocation: wss://elsewhere/grpc\r\n"
        + "Content-Length: 0\r\nConnection: close\r\n\r\n");
    assertEquals("expected HTTP 101 but was 301 Moved Permanently from " + url + ": redirected to "
        + "wss://elsewhere/grpc", callFails(OkHttpWebSocketOptions.newBuilder(url).build()).getDescription());
  }

  /** nginx's {@code return 301 https://$host$request_uri} repeats the request's query, and a token with it. */
  @Test
  void redirectNamesItsTargetWithTheQueryAndUserInfoRedacted() throws Exception {
    String url = scripted(key -> "HTTP/1.1 301 Moved Permanently\r\n"
        + "Location: https://edge.example.com/grpc?access_token=SECRET\r\n"
        + "Content-Length: 0\r\nConnection: close\r\n\r\n");
    assertEquals("expected HTTP 101 but was 301 Moved Permanently from " + url + "?<redacted>: redirected to "
        + "https://edge.example.com/grpc?<redacted>",
        callFails(OkHttpWebSocketOptions.newBuilder(url + "?access_token=SECRET").build()).getDescription());
    String withUser = scripted(key -> "HTTP/1.1 307 Temporary Redirect\r\n"
        + "Location: wss://alice:SECRET@edge.example.com/grpc#SECRET\r\n"
        + "Content-Length: 0\r\nConnection: close\r\n\r\n");
    assertEquals("expected HTTP 101 but was 307 Temporary Redirect from " + withUser + ": redirected to "
        + "wss://<redacted>@edge.example.com/grpc#<redacted>",
        callFails(OkHttpWebSocketOptions.newBuilder(withUser).build()).getDescription());
  }

  /** X-Auth-Key is on no list of sensitive names, and its value is a secret all the same. */
  @Test
  void aSuppliedHeaderValueTheRequestCannotCarryIsNotQuoted() throws Exception {
    String url = scripted(key -> "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    Status status = callFails(OkHttpWebSocketOptions.newBuilder(url)
        .headersSupplier(() -> Collections.singletonMap("X-Auth-Key", "SECRET\u0001TOKEN")).build());
    assertEquals("could not build the upgrade request for " + url + ": header X-Auth-Key: <redacted> (expected: "
        + "printable ASCII without line breaks; found U+0001 at index 6)", status.getDescription());
  }

  /**
   * grpc-java 1.85 refused {@code dns:///[::1]:443} as a target when the channel was built. {@code ::ffff:127.0.0.1}
   * is dialed as 127.0.0.1, so this needs no IPv6 on the machine.
   */
  @Test
  void anIpv6LiteralInTheUrlOrInConnectToIsDialed() throws Exception {
    String url = scripted(key -> "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    String port = url.substring("ws://127.0.0.1:".length(), url.indexOf("/grpc"));
    String v6 = "ws://[::ffff:127.0.0.1]:" + port + "/grpc";
    assertEquals("expected HTTP 101 but was 403 Forbidden from " + v6,
        callFails(OkHttpWebSocketOptions.newBuilder(v6).build()).getDescription());
    assertEquals("expected HTTP 101 but was 403 Forbidden from ws://edge.example.com/grpc",
        callFails(OkHttpWebSocketOptions.newBuilder("ws://edge.example.com/grpc")
            .connectTo("::ffff:127.0.0.1", Integer.parseInt(port)).proxy(ProxyOptions.DIRECT).build())
            .getDescription());
  }

  /** OkHttp takes timeouts and ping intervals up to Integer.MAX_VALUE ms: the longest settings make a channel. */
  @Test
  void theLongestSettingsMakeAChannelThatConnects() throws Exception {
    String url = scripted(key -> "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    TunnelSettings longest = TunnelSettings.newBuilder()
        .handshakeTimeout(TunnelSettings.MAX_DURATION_MILLIS, TimeUnit.MILLISECONDS)
        .pingInterval(TunnelSettings.MAX_DURATION_MILLIS, TimeUnit.MILLISECONDS).build();
    assertEquals("expected HTTP 101 but was 403 Forbidden from " + url,
        callFails(OkHttpWebSocketOptions.newBuilder(url).settings(longest).build()).getDescription());
  }

  @Test
  void wrongPathOnTheTunnelServerQuotesItsRefusal() throws Exception {
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.newBuilder().build()).addService(new TestEcho()).build().start();
    toClose.add(() -> server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    String url = "ws://127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort() + "/wrong";
    assertEquals("expected HTTP 101 but was 404 Not Found from " + url + "; it said: \"no WebSocket endpoint at "
        + "/wrong\"", callFails(OkHttpWebSocketOptions.newBuilder(url).build()).getDescription());
  }

  @Test
  void wrongAcceptIsNamedWithTheExpectedValue() throws Exception {
    String url = scripted(key -> "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Accept: abc=\r\n\r\n");
    String d = callFails(OkHttpWebSocketOptions.newBuilder(url).build()).getDescription();
    assertTrue(d.startsWith("expected Sec-WebSocket-Accept '") && d.endsWith("' but was 'abc=' from " + url), d);
  }

  @Test
  void missingUpgradeHeaderIn101IsNamed() throws Exception {
    String url = scripted(key -> "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n");
    assertEquals("expected 'Upgrade: websocket' in the 101 but was missing from " + url,
        callFails(OkHttpWebSocketOptions.newBuilder(url).build()).getDescription());
  }

  /** OkHttp adds an offer of permessage-deflate; the tunnel takes it out, as the Netty client sends none. */
  @Test
  void theUpgradeRequestOnTheWireOffersNoExtension() throws Exception {
    CompletableFuture<String> head = new CompletableFuture<>();
    String url = scripted(key -> "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        head);
    callFails(OkHttpWebSocketOptions.newBuilder(url).build());
    String request = head.get(30, TimeUnit.SECONDS);
    String lower = request.toLowerCase(Locale.ROOT);
    assertTrue(lower.contains("\r\nsec-websocket-key: "), "expected an upgrade request but was:\n" + request);
    assertFalse(lower.contains("sec-websocket-extensions"),
        "expected no Sec-WebSocket-Extensions header but the request was:\n" + request);
  }

  @Test
  void aServerChoosingAnExtensionIsRefused() throws Exception {
    String url = scripted(key -> upgrade(key, "Sec-WebSocket-Extensions: permessage-deflate\r\n"
        + "Sec-WebSocket-Protocol: wsgrpc.v1\r\n"));
    assertEquals("expected no WebSocket extensions but the server chose 'permessage-deflate' from " + url,
        callFails(OkHttpWebSocketOptions.newBuilder(url).build()).getDescription());
  }

  @Test
  void aSubprotocolThatWasNotOfferedIsRefused() throws Exception {
    String url = scripted(key -> upgrade(key, "Sec-WebSocket-Protocol: chat\r\n"));
    assertEquals("expected a subprotocol among [wsgrpc.v1] but the server chose [chat] from " + url,
        callFails(OkHttpWebSocketOptions.newBuilder(url).build()).getDescription());
  }

  @Test
  void twoSubprotocolsChosenAreRefusedWithAnEchoedBearerTokenRedacted() throws Exception {
    String url = scripted(key -> upgrade(key, "Sec-WebSocket-Protocol: wsgrpc.v1, bearer.SECRET-TOKEN\r\n"));
    assertEquals("expected a subprotocol among [wsgrpc.v1] but the server chose [wsgrpc.v1, bearer.<redacted>] from "
        + url, callFails(OkHttpWebSocketOptions.newBuilder(url).bearerTokenSubprotocol("SECRET-TOKEN").build())
            .getDescription());
  }

  @Test
  void silentServerTimesOutWithTheHandshakeTimeout() throws Exception {
    String url = scripted(key -> null);
    assertEquals("WebSocket handshake with " + url + " timed out after 500 ms while waiting for the answer to the "
        + "upgrade request", callFails(OkHttpWebSocketOptions.newBuilder(url)
            .settings(TunnelSettings.newBuilder().handshakeTimeout(500, TimeUnit.MILLISECONDS).build()).build()).getDescription());
  }

  /**
   * grpc-okhttp waits for the socket factory and never interrupts it: a channel from newChannel gives the upgrade up
   * itself on shutdownNow, rather than at the end of the handshake timeout.
   */
  @Test
  void shutdownNowDuringTheUpgradeTerminatesAtOnceAndClosesTheSocket() throws Exception {
    CompletableFuture<String> head = new CompletableFuture<>();
    CompletableFuture<Void> closed = new CompletableFuture<>();
    String url = silentAfterTheRequest(head::complete, closed);
    ManagedChannel channel = OkHttpWebSocketChannels.newChannel(OkHttpWebSocketOptions.newBuilder(url)
        .settings(TunnelSettings.newBuilder().handshakeTimeout(30, TimeUnit.SECONDS).build()).build());
    toClose.add(() -> channel.shutdownNow().awaitTermination(60, TimeUnit.SECONDS));
    channel.getState(true);
    head.get(30, TimeUnit.SECONDS);
    channel.shutdownNow();
    assertTrue(channel.awaitTermination(5, TimeUnit.SECONDS), "not terminated 5 s after shutdownNow");
    closed.get(5, TimeUnit.SECONDS);
  }

  /**
   * After shutdownNow an upgrade still under way fails saying so, and a later one fails alike without dialling: the
   * server's next connection is the test's own fence, not a tunnel's.
   */
  @Test
  void anUpgradeGivenUpByShutdownNowSaysSo() throws Exception {
    BlockingQueue<String> heads = new LinkedBlockingQueue<>();
    CompletableFuture<Void> closed = new CompletableFuture<>();
    String url = silentAfterTheRequest(heads::add, closed);
    OkHttpWebSocketOptions options = OkHttpWebSocketOptions.newBuilder(url).proxy(ProxyOptions.DIRECT)
        .settings(TunnelSettings.newBuilder().handshakeTimeout(30, TimeUnit.SECONDS).build()).build();
    TunnelSocketFactory tunnels = new TunnelSocketFactory(options,
        new ProxyChooser(options, ProxySelector.getDefault(), name -> null));
    CompletableFuture<Socket> socket = connect(tunnels, options.port());
    assertTrue(heads.poll(30, TimeUnit.SECONDS).startsWith("GET /grpc "), "the upgrade request came");
    tunnels.shutdownNow();
    ExecutionException e = assertThrows(ExecutionException.class, () -> socket.get(5, TimeUnit.SECONDS));
    assertEquals("the channel was shut down during the WebSocket upgrade to " + url, e.getCause().getMessage());
    closed.get(5, TimeUnit.SECONDS);
    e = assertThrows(ExecutionException.class, () -> connect(tunnels, options.port()).get(5, TimeUnit.SECONDS));
    assertEquals("the channel was shut down during the WebSocket upgrade to " + url, e.getCause().getMessage());
    try (Socket fence = new Socket(InetAddress.getLoopbackAddress(), options.port())) {
      fence.getOutputStream().write("GET /fence HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      String next = heads.poll(30, TimeUnit.SECONDS);
      assertTrue(next.startsWith("GET /fence "), "expected no upgrade after shutdownNow but the server read " + next);
    }
  }

  private static CompletableFuture<Socket> connect(TunnelSocketFactory tunnels, int port) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return tunnels.createSocket(InetAddress.getLoopbackAddress(), port);
      } catch (IOException e) {
        throw new CompletionException(e);
      }
    });
  }

  /**
   * A server that hands {@code head} each request's head, answers nothing, and completes {@code closed} once a client
   * has closed its connection.
   */
  private String silentAfterTheRequest(Consumer<String> head, CompletableFuture<Void> closed) throws Exception {
    ScriptedHttpServer server = new ScriptedHttpServer((socket, requestHead) -> {
      head.accept(requestHead);
      try {
        while (socket.getInputStream().read() != -1) {
          // Silent until the client closes.
        }
      } finally {
        closed.complete(null);
      }
    });
    toClose.add(server);
    return "ws://127.0.0.1:" + server.port() + "/grpc";
  }

  @Test
  void refusedConnectionNamesTheUrl() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    String url = "ws://127.0.0.1:" + port + "/grpc";
    String d = callFails(OkHttpWebSocketOptions.newBuilder(url).build()).getDescription();
    assertTrue(d.startsWith("cannot connect to " + url + ": "), d);
    assertTrue(d.contains("Connection refused"), d);
  }

  @Test
  void untrustedCertificateFailsTheTlsHandshake() throws Exception {
    TestCertificates certs = TestCertificates.create();
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder()
                .tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem())).build())
        .addService(new TestEcho()).build().start();
    toClose.add(() -> server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    String url = "wss://localhost:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort() + "/grpc";
    String d = callFails(OkHttpWebSocketOptions.newBuilder(url).build()).getDescription();
    assertTrue(d.startsWith("TLS handshake with " + url + " failed: "), d);
  }

  /**
   * A relay-mode gateway without a reachable upstream answers 101 and closes 1013 before grpc-okhttp has seen the
   * server's SETTINGS: the call, still waiting for a ready connection, fails with the Close's code and reason.
   */
  @Test
  void aCloseRightAfterThe101NamesItsCodeAndReason() throws Exception {
    byte[] payload = concat(new byte[] {0x03, (byte) 0xf5}, // 1013
        "no upstream gRPC server reachable".getBytes(StandardCharsets.UTF_8));
    String close = new String(WireFrames.frameBytes(WireFrames.firstByte(true, 0, 8), payload, null),
        StandardCharsets.ISO_8859_1);
    String url = scripted(key -> upgrade(key, "") + close);
    assertEquals("WebSocket closed by " + url + " with 1013 (Try Again Later): no upstream gRPC server reachable",
        callFails(OkHttpWebSocketOptions.newBuilder(url).build()).getDescription());
  }

  /**
   * grpc-java may dial the next tunnel before the calls that the last one failed learn their status (they then
   * failed with grpc-okhttp's "End of stream or IOException"): while that newer upgrade is under way, the failure
   * the channel's calls are given is still the ended tunnel's.
   */
  @Test
  void aNewerTunnelStillUpgradingLeavesTheCallsTheFailureOfTheOneBefore() throws Exception {
    byte[] close = WireFrames.frameBytes(WireFrames.firstByte(true, 0, 8), concat(new byte[] {0x03, (byte) 0xf5},
        "no upstream gRPC server reachable".getBytes(StandardCharsets.UTF_8)), null); // 1013
    BlockingQueue<String> heads = new LinkedBlockingQueue<>();
    AtomicInteger upgrades = new AtomicInteger();
    ScriptedHttpServer server = new ScriptedHttpServer((socket, head) -> {
      heads.add(head);
      if (upgrades.incrementAndGet() == 1) {
        socket.getOutputStream().write(upgrade(ScriptedHttpServer.webSocketKey(head), "")
            .getBytes(StandardCharsets.ISO_8859_1));
        socket.getOutputStream().write(close);
        socket.getOutputStream().flush();
      } // the second upgrade gets no answer
      socket.getInputStream().transferTo(OutputStream.nullOutputStream());
    });
    toClose.add(server);
    String url = "ws://127.0.0.1:" + server.port() + "/grpc";
    OkHttpWebSocketOptions options = OkHttpWebSocketOptions.newBuilder(url).proxy(ProxyOptions.DIRECT).build();
    TunnelSocketFactory tunnels = new TunnelSocketFactory(options,
        new ProxyChooser(options, ProxySelector.getDefault(), name -> null));
    toClose.add(tunnels::shutdownNow);
    Socket first = connect(tunnels, options.port()).get(30, TimeUnit.SECONDS);
    toClose.add(first);
    String why = "WebSocket closed by " + url + " with 1013 (Try Again Later): no upstream gRPC server reachable";
    IOException ended = assertThrows(IOException.class, () -> first.getInputStream().read());
    assertEquals(why, ended.getMessage());
    CompletableFuture<Socket> next = connect(tunnels, options.port());
    heads.remove(); // the first tunnel's
    assertTrue(heads.poll(30, TimeUnit.SECONDS).startsWith("GET /grpc "), "the second upgrade request came");
    assertEquals(why, tunnels.latestFailureBeforeServerSettings().status().getDescription());
    tunnels.shutdownNow();
    assertThrows(ExecutionException.class, () -> next.get(30, TimeUnit.SECONDS));
  }

  /**
   * OkHttp asks again after a 503 with {@code Retry-After: 0}, on the same connection when the answer's body allows;
   * the stream that follows the server's frames had let the second answer's frames through unchecked (here a message
   * of 2^40 bytes, which OkHttp read until the call's deadline). The second request is refused before it is written.
   */
  @Test
  void aSecondRequestOnTheConnectionAfterA503IsRefused() throws Exception {
    BlockingQueue<String> secondHeads = new LinkedBlockingQueue<>();
    ScriptedHttpServer server = new ScriptedHttpServer((socket, head) -> {
      OutputStream out = socket.getOutputStream();
      out.write("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n"
          .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      String second = readHead(socket.getInputStream());
      if (second != null) {
        secondHeads.add(second);
        out.write(upgrade(ScriptedHttpServer.webSocketKey(second), "").getBytes(StandardCharsets.ISO_8859_1));
        out.write(new byte[] {(byte) 0x82, 9, 0, 0, 0, 0x4, 0, 0, 0, 0, 0}); // HTTP/2 SETTINGS
        out.write(new byte[] {(byte) 0x82, 127, 0, 0, 1, 0, 0, 0, 0, 0}); // a message of 2^40 bytes
        out.flush();
        socket.getInputStream().transferTo(OutputStream.nullOutputStream());
      }
    });
    toClose.add(server);
    String url = "ws://127.0.0.1:" + server.port() + "/grpc";
    Status status = callFails(OkHttpWebSocketOptions.newBuilder(url).build());
    assertEquals("WebSocket handshake with " + url + " failed: expected HTTP 101 but was 'HTTP/1.1 503 Service "
        + "Unavailable', after which OkHttp asked again on the same connection (as it does after a 503 with "
        + "Retry-After: 0): refused, a tunnel's connection carries one upgrade request", status.getDescription());
    assertTrue(secondHeads.isEmpty(), "no second request reached the server on its connection: " + secondHeads);
  }

  /** The head of the next request on {@code in}, without its empty line, or null at the end of the stream. */
  private static String readHead(InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    for (int b; (b = in.read()) != -1; ) {
      head.append((char) b);
      if (head.length() >= 4 && head.lastIndexOf("\r\n\r\n") == head.length() - 4) {
        return head.substring(0, head.length() - 4);
      }
    }
    return null;
  }

  /** A server that answers 101 and then says nothing: the call fails naming the missing Pong. */
  @Test
  void aServerSilentAfterThe101IsNamedByTheMissingPong() throws Exception {
    ScriptedHttpServer server = new ScriptedHttpServer((socket, head) -> {
      socket.getOutputStream().write(upgrade(ScriptedHttpServer.webSocketKey(head), "")
          .getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      InputStream in = socket.getInputStream();
      while (in.read() != -1) {
        // Silent: read the client's preface and pings, answer nothing.
      }
    });
    toClose.add(server);
    String url = "ws://127.0.0.1:" + server.port() + "/grpc";
    String d = callFails(OkHttpWebSocketOptions.newBuilder(url)
        .settings(TunnelSettings.newBuilder().pingInterval(300, TimeUnit.MILLISECONDS).build()).build())
        .getDescription();
    assertEquals("no WebSocket Pong arrived within 300 ms of a Ping: the server or a hop on the path has gone "
        + "silent (from " + url + ")", d);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @Test
  void aCertificatePinMismatchFailsTheConnect() throws Exception {
    TestCertificates certs = TestCertificates.create();
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
            WebSocketServerOptions.newBuilder()
                .tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem())).build())
        .addService(new TestEcho()).build().start();
    toClose.add(() -> server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    String url = "wss://localhost:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort() + "/grpc";
    String d = callFails(OkHttpWebSocketOptions.newBuilder(url)
        .tls(ClientTls.trusting(certs.caPem()).withCertificatePinner(new CertificatePinner.Builder()
            .add("localhost", "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").build()))
        .build()).getDescription();
    assertEquals("TLS handshake with " + url + " failed: certificate pinning failure: expected one of "
        + "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= but the server's chain had "
        + pinOf(certs.serverCertPem()) + ", " + pinOf(certs.caPem()), d);
  }

  /** The {@code sha256/...} pin of the first certificate in a PEM file. */
  private static String pinOf(File pem) throws Exception {
    try (InputStream in = new FileInputStream(pem)) {
      return CertificatePinner.pin((X509Certificate)
          CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
  }
}
