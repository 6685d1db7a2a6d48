package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.PlainHttpHandler;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.Server;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.Collector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The admin listener on a real loopback socket: what it answers, and that it ends bad or idle connections quietly. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AdminServerTest {

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final AtomicBoolean draining = new AtomicBoolean();
  private final HealthAndMetrics http = new HealthAndMetrics(registry, draining::get, true);
  private AdminServer admin;

  @BeforeEach
  void start() throws IOException {
    Counter.builder().name("wsgrpc_tunnels_total").help("Tunnels opened").register(registry).inc();
    admin = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), http, Set.of());
  }

  @AfterEach
  void stop() {
    admin.close();
    http.close();
  }

  @Test
  void closingTwiceIsHarmless() {
    admin.close();
    admin.close(); // and stop() closes it a third time
  }

  /** A collector that notes the thread rendering it and, there only, waits for {@code go}. */
  private static Collector slow(List<String> threads, CountDownLatch rendering, CountDownLatch go) {
    Gauge gauge = Gauge.builder().name("test_slow").help("Waits").build();
    return () -> {
      threads.add(Thread.currentThread().getName());
      rendering.countDown();
      if (Thread.currentThread().getName().equals(HealthAndMetrics.THREAD)) {
        try {
          assertTrue(go.await(30, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return gauge.collect();
    };
  }

  /** Sends {@code request} raw and reads until the server closes the connection. */
  private String exchange(String request) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", admin.address().getPort())) {
      socket.setSoTimeout(30_000);
      socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      return readAll(socket.getInputStream());
    }
  }

  private static String readAll(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    in.transferTo(out);
    return out.toString(StandardCharsets.ISO_8859_1);
  }

  private static String get(String path) {
    return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  }

  @Test
  void servesHealthzAndMetrics() throws IOException {
    String health = exchange(get("/healthz"));
    assertTrue(health.startsWith("HTTP/1.1 200 OK\r\n"), health);
    assertTrue(health.endsWith("\r\n\r\nserving\n"), health);
    String metrics = exchange(get("/metrics"));
    assertTrue(metrics.startsWith("HTTP/1.1 200 OK\r\n"), metrics);
    assertTrue(metrics.contains("\nwsgrpc_tunnels_total 1.0\n"), metrics);
  }

  /**
   * DNS rebinding: a web page whose own name is re-resolved to the listener's address makes its visitor's browser
   * send requests that carry the page's name in Host, and may read the answers. They get 421 saying what was expected;
   * the listener answered them 200 with the metrics.
   */
  @Test
  void aRequestForAnotherNameIs421SayingWhatWasExpected() throws IOException {
    int port = admin.address().getPort();
    for (String path : new String[] {"/metrics", "/healthz"}) {
      String rebound = exchange("GET " + path + " HTTP/1.1\r\nHost: rebind.example:" + port
          + "\r\nConnection: close\r\n\r\n");
      assertTrue(rebound.startsWith("HTTP/1.1 421 Misdirected Request\r\n"), rebound);
      assertTrue(rebound.endsWith("\r\n\r\nexpected a Host that is an IP address, localhost or a name "
          + "--admin-hosts lists but was 'rebind.example:" + port + "'\n"), rebound);
    }
    // And the listener still answers its own names.
    assertTrue(exchange(get("/healthz")).startsWith("HTTP/1.1 200 OK\r\n"));
  }

  @Test
  void ipAddressesLocalhostAndListedNamesAreAnsweredWithOrWithoutAPort() throws IOException {
    AdminServer named = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), http, Set.of("wsgrpc-gateway"));
    try (Socket socket = new Socket("127.0.0.1", named.address().getPort())) {
      socket.setSoTimeout(30_000);
      String[] hosts = {"127.0.0.1", "127.0.0.1:9090", "10.1.2.3:9090", "[::1]", "[::1]:9090", "localhost",
          "LocalHost:9090", "prometheus.localhost:1", "wsgrpc-gateway", "WSGRPC-Gateway:9090"};
      StringBuilder requests = new StringBuilder();
      for (String host : hosts) {
        requests.append("GET /healthz HTTP/1.1\r\nHost: ").append(host).append("\r\n\r\n");
      }
      requests.append(get("/healthz"));
      socket.getOutputStream().write(requests.toString().getBytes(StandardCharsets.ISO_8859_1));
      String answers = readAll(socket.getInputStream());
      assertEquals(hosts.length + 1, answers.split("HTTP/1.1 200 OK", -1).length - 1, answers);
    } finally {
      named.close();
    }
    assertTrue(exchange("GET /healthz HTTP/1.1\r\nHost: wsgrpc-gateway\r\nConnection: close\r\n\r\n")
        .startsWith("HTTP/1.1 421 "), "a name the listener was not given");
  }

  @Test
  void hostsThatAreNotAnAddressOrAListedNameAreRefusedQuotedPrintableAndCapped() {
    Set<String> listed = Set.of("wsgrpc-gateway");
    String expected = "expected a Host that is an IP address, localhost or a name --admin-hosts lists but was ";
    for (String host : new String[] {"rebind.example", "wsgrpc-gateway.rebind.example", "localhost.rebind.example",
        "127.0.0.1.rebind.example", "::1", "[::1", "[::1]:x", "[rebind.example]", "127.0.0.1:", "127.0.0.1:port",
        "localhost:9090:9090", "127.1", ""}) {
      assertEquals(expected + "'" + host + "'", AdminServer.hostRefusal(host, listed), host);
    }
    assertEquals(expected + "'a?" + "b".repeat(62) + "...'",
        AdminServer.hostRefusal("a\u0001" + "b".repeat(100), listed));
    assertNull(AdminServer.hostRefusal(" 127.0.0.1:80 ", listed));
  }

  /** Browsers always send Host: a request without one is no page's, and HTTP/1.0 needs none; HTTP/1.1 does. */
  @Test
  void withoutHostHttp10IsAnsweredAndHttp11Is400() throws IOException {
    String old = exchange("GET /metrics HTTP/1.0\r\n\r\n");
    assertTrue(old.startsWith("HTTP/1.1 200 OK\r\n"), old);
    String missing = exchange("GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
    assertTrue(missing.startsWith("HTTP/1.1 400 Bad Request\r\n"), missing);
    assertTrue(missing.endsWith("\r\n\r\nexpected a Host header (HTTP/1.1 requires one)\n"), missing);
    String twice = exchange("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: rebind.example\r\n"
        + "Connection: close\r\n\r\n");
    assertTrue(twice.startsWith("HTTP/1.1 400 Bad Request\r\n"), twice);
    assertTrue(twice.endsWith("\r\n\r\nexpected one Host header but there were 2\n"), twice);
  }

  @Test
  void healthzAnswers503WhileDraining() throws IOException {
    draining.set(true);
    String health = exchange(get("/healthz"));
    assertTrue(health.startsWith("HTTP/1.1 503 Service Unavailable\r\n"), health);
    assertTrue(health.endsWith("draining\n"), health);
  }

  @Test
  void anythingElseIs404SayingWhatIsServed() throws IOException {
    String other = exchange(get("/grpc"));
    assertTrue(other.startsWith("HTTP/1.1 404 Not Found\r\n"), other);
    assertTrue(other.endsWith("not found: this admin port serves GET /healthz and GET /metrics\n"), other);
    String post = exchange("POST /grpc HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close"
        + "\r\n\r\n");
    assertTrue(post.startsWith("HTTP/1.1 404 Not Found\r\n"), post);
  }

  @Test
  void anotherMethodOnAServedPathIs405WithAllow() throws IOException {
    for (String path : new String[] {"/healthz", "/metrics"}) {
      String post = exchange("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n"
          + "Connection: close\r\n\r\n");
      assertTrue(post.startsWith("HTTP/1.1 405 Method Not Allowed\r\n"), post);
      assertTrue(post.toLowerCase().contains("\r\nallow: get, head\r\n"), post);
      assertTrue(post.endsWith(path + " answers GET and HEAD, not POST\n"), post);
    }
    FullHttpResponse put = http.withoutMetrics().handle(
        new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.PUT, "/healthz?x=1"), null, ByteBufAllocator.DEFAULT);
    try {
      assertEquals(405, put.status().code());
    } finally {
      put.release();
    }
  }

  @Test
  void keepAliveServesOneScrapeAfterAnother() throws IOException {
    try (Socket socket = new Socket("127.0.0.1", admin.address().getPort())) {
      socket.setSoTimeout(30_000);
      String twice = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n" + get("/healthz");
      socket.getOutputStream().write(twice.getBytes(StandardCharsets.ISO_8859_1));
      String answers = readAll(socket.getInputStream());
      assertEquals(2, answers.split("HTTP/1.1 200 OK", -1).length - 1, answers);
    }
  }

  /**
   * Each connection holds a file descriptor, which the public port's tunnels need too: past {@value
   * AdminServer#MAX_CONNECTIONS} open at once, one more is answered 503 saying so and closed, without its request being
   * parsed; once one closes, the next is served. Without the cap every one was held (each idle one for 60 s).
   */
  @Test
  void connectionsPastTheCapAre503AndClosedAndOneClosingMakesRoom() throws IOException {
    List<Socket> held = new ArrayList<>();
    try {
      for (int i = 0; i < AdminServer.MAX_CONNECTIONS; i++) {
        Socket socket = new Socket("127.0.0.1", admin.address().getPort());
        held.add(socket);
        socket.setSoTimeout(30_000);
        // Answered, so accepted and counted.
        socket.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
            .getBytes(StandardCharsets.ISO_8859_1));
        byte[] first = new byte[17];
        new java.io.DataInputStream(socket.getInputStream()).readFully(first);
        assertEquals("HTTP/1.1 200 OK\r\n", new String(first, StandardCharsets.ISO_8859_1));
      }
      try (Socket extra = new Socket("127.0.0.1", admin.address().getPort())) {
        extra.setSoTimeout(30_000);
        String refused = readAll(extra.getInputStream()); // nothing sent: the answer comes anyway, then the end
        assertTrue(refused.startsWith("HTTP/1.1 503 Service Unavailable\r\n"), refused);
        assertTrue(refused.contains("\r\nConnection: close\r\n"), refused);
        assertTrue(refused.endsWith("\r\n\r\ntoo many connections to the admin listener (expected: at most "
            + AdminServer.MAX_CONNECTIONS + " open at once)\n"), refused);
      }
      held.remove(0).close();
      String answer = "";
      while (!answer.startsWith("HTTP/1.1 200 OK\r\n")) { // the listener learns of the close on its own thread
        answer = exchange(get("/healthz"));
        assertTrue(answer.startsWith("HTTP/1.1 200 OK\r\n") || answer.startsWith("HTTP/1.1 503"), answer);
      }
    } finally {
      for (Socket socket : held) {
        socket.close();
      }
    }
  }

  @Test
  void headGivesTheLengthWithoutTheBody() throws IOException {
    String head = exchange("HEAD /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assertTrue(head.startsWith("HTTP/1.1 200 OK\r\n"), head);
    assertTrue(head.toLowerCase().contains("content-length: 8\r\n"), head);
    assertTrue(head.endsWith("\r\n\r\n"), head);
  }

  @Test
  void oversizedOrMalformedRequestsEndTheConnection() throws IOException {
    String huge;
    try {
      huge = exchange("GET /healthz HTTP/1.1\r\nX: " + "a".repeat(20_000) + "\r\n\r\n");
    } catch (java.net.SocketException e) {
      huge = ""; // closed while unread bytes were still arriving: a reset, also an end
    }
    assertTrue(huge.isEmpty() || huge.startsWith("HTTP/1.1 4"), huge);
    String garbage = exchange("\u0000\u0001 nonsense\r\n\r\n");
    assertTrue(garbage.isEmpty() || garbage.startsWith("HTTP/1.1 400"), garbage);
    String body = exchange("POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n"
        + "Connection: close\r\n\r\n");
    assertTrue(body.startsWith("HTTP/1.1 413"), body);
    // And the listener still answers.
    assertTrue(exchange(get("/healthz")).startsWith("HTTP/1.1 200 OK\r\n"));
  }

  @Test
  void publicPortHandlerWithoutMetricsAnswersHealthzOnly() {
    HealthAndMetrics publicPort = http.withoutMetrics();
    FullHttpResponse health = publicPort.handle(
        new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/healthz"), null, ByteBufAllocator.DEFAULT);
    try {
      assertEquals(200, health.status().code());
    } finally {
      health.release();
    }
    assertNull(publicPort.handle(
        new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/metrics"), null, ByteBufAllocator.DEFAULT));
    assertFalse(publicPort.requiresAuthentication(
        new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/metrics")), "a 404 asks for no token");
  }

  @Test
  void metricsAskForTheTunnelsAuthenticatorWhereServedHealthNever() {
    // Served on the public port (no admin port): the server's authenticator, if any, is asked first.
    assertTrue(http.requiresAuthentication(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET,
        "/metrics?name[]=x")));
    assertFalse(http.requiresAuthentication(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET,
        "/healthz")), "load balancers check health without credentials");
  }

  @Test
  void healthCheckAsksTheAdminListener() throws IOException {
    assertEquals("HTTP/1.1 200 OK", HealthCheck.statusLine("127.0.0.1", admin.address().getPort(), false));
    // Without a health file, from the gateway's own options (a wildcard address is asked on loopback).
    assertEquals("HTTP/1.1 200 OK", HealthCheck.status(new String[] {"--admin-address", "0.0.0.0",
        "--admin-port", "" + admin.address().getPort()}));
  }

  /** Keeps every answer Answer writes, with its promise, as a client that does not read would. */
  private static final class HoldAnswers extends ChannelOutboundHandlerAdapter {
    final List<Object> answers = new ArrayList<>();
    final List<ChannelPromise> promises = new ArrayList<>();

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
      answers.add(msg);
      promises.add(promise);
    }

    /** Lets the answers held so far leave. */
    void leave() {
      List<ChannelPromise> done = new ArrayList<>(promises);
      promises.clear();
      done.forEach(ChannelPromise::setSuccess);
    }
  }

  @Test
  void pipelinedRequestsAreAnsweredOneAtATimeAsAnswersLeave() throws Exception {
    // A client may pipeline many requests and read no answer: the listener must not queue answers for it.
    EmbeddedChannel ch = new EmbeddedChannel(false, false);
    ch.config().setAutoRead(false); // as the listener's connections
    AdminServer.addHandlers(ch.pipeline(), http, Set.of());
    HoldAnswers held = new HoldAnswers();
    ch.pipeline().addBefore(ch.pipeline().lastContext().name(), "held", held);
    ch.register();

    ch.writeInbound(Unpooled.copiedBuffer("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(100),
        StandardCharsets.US_ASCII));
    assertEquals(1, held.answers.size(), "one answer, the next request waiting for it to leave");
    for (int answered = 1; answered < 100; answered++) {
      held.leave();
      ch.runPendingTasks();
      assertEquals(answered + 1, held.answers.size());
    }
    held.leave();
    ch.runPendingTasks();
    assertEquals(100, held.answers.size());
    for (Object answer : held.answers) {
      FullHttpResponse response = (FullHttpResponse) answer;
      assertEquals(200, response.status().code());
      response.release();
    }
    ch.finishAndReleaseAll();
  }

  /**
   * A request whose Expect the listener does not know is answered 417 by the codec steps themselves, and the
   * connection then ends: the requests behind it go unanswered (they kept the connection and were read on).
   */
  @Test
  void anUnknownExpectationIs417AndEndsTheConnection() throws IOException {
    String answers = exchange("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: a\r\n\r\n"
        + "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assertTrue(answers.startsWith("HTTP/1.1 417 Expectation Failed\r\n"), answers);
    assertFalse(answers.contains("200 OK"), answers);
  }

  /**
   * Answers the codec steps write by themselves (417, 413) are not followed by another read while they wait unread:
   * a client sending such requests without reading queued them without bound, its reads never stopping.
   */
  @Test
  void nothingMoreIsReadWhileAnswersWaitUnread() throws Exception {
    EmbeddedChannel ch = new EmbeddedChannel(false, false);
    ch.config().setAutoRead(false); // as the listener's connections
    ch.config().setWriteBufferWaterMark(new io.netty.channel.WriteBufferWaterMark(8, 16));
    java.util.concurrent.atomic.AtomicInteger reads = new java.util.concurrent.atomic.AtomicInteger();
    ch.pipeline().addLast(new io.netty.channel.ChannelOutboundHandlerAdapter() {
      @Override
      public void read(io.netty.channel.ChannelHandlerContext ctx) {
        reads.incrementAndGet();
        ctx.read();
      }

      @Override
      public void flush(io.netty.channel.ChannelHandlerContext ctx) {
        // the client reads nothing: what is written stays queued
      }
    });
    AdminServer.addHandlers(ch.pipeline(), http, Set.of());
    ch.register();
    int before = reads.get();
    ch.writeInbound(Unpooled.copiedBuffer("GET /healthz HTTP/1.1\r\nHost: localhost\r\nExpect: a\r\n\r\n",
        StandardCharsets.US_ASCII));
    assertFalse(ch.isWritable(), "the 417 waits unread");
    assertEquals(before, reads.get(), "no read while it waits");
    ch.finishAndReleaseAll();
  }

  @Test
  void aRequestTrickledInIs408OnceItsFirstByteIsOlderThanTheRequestTimeout() throws Exception {
    // A byte now and then keeps the idle timeout away; each request must still arrive whole in time, as on --port.
    EmbeddedChannel ch = new EmbeddedChannel(false, false);
    ch.config().setAutoRead(false);
    AdminServer.addHandlers(ch.pipeline(), http, Set.of());
    ch.register();
    ch.freezeTime();
    ch.writeInbound(Unpooled.copiedBuffer("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
        StandardCharsets.US_ASCII));
    ch.runPendingTasks();
    assertTrue(outbound(ch).startsWith("HTTP/1.1 200 OK\r\n"), "a whole request is answered");
    ch.advanceTimeBy(AdminServer.REQUEST_SECONDS - 1, TimeUnit.SECONDS);
    ch.runScheduledPendingTasks();
    ch.writeInbound(Unpooled.copiedBuffer("GET /metrics HTTP/1.1\r\nHo", StandardCharsets.US_ASCII));
    ch.advanceTimeBy(AdminServer.REQUEST_SECONDS - 1, TimeUnit.SECONDS);
    ch.runScheduledPendingTasks();
    ch.writeInbound(Unpooled.copiedBuffer("s", StandardCharsets.US_ASCII));
    assertEquals("", outbound(ch), "the clock counts from the request's first byte, not the last answer");
    assertTrue(ch.isOpen());
    ch.advanceTimeBy(1, TimeUnit.SECONDS);
    ch.runScheduledPendingTasks();
    String answer = outbound(ch);
    assertTrue(answer.startsWith("HTTP/1.1 408 Request Timeout\r\n"), answer);
    assertTrue(answer.endsWith("\r\n\r\nexpected a complete request within 10000 ms\n"), answer);
    ch.runPendingTasks();
    assertFalse(ch.isOpen(), "the connection closes after the 408");
    ch.finishAndReleaseAll();
  }

  /** What the listener wrote to {@code ch} so far, as text. */
  private static String outbound(EmbeddedChannel ch) {
    StringBuilder out = new StringBuilder();
    for (Object msg; (msg = ch.readOutbound()) != null; ) {
      io.netty.buffer.ByteBuf bytes = (io.netty.buffer.ByteBuf) msg;
      out.append(bytes.toString(StandardCharsets.US_ASCII));
      bytes.release();
    }
    return out.toString();
  }

  @Test
  void metricsAreRenderedOnTheirOwnThreadNeverTheListeners() throws IOException {
    List<String> threads = new CopyOnWriteArrayList<>();
    registry.register(slow(threads, new CountDownLatch(1), new CountDownLatch(0)));
    String metrics = exchange(get("/metrics"));
    assertTrue(metrics.startsWith("HTTP/1.1 200 OK\r\n"), metrics);
    assertTrue(metrics.contains("test_slow "), metrics);
    assertEquals(List.of(HealthAndMetrics.THREAD), threads);
  }

  @Test
  void scrapesPastTheFewThatMayWaitAre503AtOnceAndHealthzStaysImmediate() throws Exception {
    List<String> threads = new CopyOnWriteArrayList<>();
    CountDownLatch rendering = new CountDownLatch(1);
    CountDownLatch go = new CountDownLatch(1);
    registry.register(slow(threads, rendering, go));
    DefaultHttpRequest scrape = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/metrics");
    List<CompletableFuture<FullHttpResponse>> answers = new ArrayList<>();
    answers.add(http.answer(scrape, null, ByteBufAllocator.DEFAULT).toCompletableFuture());
    assertTrue(rendering.await(30, TimeUnit.SECONDS), "the first scrape is being rendered");
    for (int i = 0; i < HealthAndMetrics.MAX_SCRAPES_WAITING; i++) {
      answers.add(http.answer(scrape, null, ByteBufAllocator.DEFAULT).toCompletableFuture());
    }
    FullHttpResponse busy = http.answer(scrape, null, ByteBufAllocator.DEFAULT).toCompletableFuture().getNow(null);
    assertEquals(503, busy.status().code());
    assertEquals("1", busy.headers().get("Retry-After"));
    assertEquals("/metrics is busy: 4 scrapes already wait for the one being rendered; retry later\n",
        busy.content().toString(StandardCharsets.UTF_8));
    assertTrue(busy.release());
    FullHttpResponse health = http.answer(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/healthz"),
        null, ByteBufAllocator.DEFAULT).toCompletableFuture().getNow(null);
    assertEquals(200, health.status().code());
    assertTrue(health.release());
    for (CompletableFuture<FullHttpResponse> answer : answers) {
      assertFalse(answer.isDone(), "waits for the one being rendered");
    }
    go.countDown();
    for (CompletableFuture<FullHttpResponse> answer : answers) {
      FullHttpResponse response = answer.get(30, TimeUnit.SECONDS);
      assertEquals(200, response.status().code());
      assertTrue(response.release());
    }
  }

  /** {@link #http}, counting {@code asked} down once it has been asked for each answer (a scrape handed on). */
  private PlainHttpHandler counting(CountDownLatch asked) {
    return new PlainHttpHandler() {
      @Override
      public FullHttpResponse handle(HttpRequest request, SocketAddress clientAddress, ByteBufAllocator alloc) {
        return http.handle(request, clientAddress, alloc);
      }

      @Override
      public CompletionStage<FullHttpResponse> answer(HttpRequest request, SocketAddress clientAddress,
          ByteBufAllocator alloc) {
        CompletionStage<FullHttpResponse> answer = http.answer(request, clientAddress, alloc);
        asked.countDown();
        return answer;
      }
    };
  }

  /** Opens a connection to {@code port} and sends a scrape of /metrics on it, keeping the connection alive. */
  private static Socket scrape(int port) throws IOException {
    Socket socket = new Socket("127.0.0.1", port);
    socket.setSoTimeout(30_000);
    socket.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"
        .getBytes(StandardCharsets.ISO_8859_1));
    return socket;
  }

  /** What a scrape waiting when the gateway stopped gets: 503 saying why, then the end of its connection. */
  private static void assertAnsweredStopping(String answer, List<String> all) {
    assertTrue(answer.startsWith("HTTP/1.1 503 Service Unavailable\r\n"), "the answers: " + all);
    String headers = answer.toLowerCase(Locale.ROOT);
    assertTrue(headers.contains("\r\nconnection: close\r\n"), answer);
    assertTrue(headers.contains("\r\nretry-after: 5\r\n"), answer);
    assertTrue(answer.endsWith("\r\n\r\n/metrics is not served: the gateway is shutting down\n"), answer);
  }

  /**
   * Sends {@code asked}'s count of scrapes to {@code port} on connections of their own (one is rendered, the others
   * wait for it), then stops as the gateway does: {@link #http} closed, then the listener ({@code closeListener}).
   * Each scrape must be answered 503 saying why, before its connection ends; the render thread is not waited for.
   */
  private void assertWaitingScrapesAre503WhenStopping(int port, CountDownLatch asked, Runnable closeListener)
      throws Exception {
    CountDownLatch rendering = new CountDownLatch(1);
    CountDownLatch go = new CountDownLatch(1);
    registry.register(slow(new CopyOnWriteArrayList<>(), rendering, go));
    List<Socket> scrapes = new ArrayList<>();
    boolean closed = false;
    try {
      for (long i = asked.getCount(); i > 0; i--) {
        scrapes.add(scrape(port));
      }
      assertTrue(asked.await(30, TimeUnit.SECONDS), "one scrape is being rendered, the others wait for it");
      assertTrue(rendering.await(30, TimeUnit.SECONDS));
      http.close(); // what TunnelServerMain does when the drain ends, before its listeners close
      closed = true;
      closeListener.run();
      List<String> answers = new ArrayList<>();
      for (Socket socket : scrapes) {
        answers.add(readAll(socket.getInputStream()));
      }
      for (String answer : answers) {
        assertAnsweredStopping(answer, answers);
      }
    } finally {
      go.countDown();
      if (!closed) {
        closeListener.run();
      }
      for (Socket socket : scrapes) {
        socket.close();
      }
    }
  }

  /** On the admin listener, keep-alive connections included; they ended without an answer. */
  @Test
  void scrapesStillWaitingWhenTheGatewayStopsAre503() throws Exception {
    CountDownLatch asked = new CountDownLatch(3);
    AdminServer listener = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), counting(asked), Set.of());
    assertWaitingScrapesAre503WhenStopping(listener.address().getPort(), asked, listener::close);
  }

  /** On the public port too, even when the drain deadline closes every connection left at once. */
  @Test
  void scrapesStillWaitingOnThePublicPortWhenTheGatewayStopsAre503() throws Exception {
    CountDownLatch asked = new CountDownLatch(3);
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.newBuilder().plainHttpHandler(counting(asked)).build()).build().start();
    try {
      assertWaitingScrapesAre503WhenStopping(((InetSocketAddress) server.getListenSockets().get(0)).getPort(),
          asked, server::shutdownNow);
    } finally {
      server.shutdownNow().awaitTermination(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void scrapesAfterCloseAre503SayingTheGatewayStops() {
    http.close();
    FullHttpResponse stopped = http.answer(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/metrics"),
        null, ByteBufAllocator.DEFAULT).toCompletableFuture().getNow(null);
    try {
      assertEquals(503, stopped.status().code());
      assertEquals("close", stopped.headers().get("Connection"));
      assertEquals("/metrics is not served: the gateway is shutting down\n",
          stopped.content().toString(StandardCharsets.UTF_8));
    } finally {
      assertTrue(stopped.release());
    }
  }
}
