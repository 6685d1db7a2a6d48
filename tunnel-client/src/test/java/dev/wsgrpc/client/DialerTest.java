package dev.wsgrpc.client;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.InternalWebSocketClient.Step;
import dev.wsgrpc.client.InternalWebSocketClient.StepFailure;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.testing.UnansweredPort;
import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.Future;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The command-line tool's way in, {@link InternalWebSocketClient.Dialer}, over real loopback sockets against
 * scripted servers and proxies: it reports each step with its duration, and fails in the words channels use
 * (refusal bodies, proxy answers, the handshake deadline) because it runs the same handlers.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DialerTest {

  private static EventLoopGroup group;
  private static ExecutorService dns;

  @BeforeAll
  static void start() {
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    dns = Executors.newSingleThreadExecutor();
  }

  @AfterAll
  static void stop() throws InterruptedException {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
    dns.shutdownNow();
  }

  /** What one accepted connection does: reads and writes its socket's streams. */
  interface Script {
    void run(Scripted server, InputStream in, OutputStream out) throws IOException;
  }

  /** A loopback server that runs {@link Script} on each connection it accepts, one at a time. */
  static final class Scripted implements AutoCloseable {
    final ServerSocket socket;
    final BlockingQueue<String> heads = new LinkedBlockingQueue<>();

    Scripted(Script script) throws IOException {
      socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread t = new Thread(() -> {
        while (!socket.isClosed()) {
          try (Socket s = socket.accept()) {
            script.run(this, s.getInputStream(), s.getOutputStream());
            s.getOutputStream().flush();
            // Hold the connection until the client closes it.
            while (s.getInputStream().read() != -1) {
              // discard
            }
          } catch (IOException e) {
            // closed
          }
        }
      }, "scripted-server");
      t.setDaemon(true);
      t.start();
    }

    int port() {
      return socket.getLocalPort();
    }

    /** Reads one request head and keeps it for the test. */
    String readHead(InputStream in) throws IOException {
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      while (!head.toString(US_ASCII).endsWith("\r\n\r\n")) {
        int b = in.read();
        if (b < 0) {
          throw new IOException("closed");
        }
        head.write(b);
      }
      String text = head.toString(US_ASCII);
      heads.add(text);
      return text;
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  private static String header(String head, String name) {
    for (String line : head.split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith(name.toLowerCase(Locale.ROOT) + ":")) {
        return line.substring(name.length() + 1).trim();
      }
    }
    return null;
  }

  /** A 101 for {@code head}, with a 12 KiB header (within the library's 16 KiB, beyond Netty's default 8 KiB). */
  static byte[] accept(String head) {
    char[] big = new char[12 * 1024];
    java.util.Arrays.fill(big, 'x');
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Accept: " + Http11Tokens.acceptFor(header(head, "Sec-WebSocket-Key")) + "\r\n"
        + "Sec-WebSocket-Protocol: wsgrpc.v1\r\nServer: fake/1.0\r\nX-Padding: " + new String(big) + "\r\n\r\n")
        .getBytes(US_ASCII);
  }

  /** An unmasked binary frame carrying {@code text}, as a server sends it. */
  private static byte[] binaryFrame(String text) {
    byte[] payload = text.getBytes(US_ASCII);
    byte[] frame = new byte[2 + payload.length];
    frame[0] = (byte) 0x82;
    frame[1] = (byte) payload.length;
    System.arraycopy(payload, 0, frame, 2, payload.length);
    return frame;
  }

  /** The caller's handler: collects the tunnel's bytes as text, passes events on. */
  static final class Tail extends ChannelInboundHandlerAdapter {
    final BlockingQueue<String> bytes = new LinkedBlockingQueue<>();
    final BlockingQueue<Throwable> exceptions = new LinkedBlockingQueue<>();

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      exceptions.add(cause);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf buf = (ByteBuf) msg;
      bytes.add(buf.toString(US_ASCII));
      buf.release();
    }
  }

  /** A finished step as the listener heard it. */
  static final class Done {
    final Step step;
    final long nanos;
    final String detail;

    Done(Step step, long nanos, String detail) {
      this.step = step;
      this.nanos = nanos;
      this.detail = detail;
    }
  }

  private final List<Done> steps = Collections.synchronizedList(new ArrayList<>());
  private final Tail tail = new Tail();

  private Future<Channel> dial(WebSocketClientOptions options) throws Exception {
    Future<Channel> f = InternalWebSocketClient.newDialer(options, group, dns)
        .dial(tail, (step, nanos, detail) -> steps.add(new Done(step, nanos, detail)));
    assertTrue(f.await(30, TimeUnit.SECONDS), "the dial finished");
    return f;
  }

  private StepFailure failure(WebSocketClientOptions options) throws Exception {
    Future<Channel> f = dial(options);
    return assertInstanceOf(StepFailure.class, f.cause());
  }

  private List<Step> stepsDone() {
    List<Step> out = new ArrayList<>();
    for (Done d : steps) {
      out.add(d.step);
    }
    return out;
  }

  private String detail(Step step) {
    for (Done d : steps) {
      if (d.step == step) {
        return d.detail;
      }
    }
    throw new AssertionError("no " + step + " step in " + stepsDone());
  }

  /** A server or proxy that reads a request head and answers with {@code response}. */
  private static Scripted answering(String response) throws IOException {
    return new Scripted((self, in, out) -> {
      self.readHead(in);
      out.write(response.getBytes(US_ASCII));
    });
  }

  /** Options for {@code ws://backend.example:8080/grpc} through {@code proxy}. */
  private static WebSocketClientOptions.Builder throughProxy(Scripted proxy) {
    return WebSocketClientOptions.newBuilder("ws://backend.example:8080/grpc")
        .proxy(ProxyOptions.of("127.0.0.1", proxy.port()));
  }

  private static WebSocketClientOptions.Builder direct(int port) {
    return WebSocketClientOptions.newBuilder("ws://127.0.0.1:" + port + "/grpc").proxy(ProxyOptions.DIRECT);
  }

  @Test
  void reportsEachStepWithItsDurationThenHandsTheBytesAfterThe101ToTheCallersHandler() throws Exception {
    try (Scripted server = new Scripted((self, in, out) -> {
      String head = self.readHead(in);
      // The 101 and the first frame in one write: the frame must reach the caller's handler, not the HTTP codec.
      ByteArrayOutputStream both = new ByteArrayOutputStream();
      both.write(accept(head));
      both.write(binaryFrame("hello"));
      out.write(both.toByteArray());
    })) {
      Future<Channel> f = dial(direct(server.port()).build());
      assertTrue(f.isSuccess(), String.valueOf(f.cause()));
      assertEquals(List.of(Step.DNS, Step.TCP, Step.UPGRADE), stepsDone());
      for (Done d : steps) {
        assertTrue(d.nanos >= 0, d.step + " has a duration");
      }
      assertEquals("127.0.0.1 -> 127.0.0.1", detail(Step.DNS));
      assertEquals("connected to 127.0.0.1:" + server.port(), detail(Step.TCP));
      assertEquals("101 Switching Protocols, subprotocol wsgrpc.v1, Server: fake/1.0", detail(Step.UPGRADE));
      assertEquals("hello", tail.bytes.poll(30, TimeUnit.SECONDS));
      String head = server.heads.take();
      assertTrue(head.startsWith("GET /grpc HTTP/1.1\r\n"), head);
      assertTrue(header(head, "User-Agent").startsWith("wsgrpc-java/"), "the request channels send:\n" + head);
      f.getNow().close().await(10, TimeUnit.SECONDS);
    }
  }

  /**
   * {@code wsgrpc-cli forward} carries h2c, whose server speaks first: a server silent after its 101 ends the tunnel
   * at the ping timeout, in the words channels use, rather than after the keepalive's interval and timeout (45 s).
   */
  @Test
  void aServerSilentAfterThe101EndsTheTunnelAtThePingTimeout() throws Exception {
    try (Scripted server = new Scripted((self, in, out) -> out.write(accept(self.readHead(in))))) {
      Future<Channel> f = dial(direct(server.port())
          .settings(TunnelSettings.newBuilder().pingTimeout(Duration.ofMillis(300)).build()).build());
      assertTrue(f.isSuccess(), String.valueOf(f.cause()));
      assertTrue(f.getNow().closeFuture().await(30, TimeUnit.SECONDS), "the tunnel ended");
      Status status = Status.fromThrowable(tail.exceptions.poll(30, TimeUnit.SECONDS));
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
      assertEquals("expected the server's HTTP/2 SETTINGS within 300ms of the WebSocket upgrade (101) but they did not "
          + "arrive (from ws://127.0.0.1:" + server.port() + "/grpc; sent close 1001 (Going Away))",
          status.getDescription());
    }
  }

  /** A server that chose the {@code bearer.<token>} offer: the step's detail shows it as the options show it. */
  @Test
  void theChosenBearerSubprotocolIsReportedWithItsTokenRedacted() throws Exception {
    try (Scripted server = new Scripted((self, in, out) -> {
      String head = self.readHead(in);
      out.write(new String(accept(head), US_ASCII)
          .replace("Sec-WebSocket-Protocol: wsgrpc.v1", "Sec-WebSocket-Protocol: bearer.SECRET-TOKEN")
          .getBytes(US_ASCII));
    })) {
      Future<Channel> f = dial(direct(server.port()).subprotocols("bearer.SECRET-TOKEN").build());
      assertTrue(f.isSuccess(), String.valueOf(f.cause()));
      assertEquals("101 Switching Protocols, subprotocol bearer.<redacted>, Server: fake/1.0", detail(Step.UPGRADE));
      f.getNow().close().await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aRefusalIsReportedWithItsPlainTextBodyAndTheServerThatAnswered() throws Exception {
    try (Scripted server = new Scripted((self, in, out) -> {
      self.readHead(in);
      out.write(("HTTP/1.1 403 Forbidden\r\nServer: fake/1.0\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n"
          + "\r\ntoken expired\n").getBytes(US_ASCII));
    })) {
      StepFailure e = failure(direct(server.port()).build());
      assertEquals(Step.UPGRADE, e.step());
      assertEquals("upgrade: expected HTTP 101 but was 403 Forbidden from ws://127.0.0.1:" + server.port()
          + "/grpc (Server: fake/1.0); it said: \"token expired\" [hop: fake/1.0 at 127.0.0.1:" + server.port() + "]",
          e.oneLine());
      assertEquals(List.of(Step.DNS, Step.TCP), stepsDone());
    }
  }

  @Test
  void aPlainTextAnswerToTheTlsHandshakeIsQuotedNotDumpedInHex() throws Exception {
    try (Scripted server = new Scripted((self, in, out) -> {
      in.read(); // the ClientHello, as a ws:// server reads it: not an HTTP request
      out.write(("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nbad request\n")
          .getBytes(US_ASCII));
    })) {
      StepFailure e = failure(WebSocketClientOptions.newBuilder("wss://127.0.0.1:" + server.port() + "/grpc")
          .proxy(ProxyOptions.DIRECT).build());
      assertEquals("tls: TLS handshake with wss://127.0.0.1:" + server.port() + "/grpc failed: expected a TLS record "
          + "but the server answered in plain text: \"HTTP/1.1 400 Bad Request\" (a ws:// port?) [hop: 127.0.0.1:"
          + server.port() + "]", e.oneLine());
    }
    assertEquals("expected a TLS record but the server's answer was not TLS",
        ClientTlsHandler.reason(new io.netty.handler.ssl.NotSslRecordException("not an SSL/TLS record: 00ff0a41")));
  }

  @Test
  void aSilentServerFailsTheUpgradeAtTheHandshakeDeadline() throws Exception {
    try (Scripted server = new Scripted((self, in, out) -> self.readHead(in))) {
      StepFailure e = failure(direct(server.port())
          .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMillis(300)).build()).build());
      assertEquals("upgrade: WebSocket handshake with ws://127.0.0.1:" + server.port() + "/grpc timed out after "
          + "300 ms while waiting for the answer to the upgrade request [hop: 127.0.0.1:" + server.port() + "]",
          e.oneLine());
    }
  }

  /**
   * A TLS handshake may take the whole handshake timeout: Netty's own limit of 10 s ended it first, in Netty's words
   * ("handshake timed out after 10000ms"), whatever {@code handshakeTimeout} said.
   */
  @Test
  void aTlsHandshakeMayTakeTheWholeHandshakeTimeoutNotNettys10Seconds() throws Exception {
    try (Scripted server = new Scripted((self, in, out) -> in.read())) { // reads the ClientHello, answers nothing
      long start = System.nanoTime();
      StepFailure e = failure(WebSocketClientOptions.newBuilder("wss://127.0.0.1:" + server.port() + "/grpc")
          .proxy(ProxyOptions.DIRECT)
          .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(11)).build()).build());
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertEquals("tls: WebSocket handshake with wss://127.0.0.1:" + server.port() + "/grpc timed out after 11000 ms "
          + "while waiting for the TLS handshake [hop: 127.0.0.1:" + server.port() + "]", e.oneLine());
      assertTrue(millis >= 10_900, "ended after " + millis + " ms");
    }
  }

  /** A CDN edge refusing the SNI, or a proxy that passed the CONNECT and dropped the tunnel, may close so. */
  @Test
  void aConnectionClosedDuringTlsIsSaidSoNotInNettysWords() throws Exception {
    try (Scripted server = new Scripted((self, in, out) -> {
      throw new IOException("closes at once");
    })) {
      StepFailure e = failure(WebSocketClientOptions.newBuilder("wss://127.0.0.1:" + server.port() + "/grpc")
          .proxy(ProxyOptions.DIRECT).build());
      assertEquals("tls: TLS handshake with wss://127.0.0.1:" + server.port() + "/grpc failed: the connection was "
          + "closed before it completed [hop: 127.0.0.1:" + server.port() + "]", e.oneLine());
    }
  }

  @Test
  void aLookupTheExecutorRefusesFailsTheDnsStepAtOnce() throws Exception {
    Future<Channel> f = InternalWebSocketClient.newDialer(direct(1).build(), group, task -> {
      throw new java.util.concurrent.RejectedExecutionException("4 name lookups under way");
    }).dial(tail, (step, nanos, detail) -> steps.add(new Done(step, nanos, detail)));

    assertTrue(f.isDone(), "failed, not left pending");
    StepFailure e = assertInstanceOf(StepFailure.class, f.cause());
    assertEquals("dns: cannot resolve 127.0.0.1 now: 4 name lookups under way", e.oneLine());
    assertEquals(List.of(), stepsDone());
  }

  /**
   * A burst of dials while the name server is slow: each waits for the one lookup under way, instead of taking a
   * place of its own in a bounded executor (where, past its queue, dials failed at the DNS step however fast the
   * name server was). The next dial after it looks the name up again.
   */
  @Test
  void dialsThatStartDuringALookupShareItAndTheNextDialLooksUpAgain() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    java.util.concurrent.atomic.AtomicInteger lookups = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.CountDownLatch slow = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.ThreadPoolExecutor oneAtATime = new java.util.concurrent.ThreadPoolExecutor(1, 1, 0,
        TimeUnit.SECONDS, new java.util.concurrent.ArrayBlockingQueue<>(1));
    try {
      InternalWebSocketClient.Dialer dialer = InternalWebSocketClient.newDialer(direct(closed).build(), group,
          oneAtATime, host -> {
            lookups.incrementAndGet();
            try {
              slow.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            return new InetAddress[] {InetAddress.getLoopbackAddress()};
          });
      List<Future<Channel>> dials = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        dials.add(dialer.dial(new Tail(), (step, nanos, detail) -> { }));
      }
      slow.countDown();
      for (Future<Channel> f : dials) {
        assertTrue(f.await(30, TimeUnit.SECONDS), "the dial finished");
        assertEquals(Step.TCP, ((StepFailure) f.cause()).step(), f.cause().toString());
      }
      assertEquals(1, lookups.get(), "one lookup for the burst");
      Future<Channel> next = dialer.dial(new Tail(), (step, nanos, detail) -> { });
      assertTrue(next.await(30, TimeUnit.SECONDS));
      assertEquals(2, lookups.get(), "a dial after it looks up again");
    } finally {
      slow.countDown();
      oneAtATime.shutdownNow();
    }
  }

  /**
   * A name server that does not answer: the JDK's lookup has no time limit, so the dial fails at the DNS step at the
   * handshake timeout, saying so, rather than wait for as long as the resolver does. The lookup's late answer is no
   * use to that dial (it does not connect), and the dialer goes on with the next.
   */
  @Test
  void aLookupWithoutAnAnswerFailsTheDialAtTheHandshakeTimeout() throws Exception {
    java.util.concurrent.CountDownLatch answer = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch answered = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger connects = new java.util.concurrent.atomic.AtomicInteger();
    try (ServerSocket listening = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      InternalWebSocketClient.Dialer dialer = InternalWebSocketClient.newDialer(direct(listening.getLocalPort())
          .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMillis(1000)).build()).build(), group,
          dns, host -> {
            try {
              answer.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            answered.countDown();
            return new InetAddress[] {InetAddress.getLoopbackAddress()};
          });
      Future<Channel> f = dialer.dial(new Tail(), (step, nanos, detail) -> connects.incrementAndGet());
      assertTrue(f.await(30, TimeUnit.SECONDS), "failed, not left waiting for the name server");
      StepFailure e = (StepFailure) f.cause();
      assertEquals(Step.DNS, e.step());
      assertTrue(e.oneLine().startsWith("dns: cannot resolve 127.0.0.1: no answer within 1000 ms"), e.oneLine());
      answer.countDown();
      assertTrue(answered.await(30, TimeUnit.SECONDS)); // the next dial's DNS step is not timed on a busy machine
      Future<Channel> next = dialer.dial(new Tail(), (step, nanos, detail) -> { });
      assertTrue(next.await(30, TimeUnit.SECONDS));
      assertEquals(Step.UPGRADE, ((StepFailure) next.cause()).step(), "resolved and connected: the server is silent");
      assertEquals(0, connects.get(), "the dial that timed out took no step after its lookup answered");
    }
  }

  /** A lookup that fails unexpectedly fails the dials that waited for it, and the next dial looks up again. */
  @Test
  void aLookupThatThrowsFailsItsDialsAndDoesNotWedgeTheDialer() throws Exception {
    java.util.concurrent.atomic.AtomicInteger lookups = new java.util.concurrent.atomic.AtomicInteger();
    InternalWebSocketClient.Dialer dialer = InternalWebSocketClient.newDialer(direct(1).build(), group, dns, host -> {
      if (lookups.incrementAndGet() == 1) {
        throw new IllegalStateException("a resolver that broke");
      }
      return new InetAddress[] {InetAddress.getLoopbackAddress()};
    });
    Future<Channel> first = dialer.dial(new Tail(), (step, nanos, detail) -> { });
    assertTrue(first.await(30, TimeUnit.SECONDS), "failed, not left pending");
    assertEquals(Step.DNS, ((StepFailure) first.cause()).step());
    Future<Channel> second = dialer.dial(new Tail(), (step, nanos, detail) -> { });
    assertTrue(second.await(30, TimeUnit.SECONDS));
    assertEquals(Step.TCP, ((StepFailure) second.cause()).step(), "resolved this time: port 1 refuses");
  }

  /** forward dials each tunnel on its local connection's loop, so that a relay hands nothing between threads. */
  @Test
  void aDialOnAGivenLoopOpensItsTunnelThere() throws Exception {
    EventLoopGroup four = new MultiThreadIoEventLoopGroup(4, NioIoHandler.newFactory());
    try (Scripted server = new Scripted((self, in, out) -> out.write(accept(self.readHead(in))))) {
      io.netty.channel.EventLoop loop = four.next(); // the group's own choice would be the next one
      Future<Channel> f = InternalWebSocketClient.newDialer(direct(server.port()).build(), four, dns)
          .dial(tail, (step, nanos, detail) -> { }, loop);
      assertTrue(f.await(30, TimeUnit.SECONDS), "the dial finished");
      assertTrue(f.isSuccess(), String.valueOf(f.cause()));
      org.junit.jupiter.api.Assertions.assertSame(loop, f.getNow().eventLoop());
      f.getNow().close().await(10, TimeUnit.SECONDS);
    } finally {
      four.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aClosedPortFailsTheTcpStepNamingTheAddress() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    StepFailure e = failure(direct(closed).build());
    assertEquals(Step.TCP, e.step());
    assertTrue(e.oneLine().startsWith("tcp: cannot connect to 127.0.0.1:" + closed + ": "), e.oneLine());
    assertTrue(e.oneLine().endsWith(" [hop: 127.0.0.1:" + closed + "]"), e.oneLine());
  }

  private Future<Channel> dial(WebSocketClientOptions options, InetAddress... addresses) throws Exception {
    Future<Channel> f = InternalWebSocketClient.newDialer(options, group, dns, host -> addresses.clone())
        .dial(tail, (step, nanos, detail) -> steps.add(new Done(step, nanos, detail)));
    assertTrue(f.await(30, TimeUnit.SECONDS), "the dial finished");
    return f;
  }

  /**
   * A name whose first address does not answer: the next is tried beside it after 250 ms (RFC 8305), not once the
   * first has used up the handshake timeout (here 20 s, twice what the test allows).
   */
  @Test
  void anAddressThatDoesNotAnswerIsJoinedByTheNextWithoutWaitingTheTimeout() throws Exception {
    InetAddress silent = InetAddress.getByAddress(new byte[] {127, 0, 0, 2});
    try (Scripted server = new Scripted((self, in, out) -> out.write(accept(self.readHead(in))));
        UnansweredPort dead = new UnansweredPort(silent, server.port())) {
      long start = System.nanoTime();
      Future<Channel> f = dial(WebSocketClientOptions.newBuilder("ws://dual.example:" + server.port() + "/grpc")
          .proxy(ProxyOptions.DIRECT)
          .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(20)).build()).build(),
          silent, InetAddress.getLoopbackAddress());
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertTrue(f.isSuccess(), String.valueOf(f.cause()));
      assertTrue(millis < 10_000, "took " + millis + " ms: waited for the silent address");
      assertEquals(List.of(Step.DNS, Step.TCP, Step.UPGRADE), stepsDone());
      assertEquals("dual.example -> 127.0.0.2, 127.0.0.1", detail(Step.DNS));
      assertEquals("connected to 127.0.0.1:" + server.port(), detail(Step.TCP));
      assertEquals(1, server.heads.size(), "one upgrade request, on the connection that won");
      f.getNow().close().await(10, TimeUnit.SECONDS);
    }
  }

  /** Every address silent: the TCP step ends at the handshake timeout for all of them, naming each. */
  @Test
  void whenNoAddressAnswersTheTcpStepEndsAtTheHandshakeTimeoutNamingEach() throws Exception {
    InetAddress first = InetAddress.getByAddress(new byte[] {127, 0, 0, 2});
    InetAddress second = InetAddress.getByAddress(new byte[] {127, 0, 0, 3});
    try (UnansweredPort one = new UnansweredPort(first, 0);
        UnansweredPort two = new UnansweredPort(second, one.port())) {
      int port = one.port();
      long start = System.nanoTime();
      Future<Channel> f = dial(WebSocketClientOptions.newBuilder("ws://dual.example:" + port + "/grpc")
          .proxy(ProxyOptions.DIRECT)
          .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(3)).build()).build(),
          first, second);
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      StepFailure e = assertInstanceOf(StepFailure.class, f.cause());
      assertEquals("tcp: cannot connect to 127.0.0.2:" + port + ": no answer within 3000 ms; 127.0.0.3:" + port
          + ": no answer within 3000 ms [hop: every address of dual.example]", e.oneLine());
      assertTrue(millis < 5_500, "took " + millis + " ms: the timeout once per address, not once in all");
      assertEquals(List.of(Step.DNS), stepsDone());
    }
  }

  /** Addresses the timeout left no time for are counted in the failure, not passed over in silence. */
  @Test
  void addressesNotTriedWithinTheTimeoutAreCounted() throws Exception {
    InetAddress first = InetAddress.getByAddress(new byte[] {127, 0, 0, 2});
    InetAddress second = InetAddress.getByAddress(new byte[] {127, 0, 0, 3});
    InetAddress third = InetAddress.getByAddress(new byte[] {127, 0, 0, 4});
    try (UnansweredPort one = new UnansweredPort(first, 0);
        UnansweredPort two = new UnansweredPort(second, one.port())) {
      int port = one.port();
      // 400 ms: the first address at once, the second after 250 ms, no time for the third.
      Future<Channel> f = dial(WebSocketClientOptions.newBuilder("ws://three.example:" + port + "/grpc")
          .proxy(ProxyOptions.DIRECT)
          .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMillis(400)).build()).build(),
          first, second, third);
      StepFailure e = assertInstanceOf(StepFailure.class, f.cause());
      assertEquals("tcp: cannot connect to 127.0.0.2:" + port + ": no answer within 400 ms; 127.0.0.3:" + port
          + ": no answer within 400 ms; 1 more address not tried in that time [hop: every address of three.example]",
          e.oneLine());
    }
  }

  /** An address that refuses has the next tried at once, and the reasons of all that failed are given. */
  @Test
  void anAddressThatRefusesIsFollowedByTheNextAndEveryReasonIsGiven() throws Exception {
    InetAddress first = InetAddress.getByAddress(new byte[] {127, 0, 0, 2});
    InetAddress second = InetAddress.getByAddress(new byte[] {127, 0, 0, 3});
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, first)) {
      closed = s.getLocalPort();
    }
    Future<Channel> f = dial(WebSocketClientOptions.newBuilder("ws://dual.example:" + closed + "/grpc")
        .proxy(ProxyOptions.DIRECT).build(), first, second);
    StepFailure e = assertInstanceOf(StepFailure.class, f.cause());
    assertTrue(e.oneLine().matches("tcp: cannot connect to 127\\.0\\.0\\.2:" + closed + ": [^;]+; 127\\.0\\.0\\.3:"
        + closed + ": [^;]+ \\[hop: every address of dual\\.example\\]"), e.oneLine());
  }

  @Test
  void aProxyRefusalIsReportedInTheWordsChannelsUse() throws Exception {
    try (Scripted proxy = new Scripted((self, in, out) -> {
      self.readHead(in);
      out.write("HTTP/1.1 407 Proxy Authentication Required\r\nServer: fakeproxy/2.0\r\nContent-Length: 0\r\n\r\n"
          .getBytes(US_ASCII));
    })) {
      StepFailure e = failure(WebSocketClientOptions.newBuilder("ws://backend.example:8080/grpc")
          .proxy(ProxyOptions.of("127.0.0.1", proxy.port())).build());
      assertEquals(Step.PROXY, e.step());
      String named = "HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option)";
      assertEquals("proxy: " + named + " answered CONNECT backend.example:8080 with 407 Proxy Authentication "
          + "Required (Server: fakeproxy/2.0): the proxy wants credentials and none were given [hop: " + named + "]",
          e.oneLine());
      assertEquals(List.of(Step.DNS, Step.TCP), stepsDone());
      assertEquals("127.0.0.1 -> 127.0.0.1", detail(Step.DNS), "the proxy's host is resolved, not the target's");
      assertTrue(proxy.heads.take().startsWith("CONNECT backend.example:8080 HTTP/1.1\r\n"));
    }
  }

  @Test
  void aProxysReasonPhraseIsQuotedInPrintableAscii() throws Exception {
    try (Scripted proxy = answering("HTTP/1.1 407 \u001b[2JProxy Authentication Required\r\n"
        + "Server: fakeproxy/2.0\r\nContent-Length: 0\r\n\r\n")) {
      StepFailure e = failure(throughProxy(proxy).build());
      String named = "HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option)";
      assertEquals("proxy: " + named + " answered CONNECT backend.example:8080 with 407 ?[2JProxy Authentication "
          + "Required (Server: fakeproxy/2.0): the proxy wants credentials and none were given [hop: " + named + "]",
          e.oneLine());
    }
  }

  /** A proxy that takes the connection and never answers the CONNECT: the handshake timeout, not Netty's 10 s. */
  @Test
  void aSilentProxyFailsTheProxyStepAtTheHandshakeTimeout() throws Exception {
    try (Scripted proxy = new Scripted((self, in, out) -> self.readHead(in))) {
      long start = System.nanoTime();
      StepFailure e = failure(throughProxy(proxy)
          .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMillis(300)).build()).build());
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      String named = "HTTP proxy 127.0.0.1:" + proxy.port() + " (from the proxy option)";
      assertEquals("proxy: " + named + " did not answer CONNECT backend.example:8080 in time [hop: " + named + "]",
          e.oneLine());
      assertTrue(millis < 5000, "failed after " + millis + " ms");
    }
  }

  @Test
  void throughAProxyTheUpgradeFollowsTheConnect() throws Exception {
    try (Scripted proxy = new Scripted((self, in, out) -> {
      self.readHead(in);
      out.write("HTTP/1.1 200 Connection established\r\n\r\n".getBytes(US_ASCII));
      out.flush();
      out.write(accept(self.readHead(in)));
    })) {
      Future<Channel> f = dial(WebSocketClientOptions.newBuilder("ws://backend.example:8080/grpc")
          .proxy(ProxyOptions.of("127.0.0.1", proxy.port())).build());
      assertTrue(f.isSuccess(), String.valueOf(f.cause()));
      assertEquals(List.of(Step.DNS, Step.TCP, Step.PROXY, Step.UPGRADE), stepsDone());
      assertEquals("CONNECT backend.example:8080 through HTTP proxy 127.0.0.1:" + proxy.port()
          + " (from the proxy option): established", detail(Step.PROXY));
      proxy.heads.take();
      String upgrade = proxy.heads.take();
      assertEquals("backend.example:8080", header(upgrade, "Host"), upgrade);
      f.getNow().close().await(10, TimeUnit.SECONDS);
    }
  }
}
