package dev.wsgrpc.server;

import static dev.wsgrpc.testing.WireFrames.RFC_KEY;
import static dev.wsgrpc.testing.WireFrames.frame;
import static dev.wsgrpc.testing.Outbound.written;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.core.internal.FramePipeline;
import dev.wsgrpc.core.internal.Http2PrefaceCheck;
import dev.wsgrpc.testing.HttpHead;
import dev.wsgrpc.testing.InboundRecorder;
import dev.wsgrpc.testing.NoopChannelLogger;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.ProtocolNegotiationEvent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ServerUpgradeHandlerTest {

  /** The key of RFC 6455 section 1.3 and the accept value it gives. */
  private static final String KEY = "dGhlIHNhbXBsZSBub25jZQ==";
  private static final String ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

  /** A raw HTTP request, built line by line. */
  static final class Request {
    private String requestLine;
    private final List<String> headers = new ArrayList<>();
    private String body = "";

    /** A valid upgrade request for /grpc that offers wsgrpc.v1. */
    static Request valid() {
      Request r = new Request();
      r.requestLine = "GET /grpc HTTP/1.1";
      r.headers.addAll(Arrays.asList(
          "Host: example.com:8080",
          "Upgrade: websocket",
          "Connection: Upgrade",
          "Sec-WebSocket-Key: " + KEY,
          "Sec-WebSocket-Version: 13",
          "Sec-WebSocket-Protocol: wsgrpc.v1"));
      return r;
    }

    Request line(String requestLine) {
      this.requestLine = requestLine;
      return this;
    }

    Request without(String name) {
      headers.removeIf(h -> h.toLowerCase(Locale.ROOT).startsWith(name.toLowerCase(Locale.ROOT) + ":"));
      return this;
    }

    Request with(String headerLine) {
      headers.add(headerLine);
      return this;
    }

    Request replace(String name, String value) {
      return without(name).with(name + ": " + value);
    }

    Request body(String body) {
      this.body = body;
      return this;
    }

    String text() {
      return requestLine + "\r\n" + String.join("\r\n", headers) + "\r\n\r\n" + body;
    }

    ByteBuf bytes() {
      return Unpooled.copiedBuffer(text(), StandardCharsets.ISO_8859_1);
    }
  }

  private final InboundRecorder next = new InboundRecorder();
  private final InboundRecorder tail = new InboundRecorder();
  private final ProtocolNegotiationEvent event = InternalProtocolNegotiationEvent.getDefault();

  /** A channel whose upgrade step has received the negotiation event, with time frozen. */
  private EmbeddedChannel start(WebSocketServerOptions options) {
    EmbeddedChannel ch = new EmbeddedChannel(new GrpcHandoffHandler(next, null, options,
        new TunnelCounter(options.access()), true, NoopChannelLogger.INSTANCE), tail);
    ch.freezeTime();
    ch.pipeline().fireUserEventTriggered(event);
    assertNull(ch.readOutbound(), "the server waits for the request");
    return ch;
  }

  private EmbeddedChannel start() {
    return start(WebSocketServerOptions.DEFAULT);
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static String ascii(byte[] b) {
    return new String(b, StandardCharsets.US_ASCII);
  }

  /** Checks a refusal: status, plain-text body saying what was expected, Connection: close, closed channel. */
  private HttpHead assertRefused(EmbeddedChannel ch, String statusLine, String body) {
    HttpHead r = new HttpHead(written(ch));
    assertEquals(statusLine, r.startLine, r.raw);
    assertEquals("text/plain; charset=utf-8", r.header("Content-Type"));
    assertEquals("close", r.header("Connection"));
    assertEquals(body + "\n", r.body);
    assertEquals(String.valueOf(r.body.getBytes(StandardCharsets.UTF_8).length), r.header("Content-Length"));
    assertFalse(ch.isOpen(), "the connection is closed after the answer");
    assertTrue(next.events.isEmpty(), "gRPC never takes over");
    assertTrue(next.reads.isEmpty());
    assertTrue(tail.events.isEmpty(), "no TunnelEstablishedEvent");
    assertFalse(ch.finish());
    return r;
  }

  private HttpHead refuse(Request request, String statusLine, String body) {
    EmbeddedChannel ch = start();
    ch.writeInbound(request.bytes());
    return assertRefused(ch, statusLine, body);
  }

  /** Closes an upgraded channel: the frame handlers send Close 1001, then nothing is left. */
  private static void closeUpgraded(EmbeddedChannel ch) {
    ch.close();
    ByteBuf close = ch.readOutbound();
    assertEquals(0x88, close.readUnsignedByte(), "FIN + close");
    assertEquals(2, close.readUnsignedByte(), "unmasked, code only");
    assertEquals(1001, close.readUnsignedShort(), "servers close with Going Away");
    assertTrue(close.release());
    assertFalse(ch.finish());
  }

  // ---- success ------------------------------------------------------------------------------------------------

  @Test
  void validUpgradeGets101WithTheAcceptForTheKey() {
    EmbeddedChannel ch = start();
    ch.writeInbound(Request.valid().bytes());

    assertEquals("HTTP/1.1 101 Switching Protocols\r\n"
        + "upgrade: websocket\r\n"
        + "connection: upgrade\r\n"
        + "sec-websocket-accept: " + ACCEPT + "\r\n"
        + "sec-websocket-protocol: wsgrpc.v1\r\n"
        + "\r\n", written(ch));
    assertTrue(ch.isOpen());
    closeUpgraded(ch);
  }

  @Test
  void the101AndWhatGrpcFlushesInTheSameReadLeaveInOneFlush() {
    // gRPC's server handler, once it takes over, writes SETTINGS and a WINDOW_UPDATE, flushing after each.
    ChannelInboundHandlerAdapter grpc = new ChannelInboundHandlerAdapter() {
      @Override
      public void handlerAdded(ChannelHandlerContext ctx) {
        ctx.writeAndFlush(Unpooled.copiedBuffer("settings", StandardCharsets.US_ASCII));
        ctx.writeAndFlush(Unpooled.copiedBuffer("window", StandardCharsets.US_ASCII));
      }
    };
    int[] flushes = {0};
    ChannelOutboundHandlerAdapter socket = new ChannelOutboundHandlerAdapter() {
      @Override
      public void flush(ChannelHandlerContext ctx) {
        flushes[0]++;
        ctx.flush();
      }
    };
    WebSocketServerOptions options = WebSocketServerOptions.DEFAULT;
    EmbeddedChannel ch = new EmbeddedChannel(socket, new GrpcHandoffHandler(grpc, null, options,
        new TunnelCounter(options.access()), true, NoopChannelLogger.INSTANCE));
    ch.freezeTime();
    ch.pipeline().fireUserEventTriggered(event);
    ch.writeInbound(Request.valid().bytes());

    assertEquals(1, flushes[0], "one flush (one system call) for the 101 and both frames");
    assertNull(ch.pipeline().get(FramePipeline.FLUSH_CONSOLIDATION), "the tunnel's own flushes are gRPC's");
    String out = written(ch);
    assertTrue(out.startsWith("HTTP/1.1 101 Switching Protocols\r\n"), out);
    assertTrue(out.endsWith("\r\n\r\n\u0082\u0008settings\u0082\u0006window"), out);
    ch.finishAndReleaseAll();
  }

  @Test
  void subprotocolIsNotAnsweredWhenNoneWasOffered() {
    EmbeddedChannel ch = start();
    ch.writeInbound(Request.valid().without("Sec-WebSocket-Protocol").bytes());

    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 101 Switching Protocols", r.startLine);
    assertEquals(ACCEPT, r.header("Sec-WebSocket-Accept"));
    assertNull(r.header("Sec-WebSocket-Protocol"), "a client that offered none gets none");
    TunnelEstablishedEvent established = assertInstanceOf(TunnelEstablishedEvent.class, tail.events.get(0));
    assertNull(established.subprotocol());
    closeUpgraded(ch);
  }

  @Test
  void subprotocolIsChosenAmongSeveralOffered() {
    EmbeddedChannel ch = start();
    ch.writeInbound(Request.valid()
        .replace("Sec-WebSocket-Protocol", "chat, wsgrpc.v1")
        .with("Sec-WebSocket-Protocol: superchat")
        .bytes());

    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 101 Switching Protocols", r.startLine);
    assertEquals("wsgrpc.v1", r.header("Sec-WebSocket-Protocol"), "only the one chosen is echoed");
    closeUpgraded(ch);
  }

  @Test
  void upgradeReplacesTheHandlerWithNextAndFiresTheNegotiationEvent() {
    EmbeddedChannel ch = start();
    ch.writeInbound(Request.valid().bytes());
    written(ch);

    assertNull(ch.pipeline().get(ServerUpgradeHandler.class));
    assertNull(ch.pipeline().get(ServerUpgradeHandler.HTTP_CODEC), "the HTTP codec is gone");
    List<String> names = ch.pipeline().names();
    int decoder = names.indexOf(FramePipeline.DECODER);
    assertEquals(Arrays.asList(FramePipeline.DECODER, FramePipeline.ENCODER, FramePipeline.KEEPALIVE,
        FramePipeline.CONTROL, FramePipeline.BYTE_STREAM, Http2PrefaceCheck.NAME), names.subList(decoder, decoder + 6));
    assertSame(next, ch.pipeline().context(names.get(decoder + 6)).handler(),
        "next follows the frame handlers and the preface check");

    assertEquals(1, next.events.size());
    ProtocolNegotiationEvent handedOver = assertInstanceOf(ProtocolNegotiationEvent.class, next.events.get(0),
        "next receives the negotiation event");
    assertEquals(ch.remoteAddress(), InternalProtocolNegotiationEvent.getAttributes(handedOver)
        .get(io.grpc.Grpc.TRANSPORT_ATTR_REMOTE_ADDR), "the client's address reaches gRPC");
    assertEquals(1, tail.events.size());
    TunnelEstablishedEvent established = assertInstanceOf(TunnelEstablishedEvent.class, tail.events.get(0));
    assertEquals("/grpc", established.path());
    assertEquals("wsgrpc.v1", established.subprotocol());
    assertTrue(next.reads.isEmpty());
    closeUpgraded(ch);
  }

  @Test
  void frameInTheSameReadAsTheRequestReachesNextAsPayload() {
    EmbeddedChannel ch = start();
    ch.writeInbound(Unpooled.wrappedBuffer(Request.valid().bytes(), frame(0x82, PREFACE, RFC_KEY)));

    assertTrue(written(ch).startsWith("HTTP/1.1 101 Switching Protocols\r\n"));
    assertEquals(1, next.reads.size());
    ByteBuf payload = assertInstanceOf(ByteBuf.class, next.reads.get(0));
    assertEquals(ascii(PREFACE), payload.toString(StandardCharsets.US_ASCII));
    assertTrue(payload.release());
    assertInstanceOf(ProtocolNegotiationEvent.class, next.events.get(0), "the event comes before the bytes");
    closeUpgraded(ch);
  }

  @Test
  void framesInLaterReadsReachNextAsPayload() {
    EmbeddedChannel ch = start();
    ch.writeInbound(Request.valid().bytes());
    written(ch);
    ch.writeInbound(Unpooled.wrappedBuffer(frame(0x82, PREFACE, RFC_KEY), frame(0x82, ascii("two"), RFC_KEY)));

    assertEquals(2, next.reads.size());
    for (Object read : next.reads) {
      ByteBuf b = (ByteBuf) read;
      assertTrue(b.toString(StandardCharsets.US_ASCII).matches(Pattern.quote(ascii(PREFACE)) + "|two"));
      b.release();
    }
    for (Object read : next.reads) {
      // Payloads are slices of the read buffer, without a copy: they may share its reference count.
      assertEquals(0, ((ByteBuf) read).refCnt());
    }
    closeUpgraded(ch);
  }

  @Test
  void aPrefaceSplitAcrossFramesReachesNextWholeOnceItIsComplete() {
    EmbeddedChannel ch = upgraded();
    ch.writeInbound(frame(0x82, Arrays.copyOf(PREFACE, 10), RFC_KEY));
    assertTrue(next.reads.isEmpty(), "held until the preface is whole");
    ch.writeInbound(frame(0x82, Arrays.copyOfRange(PREFACE, 10, PREFACE.length), RFC_KEY));

    assertEquals(1, next.reads.size());
    ByteBuf payload = (ByteBuf) next.reads.get(0);
    assertEquals(ascii(PREFACE), payload.toString(StandardCharsets.US_ASCII));
    assertTrue(payload.release());
    assertNull(ch.pipeline().get(Http2PrefaceCheck.NAME), "the check is gone");
    closeUpgraded(ch);
  }

  @Test
  void aTunnelThatDoesNotBeginWithTheHttp2PrefaceIsClosedWith1002QuotingHowItBegan() {
    EmbeddedChannel ch = upgraded();
    // A generic WebSocket client, or one meant for another service: it reads no GOAWAY, only the Close.
    ch.writeInbound(frame(0x82, ascii("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), RFC_KEY));

    assertTrue(next.reads.isEmpty(), "gRPC reads none of it");
    assertEquals("1002 expected the HTTP/2 client preface (PRI * HTTP/2.0) but the tunnel began with "
        + "'GET / HTTP/1.1??Host: ex...'", readClose(ch));
    ch.writeInbound(frame(0x82, PREFACE, RFC_KEY));
    assertTrue(next.reads.isEmpty(), "what follows is dropped");
    assertFalse(ch.finishAndReleaseAll());
  }

  @Test
  void aFirstByteThatDiffersFromThePrefaceFailsAtOnce() {
    EmbeddedChannel ch = upgraded();
    ch.writeInbound(frame(0x82, new byte[] {'P', 'U', 0x1b}, RFC_KEY));

    assertTrue(next.reads.isEmpty());
    assertEquals("1002 expected the HTTP/2 client preface (PRI * HTTP/2.0) but the tunnel began with 'PU?'",
        readClose(ch), "without waiting for 24 bytes, and nothing unprintable quoted");
    assertFalse(ch.finishAndReleaseAll());
  }

  /** A channel that has answered a valid upgrade with 101 (read and dropped). */
  private EmbeddedChannel upgraded() {
    EmbeddedChannel ch = start();
    ch.writeInbound(Request.valid().bytes());
    written(ch);
    return ch;
  }

  /** The Close the server sent, as its code and reason. */
  private static String readClose(EmbeddedChannel ch) {
    ByteBuf close = ch.readOutbound();
    assertEquals(0x88, close.readUnsignedByte(), "FIN + close");
    int length = close.readUnsignedByte();
    assertTrue(length <= 125, "unmasked, fits a control frame");
    String text = close.readUnsignedShort() + " " + close.toString(StandardCharsets.UTF_8);
    assertTrue(close.release());
    return text;
  }

  @Test
  void writesAfterTheUpgradeLeaveAsUnmaskedBinaryFrames() {
    EmbeddedChannel ch = start();
    ch.writeInbound(Request.valid().bytes());
    written(ch);
    ch.writeAndFlush(Unpooled.copiedBuffer("SETTINGS", StandardCharsets.US_ASCII));

    ByteBuf frame = ch.readOutbound();
    assertEquals(0x82, frame.readUnsignedByte(), "FIN + binary, not HTTP");
    assertEquals(8, frame.readUnsignedByte(), "unmasked");
    assertEquals("SETTINGS", frame.toString(StandardCharsets.US_ASCII));
    assertTrue(frame.release());
    closeUpgraded(ch);
  }

  @Test
  void queryIsIgnoredWhenMatchingThePath() {
    EmbeddedChannel ch = start();
    ch.writeInbound(Request.valid().line("GET /grpc?access_token=abc HTTP/1.1").bytes());
    assertTrue(written(ch).startsWith("HTTP/1.1 101 "));
    closeUpgraded(ch);
  }

  @Test
  void headerValuesAreMatchedIgnoringCaseAndWithinLists() {
    EmbeddedChannel ch = start();
    ch.writeInbound(Request.valid()
        .replace("upgrade", "WebSocket")
        .replace("connection", "keep-alive, Upgrade")
        .bytes());
    assertTrue(written(ch).startsWith("HTTP/1.1 101 "));
    closeUpgraded(ch);
  }

  @Test
  void requestSplitAcrossReadsIsAnsweredOnceComplete() {
    EmbeddedChannel ch = start();
    ByteBuf request = Request.valid().bytes();
    while (request.readableBytes() > 1) {
      ch.writeInbound(request.readRetainedSlice(Math.min(10, request.readableBytes() - 1)));
      assertNull(ch.readOutbound());
    }
    ch.writeInbound(request);
    assertTrue(written(ch).startsWith("HTTP/1.1 101 "));
    closeUpgraded(ch);
  }

  @Test
  void configuredPathAndSubprotocolAreUsed() {
    WebSocketServerOptions options = WebSocketServerOptions.newBuilder().path("/tunnel").subprotocol("acme.v2").build();
    EmbeddedChannel ch = start(options);
    ch.writeInbound(Request.valid().line("GET /tunnel HTTP/1.1").replace("Sec-WebSocket-Protocol", "acme.v2").bytes());
    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 101 Switching Protocols", r.startLine);
    assertEquals("acme.v2", r.header("Sec-WebSocket-Protocol"));
    assertEquals("/tunnel", ((TunnelEstablishedEvent) tail.events.get(0)).path());
    closeUpgraded(ch);
  }

  // ---- refusals -----------------------------------------------------------------------------------------------

  @Test
  void unknownPathGets404() {
    refuse(Request.valid().line("GET /other HTTP/1.1"), "HTTP/1.1 404 Not Found", "no WebSocket endpoint at /other");
  }

  @Test
  void anUpgradeForAMethodWithoutABrowserSubprotocolGets404SayingWhichWereExpected() {
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder().browser(BrowserOptions.forOrigins("*").toBuilder()
        .json(JsonSchemas.ofFiles()).build()).build());
    // The bearer.<token> offer is counted, never quoted.
    ch.writeInbound(Request.valid().line("GET /pkg.Svc/Method HTTP/1.1").with("Sec-WebSocket-Protocol: bearer.s3cret")
        .bytes());
    assertRefused(ch, "HTTP/1.1 404 Not Found", "no WebSocket endpoint at /pkg.Svc/Method (a WebSocket call expected "
        + "subprotocol grpc-websockets or wsgrpc-json among those offered but it was not one of the 2 offered)");
  }

  @Test
  void aPostForAMethodThatIsNotGrpcWebGets404SayingWhichContentTypeWasExpected() {
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder().browser(BrowserOptions.forOrigins("*")).build());
    ch.writeInbound(Unpooled.wrappedBuffer(ascii("POST /pkg.Svc/Method HTTP/1.1\r\nHost: example.com:8080\r\n"
        + "Content-Type: application/xml\r\nContent-Length: 0\r\n\r\n")));
    assertRefused(ch, "HTTP/1.1 404 Not Found", "no WebSocket endpoint at /pkg.Svc/Method (a gRPC-Web call expected "
        + "Content-Type application/grpc-web but was 'application/xml')");
  }

  @Test
  void defaultPathIsNotServedWhenAnotherIsConfigured() {
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder().path("/tunnel").build());
    ch.writeInbound(Request.valid().bytes());
    assertRefused(ch, "HTTP/1.1 404 Not Found", "no WebSocket endpoint at /grpc");
  }

  @Test
  void longUnknownPathIsCutInTheAnswer() {
    String path = "/" + "a".repeat(100);
    refuse(Request.valid().line("GET " + path + " HTTP/1.1"), "HTTP/1.1 404 Not Found",
        "no WebSocket endpoint at " + path.substring(0, 64) + "...");
  }

  @Test
  void postGets405WithAllowGet() {
    HttpHead r = refuse(Request.valid().line("POST /grpc HTTP/1.1").with("Content-Length: 0"),
        "HTTP/1.1 405 Method Not Allowed", "expected GET but was POST");
    assertEquals("GET", r.header("Allow"));
  }

  @Test
  void http10Gets400() {
    refuse(Request.valid().line("GET /grpc HTTP/1.0"), "HTTP/1.1 400 Bad Request", "expected HTTP/1.1 but was HTTP/1.0");
  }

  @Test
  void missingHostGets400() {
    refuse(Request.valid().without("Host"), "HTTP/1.1 400 Bad Request", "expected one Host header but was 0");
  }

  @Test
  void twoHostsGet400() {
    refuse(Request.valid().with("Host: evil.example"), "HTTP/1.1 400 Bad Request",
        "expected one Host header but was 2");
  }

  @Test
  void twoAuthorizationHeadersGet400EvenWhenBothAreRight() {
    // A proxy may check one Authorization and this server read the other: a request with two is refused.
    refuse(Request.valid().with("Authorization: Bearer a").with("Authorization: Bearer a"),
        "HTTP/1.1 400 Bad Request", "expected at most one Authorization header but was 2");
  }

  @Test
  void twoOriginsGet400EvenWhenTheFirstIsAllowed() {
    refuse(Request.valid().with("Origin: https://app.example.com").with("Origin: https://evil.example"),
        "HTTP/1.1 400 Bad Request", "expected at most one Origin header but was 2");
  }

  @Test
  void missingUpgradeGets400() {
    refuse(Request.valid().without("Upgrade"), "HTTP/1.1 400 Bad Request",
        "expected 'Upgrade: websocket' but was missing");
  }

  @Test
  void otherUpgradeGets400() {
    refuse(Request.valid().replace("Upgrade", "h2c"), "HTTP/1.1 400 Bad Request",
        "expected 'Upgrade: websocket' but was 'h2c'");
  }

  @Test
  void missingConnectionUpgradeGets400() {
    refuse(Request.valid().without("Connection"), "HTTP/1.1 400 Bad Request",
        "expected 'Connection: Upgrade' but was missing");
  }

  @Test
  void connectionWithoutUpgradeTokenGets400() {
    refuse(Request.valid().replace("Connection", "keep-alive"), "HTTP/1.1 400 Bad Request",
        "expected 'Connection: Upgrade' but was 'keep-alive'");
  }

  @Test
  void missingVersionGets400() {
    refuse(Request.valid().without("Sec-WebSocket-Version"), "HTTP/1.1 400 Bad Request",
        "expected 'Sec-WebSocket-Version: 13' but it was missing");
  }

  @Test
  void version8Gets426WithVersion13() {
    HttpHead r = refuse(Request.valid().replace("Sec-WebSocket-Version", "8"), "HTTP/1.1 426 Upgrade Required",
        "expected 'Sec-WebSocket-Version: 13' but was '8'");
    assertEquals("13", r.header("Sec-WebSocket-Version"));
    assertEquals("websocket", r.header("Upgrade"));
  }

  @Test
  void twoVersionsGet426() {
    refuse(Request.valid().with("Sec-WebSocket-Version: 8"), "HTTP/1.1 426 Upgrade Required",
        "expected 'Sec-WebSocket-Version: 13' but was '13, 8'");
  }

  @Test
  void missingKeyGets400() {
    refuse(Request.valid().without("Sec-WebSocket-Key"), "HTTP/1.1 400 Bad Request",
        "expected a Sec-WebSocket-Key of 16 base64-encoded bytes but was missing");
  }

  @Test
  void tooShortKeyGets400() {
    refuse(Request.valid().replace("Sec-WebSocket-Key", "dGhlIHNhbXBsZQ=="), "HTTP/1.1 400 Bad Request",
        "expected a Sec-WebSocket-Key of 16 base64-encoded bytes but was 'dGhlIHNhbXBsZQ=='");
  }

  @Test
  void keyThatIsNotBase64Gets400() {
    refuse(Request.valid().replace("Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!=="), "HTTP/1.1 400 Bad Request",
        "expected a Sec-WebSocket-Key of 16 base64-encoded bytes but was '!!!!!!!!!!!!!!!!!!!!!!=='");
  }

  @Test
  void twoKeysGet400() {
    refuse(Request.valid().with("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="), "HTTP/1.1 400 Bad Request",
        "expected one Sec-WebSocket-Key but was 2");
  }

  @Test
  void offeringOnlyOtherSubprotocolsGets400WithoutEchoingThem() {
    HttpHead r = refuse(Request.valid().replace("Sec-WebSocket-Protocol", "chat, bearer.s3cr3t-token"),
        "HTTP/1.1 400 Bad Request",
        "expected subprotocol wsgrpc.v1 among those offered but it was not one of the 1 offered");
    assertFalse(r.raw.contains("chat"));
    assertFalse(r.raw.contains("s3cr3t"), "offered names may carry tokens");
  }

  @Test
  void requestWithBodyGets400() {
    refuse(Request.valid().with("Content-Length: 5").body("hello"), "HTTP/1.1 400 Bad Request",
        "expected an upgrade request without a body");
  }

  @Test
  void chunkedRequestBodyGets400() {
    refuse(Request.valid().with("Transfer-Encoding: chunked").body("5\r\nhello\r\n0\r\n\r\n"),
        "HTTP/1.1 400 Bad Request", "expected an upgrade request without a body");
  }

  @Test
  void hugeHeaderGets431() {
    refuse(Request.valid().with("X-Big: " + "a".repeat(17 * 1024)), "HTTP/1.1 431 Request Header Fields Too Large",
        "expected request headers of at most 16384 bytes");
  }

  @Test
  void hugeRequestLineGets414() {
    refuse(Request.valid().line("GET /grpc?q=" + "a".repeat(5000) + " HTTP/1.1"),
        "HTTP/1.1 414 Request-URI Too Long", "expected a request line of at most 4096 bytes");
  }

  @Test
  void malformedRequestGets400() {
    EmbeddedChannel ch = start();
    ch.writeInbound(Unpooled.copiedBuffer("HELLO\r\n\r\n", StandardCharsets.US_ASCII));
    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 400 Bad Request", r.startLine);
    assertEquals("expected a request line such as 'GET /grpc HTTP/1.1' but it was malformed\n", r.body);
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  @Test
  void malformedHeadersGet400InPlainWordsWithoutTheDecodersMessage() {
    EmbeddedChannel ch = start();
    ch.writeInbound(Unpooled.copiedBuffer("GET /grpc HTTP/1.1\r\nHost: x\r\nBad\u0000Name: s3cr3t\r\n\r\n",
        StandardCharsets.ISO_8859_1));
    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 400 Bad Request", r.startLine);
    assertEquals("expected header lines of the form 'Name: value' but they were malformed\n", r.body);
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  /** Framing headers that contradict each other are named as such, not as malformed lines (Netty's own checks). */
  private void assertFramingConflict(String request, String reason) {
    EmbeddedChannel ch = start();
    ch.writeInbound(Unpooled.copiedBuffer(request, StandardCharsets.ISO_8859_1));
    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 400 Bad Request", r.startLine, r.raw);
    assertEquals(reason + "\n", r.body);
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  @Test
  void contentLengthWithTransferEncodingGets400SayingBothWereSent() {
    assertFramingConflict("POST /pkg.Svc/M HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        + "Transfer-Encoding: chunked\r\n\r\n", "expected Content-Length or Transfer-Encoding but both were sent");
  }

  @Test
  void transferEncodingInHttp10Gets400SayingSo() {
    assertFramingConflict("POST /pkg.Svc/M HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        "expected Transfer-Encoding only in HTTP/1.1 but it was sent in HTTP/1.0");
  }

  @Test
  void twoContentLengthsGet400SayingSo() {
    assertFramingConflict("POST /pkg.Svc/M HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "expected one Content-Length but different values were sent");
  }

  @Test
  void bytesAfterARefusedRequestInTheSameReadAreDropped() {
    EmbeddedChannel ch = start();
    ByteBuf frame = frame(0x82, ascii("ignored"), RFC_KEY);
    ch.writeInbound(Unpooled.wrappedBuffer(Request.valid().line("GET /other HTTP/1.1").bytes(), frame));
    assertRefused(ch, "HTTP/1.1 404 Not Found", "no WebSocket endpoint at /other");
    assertEquals(0, frame.refCnt());
  }

  // ---- handshake timeout --------------------------------------------------------------------------------------

  @Test
  void incompleteRequestGets408WhenTheHandshakeTimeoutPasses() {
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder()
        .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMillis(250)).build()).build());
    ch.writeInbound(Unpooled.copiedBuffer("GET /grpc HTTP/1.1\r\nHost: example.com\r\n", StandardCharsets.US_ASCII));

    ch.advanceTimeBy(249, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertNull(ch.readOutbound());
    assertTrue(ch.isOpen());

    ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertRefused(ch, "HTTP/1.1 408 Request Timeout", "expected a complete upgrade request within 250 ms");
  }

  @Test
  void silentClientGets408WhenTheHandshakeTimeoutPasses() {
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder()
        .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(3)).build()).build());
    ch.advanceTimeBy(3, TimeUnit.SECONDS);
    ch.runScheduledPendingTasks();
    assertRefused(ch, "HTTP/1.1 408 Request Timeout", "expected a complete upgrade request within 3000 ms");
  }

  @Test
  void completedUpgradeStopsTheHandshakeTimeout() {
    // Pings off: only the handshake timer could write here.
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder()
        .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMillis(250)).pingInterval(Duration.ZERO)
            .build()).build());
    ch.writeInbound(Request.valid().bytes());
    written(ch);

    ch.advanceTimeBy(1, TimeUnit.HOURS);
    ch.runScheduledPendingTasks();
    assertNull(ch.readOutbound(), "no 408 after the 101");
    assertTrue(ch.isOpen());
    closeUpgraded(ch);
  }

  @Test
  void serversPingTheirClientsAfterTheUpgrade() {
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder()
        .settings(TunnelSettings.newBuilder().pingInterval(Duration.ofSeconds(30)).build()).build());
    ch.writeInbound(Request.valid().bytes());
    written(ch);

    ch.advanceTimeBy(31, TimeUnit.SECONDS);
    ch.runScheduledPendingTasks();
    ByteBuf ping = ch.readOutbound();
    assertEquals(0x89, ping.getUnsignedByte(0), "an unmasked, final ping from the server");
    assertTrue(ping.release());
    closeUpgraded(ch);
  }

  @Test
  void refusalStopsTheHandshakeTimeout() {
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder()
        .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMillis(250)).build()).build());
    ch.writeInbound(Request.valid().line("GET /other HTTP/1.1").bytes());
    ch.advanceTimeBy(1, TimeUnit.HOURS);
    ch.runScheduledPendingTasks();
    assertRefused(ch, "HTTP/1.1 404 Not Found", "no WebSocket endpoint at /other");
  }

  @Test
  void clientClosingDuringTheHandshakeGetsNoAnswer() {
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder()
        .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMillis(250)).build()).build());
    ch.writeInbound(Unpooled.copiedBuffer("GET /grpc HTTP/1.1\r\n", StandardCharsets.US_ASCII));
    ch.pipeline().close();
    ch.advanceTimeBy(1, TimeUnit.HOURS);
    ch.runScheduledPendingTasks();
    assertNull(ch.readOutbound());
    assertTrue(next.events.isEmpty());
    assertFalse(ch.finish());
  }

  // ---- native gRPC: the same gate as tunnels -------------------------------------------------------------------

  private static final byte[] PREFACE = ascii("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  /** A client's first SETTINGS frame: SETTINGS_ENABLE_PUSH (2) = 0. */
  private static final byte[] SETTINGS = {0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0};

  /** Records the refusals a server reports. */
  private final List<String> refusals = new ArrayList<>();
  private final TunnelListener refusalRecorder = new TunnelListener() {
    @Override
    public void upgradeRejected(java.net.SocketAddress client, int status, RejectReason reason) {
      refusals.add(status + " " + reason.label());
    }
  };

  private EmbeddedChannel startNative(AccessPolicy access, TunnelCounter counter) {
    return startNative(access, counter, next);
  }

  /** A native-capable channel whose gRPC stand-in is {@code grpc} (one per channel: recorders are not sharable). */
  private EmbeddedChannel startNative(AccessPolicy access, TunnelCounter counter, InboundRecorder grpc) {
    return startNative(access, counter, grpc, true);
  }

  /** As above; {@code callsChecked} false: a server that does not authenticate native calls one by one. */
  private EmbeddedChannel startNative(AccessPolicy access, TunnelCounter counter, InboundRecorder grpc,
      boolean callsChecked) {
    return startNative(access, counter, grpc, callsChecked, 0);
  }

  /**
   * As above; {@code startedMillisAgo} &gt; 0: {@link HandshakeBackstop} marked the connection's start that long
   * before the upgrade step began.
   */
  private EmbeddedChannel startNative(AccessPolicy access, TunnelCounter counter, InboundRecorder grpc,
      boolean callsChecked, long startedMillisAgo) {
    WebSocketServerOptions options = WebSocketServerOptions.newBuilder().nativeGrpc(true).access(access)
        .listener(refusalRecorder)
        .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMillis(250)).build()).build();
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    if (startedMillisAgo > 0) {
      ch.attr(HandshakeBackstop.START).set(
          ch.eventLoop().ticker().nanoTime() - TimeUnit.MILLISECONDS.toNanos(startedMillisAgo));
    }
    ch.pipeline().addLast(
        new GrpcHandoffHandler(grpc, null, options, counter, callsChecked, NoopChannelLogger.INSTANCE),
        new InboundRecorder());
    ch.pipeline().fireUserEventTriggered(event);
    return ch;
  }

  /**
   * Checks a refused native connection: the server's SETTINGS, then GOAWAY NO_ERROR before any stream, whose debug
   * data (returned) says why; closed, gRPC never took over.
   */
  private String assertGoAway(EmbeddedChannel ch) {
    return assertGoAway(ch, next);
  }

  private String assertGoAway(EmbeddedChannel ch, InboundRecorder grpc) {
    ByteBuf out = Unpooled.buffer();
    for (ByteBuf b = ch.readOutbound(); b != null; b = ch.readOutbound()) {
      out.writeBytes(b);
      assertTrue(b.release());
    }
    try {
      assertEquals(io.netty.handler.codec.http2.Http2FrameTypes.SETTINGS, out.getByte(out.readerIndex() + 3));
      out.skipBytes(9 + out.getUnsignedMedium(out.readerIndex()));
      int length = out.readUnsignedMedium();
      assertEquals(io.netty.handler.codec.http2.Http2FrameTypes.GO_AWAY, out.readByte(), "GOAWAY");
      out.skipBytes(1 + 4); // flags, stream 0
      assertEquals(0, out.readInt(), "last stream id: none");
      assertEquals(0, out.readInt(), "NO_ERROR");
      String debug = out.readCharSequence(length - 8, StandardCharsets.UTF_8).toString();
      assertFalse(out.isReadable(), "nothing after the GOAWAY");
      assertFalse(ch.isOpen(), "closed after the GOAWAY");
      assertTrue(grpc.events.isEmpty(), "gRPC never takes over");
      assertTrue(grpc.reads.isEmpty());
      assertFalse(ch.finish());
      return debug;
    } finally {
      out.release();
    }
  }

  @Test
  void nativePrefaceAndSettingsAreHandedToGrpcUnchangedOnceBothArrived() {
    EmbeddedChannel ch = startNative(AccessPolicy.OPEN, new TunnelCounter(AccessPolicy.OPEN));
    ch.writeInbound(Unpooled.wrappedBuffer(PREFACE));
    ch.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOf(SETTINGS, 10)));
    assertTrue(next.events.isEmpty(), "not before the client's SETTINGS arrived whole");
    ch.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOfRange(SETTINGS, 10, SETTINGS.length)));
    assertEquals(1, next.events.size(), "gRPC takes over: " + next.events);
    ByteBuf passed = Unpooled.buffer();
    for (Object read : next.reads) {
      passed.writeBytes((ByteBuf) read);
      assertTrue(((ByteBuf) read).release());
    }
    byte[] expected = new byte[PREFACE.length + SETTINGS.length];
    System.arraycopy(PREFACE, 0, expected, 0, PREFACE.length);
    System.arraycopy(SETTINGS, 0, expected, PREFACE.length, SETTINGS.length);
    assertEquals(Unpooled.wrappedBuffer(expected), passed, "every byte passed on unchanged");
    passed.release();
    ch.advanceTimeBy(1, TimeUnit.HOURS);
    ch.runScheduledPendingTasks();
    assertNull(ch.readOutbound(), "no timeout after the SETTINGS");
    assertTrue(ch.isOpen());
    assertTrue(refusals.isEmpty());
    assertFalse(ch.finish());
  }

  @Test
  void nativePrefaceWithoutSettingsGetsGoAwayWhenTheHandshakeTimeoutPasses() {
    assertPrefaceOnlyGetsTheTimeoutsGoAwayAfter(startNative(AccessPolicy.OPEN, new TunnelCounter(AccessPolicy.OPEN)),
        250);
  }

  /** Sends only the preface: nothing comes back until {@code millis} have passed, then the timeout's GOAWAY. */
  private void assertPrefaceOnlyGetsTheTimeoutsGoAwayAfter(EmbeddedChannel ch, long millis) {
    ch.writeInbound(Unpooled.wrappedBuffer(PREFACE));
    ch.advanceTimeBy(millis - 1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertNull(ch.readOutbound());
    ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertEquals("expected the HTTP/2 preface and SETTINGS within 250 ms but SETTINGS did not arrive",
        assertGoAway(ch));
    assertEquals(List.of("408 timeout"), refusals);
  }

  @Test
  void theHandshakeTimeoutCountsFromTheConnectionsStartWhenTheStepStartsLate() {
    // A busy server reached the upgrade step 200 ms after HandshakeBackstop marked the start: the answer still
    // comes at 250 ms, a second before the backstop's silent close.
    assertPrefaceOnlyGetsTheTimeoutsGoAwayAfter(startNative(AccessPolicy.OPEN, new TunnelCounter(AccessPolicy.OPEN),
        next, true, 200), 50);
  }

  @Test
  void nativeConnectionRefusedByTheAdmissionGetsGoAwayWithTheReason() {
    java.util.List<String> paths = new ArrayList<>();
    AccessPolicy draining = AccessPolicy.newBuilder().admission((client, path) -> {
      paths.add(String.valueOf(path));
      return TunnelAdmission.Refusal.unavailable("draining: retry elsewhere", 5);
    }).build();
    EmbeddedChannel ch = startNative(draining, new TunnelCounter(draining));
    ch.writeInbound(Unpooled.wrappedBuffer(PREFACE, SETTINGS));
    // The refusal waits for a call to answer (see NativeGrpcGateTest); one that never comes gets GOAWAY.
    ch.advanceTimeBy(250, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertEquals("draining: retry elsewhere", assertGoAway(ch));
    assertEquals(List.of("null"), paths, "asked once, without a path");
    assertEquals(List.of("503 rejected"), refusals);
  }

  @Test
  void nativeConnectionsTakeTunnelSlotsAtTheirPrefaceAndGiveThemBackWhenClosed() {
    AccessPolicy one = AccessPolicy.newBuilder().maxTunnelsPerClient(1).build();
    TunnelCounter counter = new TunnelCounter(one);
    EmbeddedChannel first = startNative(one, counter);
    first.writeInbound(Unpooled.wrappedBuffer(PREFACE)); // only the preface: holds its slot until the deadline
    assertNull(first.readOutbound());
    assertEquals(1, counter.clients());

    InboundRecorder secondGrpc = new InboundRecorder();
    EmbeddedChannel second = startNative(one, counter, secondGrpc);
    second.writeInbound(Unpooled.wrappedBuffer(PREFACE, SETTINGS));
    second.advanceTimeBy(250, TimeUnit.MILLISECONDS);
    second.runScheduledPendingTasks();
    assertEquals("too many tunnels open from your address; retry later", assertGoAway(second, secondGrpc));
    assertEquals(List.of("503 too_many_tunnels_per_client"), refusals);

    first.advanceTimeBy(1, TimeUnit.HOURS);
    first.runScheduledPendingTasks();
    assertEquals("expected the HTTP/2 preface and SETTINGS within 250 ms but SETTINGS did not arrive",
        assertGoAway(first));
    assertEquals(0, counter.clients(), "the slot is given back once, when the connection closes");
  }

  @Test
  void nativeConnectionWhoseCallsNobodyChecksIsRefusedWhenTheAuthenticatorNeedsHeaders() {
    AccessPolicy tokens = AccessPolicy.newBuilder().authenticator(BearerTokens.of(Map.of("secret", "alice"))).build();
    EmbeddedChannel ch = startNative(tokens, new TunnelCounter(tokens), next, false);
    ch.writeInbound(Unpooled.wrappedBuffer(PREFACE, SETTINGS));
    ch.advanceTimeBy(250, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    String reason = assertGoAway(ch); // gRPC never takes over: no call reaches a service
    assertTrue(reason.endsWith("; native gRPC connections to this server are authenticated as a whole, without "
        + "headers: send the credentials through a WebSocket tunnel"), reason);
    assertEquals(List.of("401 unauthorized"), refusals);
  }

  @Test
  void anAuthenticatorThatThrowsIsAnswered500AndReported() {
    assertAuthenticatorFailed(request -> {
      throw new IllegalStateException("parser choked on Bearer secret");
    });
  }

  @Test
  void anAuthenticatorThatDecidesNothingIsAnswered500AndReported() {
    assertAuthenticatorFailed(request -> null);
  }

  /** The server's failure, not the client's: 500 without the authenticator's words, reported as such. */
  private void assertAuthenticatorFailed(TunnelAuthenticator failing) {
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder().listener(refusalRecorder)
        .access(AccessPolicy.newBuilder().authenticator(failing).build()).build());
    ch.writeInbound(Request.valid().with("Authorization: Bearer secret").bytes());
    assertRefused(ch, "HTTP/1.1 500 Internal Server Error",
        "the server could not check the credentials: its authenticator failed");
    assertEquals(List.of("500 authenticator"), refusals);
  }

  @Test
  void aNativeConnectionWhoseAuthenticatorThrowsIsRefusedAsTheServersFailure() {
    AccessPolicy throwing = AccessPolicy.newBuilder().authenticator(request -> {
      throw new IllegalStateException("no");
    }).build();
    EmbeddedChannel ch = startNative(throwing, new TunnelCounter(throwing), next, false);
    ch.writeInbound(Unpooled.wrappedBuffer(PREFACE, SETTINGS));
    ch.advanceTimeBy(250, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    String reason = assertGoAway(ch);
    assertTrue(reason.startsWith("the server could not check the credentials: its authenticator failed"), reason);
    assertEquals(List.of("500 authenticator"), refusals);
  }

  @Test
  void nativeConnectionWhoseCallsNobodyChecksIsAdmittedAsAWholeWhenTheAuthenticatorAcceptsWhatItShows() {
    java.util.List<String> asked = new ArrayList<>();
    AccessPolicy byConnection = AccessPolicy.newBuilder().authenticator(request -> {
      asked.add(request.path() + " " + request.header("authorization"));
      return AuthDecision.accept("the-connection");
    }).build();
    EmbeddedChannel ch = startNative(byConnection, new TunnelCounter(byConnection), next, false);
    ch.writeInbound(Unpooled.wrappedBuffer(PREFACE, SETTINGS));
    assertEquals(List.of("/grpc null"), asked, "asked once, at the preface, as a tunnel without headers");
    assertEquals(1, next.events.size(), "gRPC takes over: " + next.events);
    io.grpc.Attributes attributes = InternalProtocolNegotiationEvent.getAttributes(
        (ProtocolNegotiationEvent) next.events.get(0));
    assertEquals("the-connection", attributes.get(TunnelPrincipal.ATTRIBUTE), "every call has the principal");
    assertNull(attributes.get(NativeCallAuthenticator.ATTRIBUTE), "authenticated already");
    for (Object read : next.reads) {
      assertTrue(((ByteBuf) read).release());
    }
    assertTrue(refusals.isEmpty());
    assertFalse(ch.finish());
  }

  @Test
  void nativeConnectionOfAServerThatChecksEachCallIsLeftToThePerCallCheck() {
    AccessPolicy tokens = AccessPolicy.newBuilder().authenticator(BearerTokens.of(Map.of("secret", "alice"))).build();
    EmbeddedChannel ch = startNative(tokens, new TunnelCounter(tokens), next, true);
    ch.writeInbound(Unpooled.wrappedBuffer(PREFACE, SETTINGS));
    assertEquals(1, next.events.size(), "gRPC takes over: " + next.events);
    io.grpc.Attributes attributes = InternalProtocolNegotiationEvent.getAttributes(
        (ProtocolNegotiationEvent) next.events.get(0));
    assertNotNull(attributes.get(NativeCallAuthenticator.ATTRIBUTE));
    assertNull(attributes.get(TunnelPrincipal.ATTRIBUTE));
    for (Object read : next.reads) {
      assertTrue(((ByteBuf) read).release());
    }
    assertFalse(ch.finish());
  }

  // ---- cross-site requests with credentials browsers send by themselves ------------------------------------------

  /** An authenticator that reads a session cookie, as a browser sends it with a request from any page. */
  private static final TunnelAuthenticator COOKIES = new TunnelAuthenticator() {
    @Override
    public AuthDecision authenticate(UpgradeRequest request) {
      return "session=alice".equals(request.header("Cookie")) ? AuthDecision.accept("alice")
          : AuthDecision.unauthorized("expected a session cookie");
    }

    @Override
    public boolean readsAmbientCredentials() {
      return true;
    }
  };

  private static WebSocketServerOptions cookieServer(AccessPolicy.Builder access) {
    return WebSocketServerOptions.newBuilder().access(access.authenticator(COOKIES).build()).build();
  }

  private void assertUpgraded(WebSocketServerOptions options, Request request) {
    // Recorders of its own: a test checks several servers.
    EmbeddedChannel ch = new EmbeddedChannel(new GrpcHandoffHandler(new InboundRecorder(), null, options,
        new TunnelCounter(options.access()), true, NoopChannelLogger.INSTANCE), new InboundRecorder());
    ch.freezeTime();
    ch.pipeline().fireUserEventTriggered(event);
    ch.writeInbound(request.bytes());
    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 101 Switching Protocols", r.startLine, r.raw);
    closeUpgraded(ch);
  }

  @Test
  void ambientCredentialsFromAnotherSiteAre403WithoutAnOriginList() {
    EmbeddedChannel ch = start(cookieServer(AccessPolicy.newBuilder()));
    ch.writeInbound(Request.valid().with("Cookie: session=alice").with("Origin: https://evil.example.net").bytes());
    assertRefused(ch, "HTTP/1.1 403 Forbidden", "expected an Origin of the same site as Host 'example.com:8080' "
        + "(the authenticator reads credentials browsers send by themselves; list the origins allowed to use them) "
        + "but was 'https://evil.example.net'");
  }

  @Test
  void opaqueOriginWithAmbientCredentialsIs403() {
    EmbeddedChannel ch = start(cookieServer(AccessPolicy.newBuilder()));
    ch.writeInbound(Request.valid().with("Cookie: session=alice").with("Origin: null").bytes());
    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 403 Forbidden", r.startLine, r.raw);
    assertFalse(ch.finish());
  }

  @Test
  void ambientCredentialsFromTheSameSiteListedOriginsOrTheOptOutAreUpgraded() {
    Request cookie = Request.valid().with("Cookie: session=alice");
    assertUpgraded(cookieServer(AccessPolicy.newBuilder()), cookie.with("Origin: http://EXAMPLE.com:8080"));
    assertUpgraded(cookieServer(AccessPolicy.newBuilder().allowedOrigins(List.of("https://evil.example.net"))),
        Request.valid().with("Cookie: session=alice").with("Origin: https://evil.example.net"));
    assertUpgraded(cookieServer(AccessPolicy.newBuilder().crossSiteCredentialsAllowed(true)),
        Request.valid().with("Cookie: session=alice").with("Origin: https://evil.example.net"));
    assertUpgraded(cookieServer(AccessPolicy.newBuilder()), Request.valid().with("Cookie: session=alice"));
  }

  // ---- tunnels from web pages ------------------------------------------------------------------------------------

  @Test
  void aTunnelFromAPageOfAnotherSiteIs403WithoutCredentialsOrAList() {
    // Our clients send no Origin; a browser always does, and a page's script can speak HTTP/2 in binary messages.
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder().listener(refusalRecorder).build());
    ch.writeInbound(Request.valid().with("Origin: https://evil.example.net").bytes());
    assertRefused(ch, "HTTP/1.1 403 Forbidden", "expected an Origin of the same site as Host 'example.com:8080' "
        + "(a web page may open tunnels on its own site only; list the origins allowed to use them) but was "
        + "'https://evil.example.net'");
    assertEquals(List.of("403 origin"), refusals);
    assertTrue(next.events.isEmpty(), "gRPC never takes over");
  }

  @Test
  void aTunnelFromAPageOfAnotherSiteIs403EvenWithABearerToken() {
    // A page that holds the token could use it; still, only listed origins may open tunnels from another site.
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder().access(AccessPolicy.newBuilder()
        .authenticator(BearerTokens.of(java.util.Map.of("t0ken", "alice"))).build()).build());
    ch.writeInbound(Request.valid().with("Authorization: Bearer t0ken").with("Origin: https://evil.example.net")
        .bytes());
    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 403 Forbidden", r.startLine, r.raw);
    assertFalse(ch.finish());
  }

  @Test
  void anOpaqueOriginOpensNoTunnel() {
    EmbeddedChannel ch = start();
    ch.writeInbound(Request.valid().with("Origin: null").bytes());
    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 403 Forbidden", r.startLine, r.raw);
    assertFalse(ch.finish());
  }

  @Test
  void tunnelsWithoutOriginFromTheSameSiteListedOriginsOrTheOptOutAreUpgraded() {
    assertUpgraded(WebSocketServerOptions.DEFAULT, Request.valid());
    assertUpgraded(WebSocketServerOptions.DEFAULT, Request.valid().with("Origin: http://EXAMPLE.com:8080"));
    assertUpgraded(WebSocketServerOptions.DEFAULT, Request.valid().with("Origin: https://example.com:8080"));
    assertUpgraded(WebSocketServerOptions.newBuilder().access(AccessPolicy.newBuilder()
        .allowedOrigins(List.of("https://evil.example.net")).build()).build(),
        Request.valid().with("Origin: https://evil.example.net"));
    assertUpgraded(WebSocketServerOptions.newBuilder().access(AccessPolicy.newBuilder()
        .crossSiteCredentialsAllowed(true).build()).build(), Request.valid().with("Origin: https://evil.example.net"));
  }

  @Test
  void aListOfOriginsStillDecidesAloneForTunnels() {
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder().access(AccessPolicy.newBuilder()
        .allowedOrigins(List.of("https://app.example.com")).build()).build());
    ch.writeInbound(Request.valid().with("Origin: http://example.com:8080").bytes());
    assertRefused(ch, "HTTP/1.1 403 Forbidden", "expected an allowed Origin but was 'http://example.com:8080'");
  }

  @Test
  void browserCallsForAnyOriginWithoutAmbientCredentialsKeepTheirOwnRule() {
    // BrowserOptions of * let any page call: the tunnel rule does not reach them.
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder().browser(BrowserOptions.forOrigins("*")).build());
    ch.writeInbound(Unpooled.copiedBuffer("POST /pkg.Svc/Method HTTP/1.1\r\nHost: example.com:8080\r\n"
        + "Content-Type: application/grpc-web+proto\r\nOrigin: https://evil.example.net\r\n"
        + "Content-Length: 0\r\n\r\n", StandardCharsets.US_ASCII));
    assertFalse(next.events.isEmpty(), "admitted: gRPC takes over");
    next.reads.forEach(io.netty.util.ReferenceCountUtil::release);
    ch.finishAndReleaseAll();
  }

  @Test
  void aGrpcWebRequestInAnotherFormatThanProtobufIs415BeforeItIsAdmitted() {
    // No credentials, on a server that wants them: the format is refused first, as grpc-java refuses a content type.
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder().browser(BrowserOptions.forOrigins("*"))
        .listener(refusalRecorder).access(AccessPolicy.newBuilder()
            .authenticator(BearerTokens.of(java.util.Map.of("t0ken", "alice"))).build()).build());
    ch.writeInbound(Unpooled.wrappedBuffer(ascii("POST /pkg.Svc/Method HTTP/1.1\r\nHost: example.com:8080\r\n"
        + "Content-Type: application/grpc-web+json\r\nContent-Length: 0\r\n\r\n")));
    assertRefused(ch, "HTTP/1.1 415 Unsupported Media Type", "expected application/grpc-web[+proto] or "
        + "application/grpc-web-text[+proto] but was application/grpc-web+json");
    assertEquals(List.of("415 media_type"), refusals, "refused, not admitted (no TunnelEstablishedEvent either)");
  }

  @Test
  void browserCallsForAnyOriginWithAmbientCredentialsFromAnotherSiteArePermissionDenied() {
    WebSocketServerOptions options = cookieServer(AccessPolicy.newBuilder()).toBuilder()
        .browser(BrowserOptions.forOrigins("*")).build();
    EmbeddedChannel ch = start(options);
    ch.writeInbound(Unpooled.copiedBuffer("POST /pkg.Svc/Method HTTP/1.1\r\nHost: example.com:8080\r\n"
        + "Content-Type: application/grpc-web+proto\r\nCookie: session=alice\r\n"
        + "Origin: https://evil.example.net\r\nContent-Length: 0\r\n\r\n", StandardCharsets.US_ASCII));
    String answer = written(ch);
    // A page reads the refusal as a gRPC status: PERMISSION_DENIED (7), its reason percent-encoded.
    assertTrue(answer.contains("grpc-status: 7"), answer);
    assertTrue(answer.contains("grpc-message: expected an Origin of the same site as Host 'example.com:8080'"),
        answer);
    assertTrue(next.events.isEmpty(), "gRPC never takes over");
    ch.finishAndReleaseAll();
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"gzip", "identity", "x", "gzip, chunked"})
  void aTransferEncodingOtherThanChunkedAloneGets400AndTheBodyIsNeverReadAsFrames(String coding) {
    // RFC 9112 6.3: a request whose final transfer coding is not chunked has no length the server can know.
    {
      EmbeddedChannel ch = start();
      ch.freezeTime();
      ch.writeInbound(Request.valid().with("Transfer-Encoding: " + coding).body("hello").bytes());
      if (ch.isOpen()) {
        // Lingering for the body the client declared (the decoder may have read "hello" as a request and ended it).
        ch.advanceTimeBy(LingeringClose.LINGER_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
      }
      assertRefused(ch, "HTTP/1.1 400 Bad Request", "expected no Transfer-Encoding or 'chunked' but was " + coding);
    }
  }

  @Test
  void aGrpcWebRequestWithATransferEncodingOtherThanChunkedGets400() {
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder().browser(BrowserOptions.forOrigins("*")).build());
    ch.freezeTime();
    ch.writeInbound(Unpooled.wrappedBuffer(ascii("POST /pkg.Svc/Method HTTP/1.1\r\nHost: example.com:8080\r\n"
        + "Content-Type: application/grpc-web+proto\r\nTransfer-Encoding: identity\r\n\r\n"
        + "\u0000\u0000\u0000\u0000\u0000")));
    if (ch.isOpen()) {
      ch.advanceTimeBy(LingeringClose.LINGER_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
      ch.runScheduledPendingTasks();
    }
    assertRefused(ch, "HTTP/1.1 400 Bad Request", "expected no Transfer-Encoding or 'chunked' but was identity");
  }

  // ---- plain HTTP answered later ------------------------------------------------------------------------------

  /** A {@link PlainHttpHandler} whose answer completes when the test completes {@link #later}. */
  private static final class AnswersLater implements PlainHttpHandler {
    final CompletableFuture<FullHttpResponse> later = new CompletableFuture<>();

    @Override
    public FullHttpResponse handle(HttpRequest request, SocketAddress clientAddress, ByteBufAllocator alloc) {
      throw new AssertionError("answer(...) is called, not handle(...)");
    }

    @Override
    public CompletionStage<FullHttpResponse> answer(HttpRequest request, SocketAddress clientAddress,
        ByteBufAllocator alloc) {
      return later;
    }
  }

  private EmbeddedChannel startPlain(PlainHttpHandler handler) {
    return start(WebSocketServerOptions.newBuilder().plainHttpHandler(handler)
        .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofMillis(250)).build()).build());
  }

  /** A channel whose {@code GET /metrics} waits for {@code handler}'s answer. */
  private EmbeddedChannel asked(AnswersLater handler) {
    EmbeddedChannel ch = startPlain(handler);
    ch.writeInbound(Unpooled.copiedBuffer("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", StandardCharsets.US_ASCII));
    return ch;
  }

  private static FullHttpResponse text(String body) {
    return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
        Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
  }

  @Test
  void anAnswerMadeLaterIsWrittenWhenReadyAndPipelinedRequestsAreDropped() {
    AnswersLater handler = new AnswersLater();
    EmbeddedChannel ch = startPlain(handler);
    ch.writeInbound(Unpooled.copiedBuffer("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        + "GET /other HTTP/1.1\r\nHost: x\r\n\r\nextra bytes", StandardCharsets.US_ASCII));
    ch.runPendingTasks();
    assertNull(ch.readOutbound(), "nothing is written before the answer, not even for the pipelined request");
    assertTrue(ch.isOpen());

    ch.advanceTimeBy(249, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    handler.later.complete(text("later\n"));
    ch.runPendingTasks();
    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 200 OK", r.startLine, r.raw);
    assertEquals("close", r.header("Connection"));
    assertEquals("6", r.header("Content-Length"));
    assertEquals("later\n", r.body);
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  /** A handler whose {@code /metrics} asks for the server's authenticator, and which counts what it was asked. */
  private static final class GuardedMetrics implements PlainHttpHandler {
    final List<String> answered = new ArrayList<>();

    @Override
    public FullHttpResponse handle(HttpRequest request, SocketAddress clientAddress, ByteBufAllocator alloc) {
      answered.add(request.uri());
      return text("page\n");
    }

    @Override
    public boolean requiresAuthentication(HttpRequest request) {
      return request.uri().startsWith("/metrics");
    }
  }

  private EmbeddedChannel plainWithTokens(PlainHttpHandler handler, String request) {
    EmbeddedChannel ch = start(WebSocketServerOptions.newBuilder().plainHttpHandler(handler)
        .access(AccessPolicy.newBuilder().authenticator(BearerTokens.of(Map.of("secret", "alice"))).build()).build());
    ch.writeInbound(Unpooled.copiedBuffer(request, StandardCharsets.US_ASCII));
    ch.runPendingTasks();
    return ch;
  }

  @Test
  void aPlainAnswerThatRequiresAuthenticationIsRefusedWithoutCredentials() {
    GuardedMetrics handler = new GuardedMetrics();
    EmbeddedChannel ch = plainWithTokens(handler, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 401 Unauthorized", r.startLine, r.raw);
    assertEquals("expected a bearer token in Authorization or a bearer.<token> subprotocol\n", r.body);
    assertEquals("close", r.header("Connection"));
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
    assertEquals(List.of(), handler.answered, "the handler is not asked about a refused request");
  }

  @Test
  void aPlainAnswerThatRequiresAuthenticationIsRefusedWithTheAuthenticatorsChallenge() {
    GuardedMetrics handler = new GuardedMetrics();
    EmbeddedChannel ch = plainWithTokens(handler,
        "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer guess\r\n\r\n");
    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 401 Unauthorized", r.startLine, r.raw);
    assertEquals("Bearer realm=\"wsgrpc\", error=\"invalid_token\"", r.header("WWW-Authenticate"));
    assertFalse(ch.finish());
    assertEquals(List.of(), handler.answered, "the handler is not asked about a refused request");
  }

  @Test
  void aPlainAnswerThatRequiresAuthenticationIsGivenToThoseTheAuthenticatorAdmits() {
    GuardedMetrics handler = new GuardedMetrics();
    EmbeddedChannel ch = plainWithTokens(handler,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n\r\n");
    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 200 OK", r.startLine, r.raw);
    assertEquals("page\n", r.body);
    assertFalse(ch.finish());
    assertEquals(List.of("/metrics"), handler.answered);
  }

  @Test
  void aPlainAnswerThatRequiresNoAuthenticationIsGivenWithoutCredentials() {
    GuardedMetrics handler = new GuardedMetrics();
    EmbeddedChannel ch = plainWithTokens(handler, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assertEquals("HTTP/1.1 200 OK", new HttpHead(written(ch)).startLine);
    assertFalse(ch.finish());
    assertEquals(List.of("/healthz"), handler.answered);
  }

  @Test
  void aPlainAnswerThatRequiresAuthenticationIsGivenToAnyoneWithoutAnAuthenticator() {
    GuardedMetrics handler = new GuardedMetrics();
    EmbeddedChannel ch = startPlain(handler);
    ch.writeInbound(Unpooled.copiedBuffer("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", StandardCharsets.US_ASCII));
    ch.runPendingTasks();
    assertEquals("HTTP/1.1 200 OK", new HttpHead(written(ch)).startLine);
    assertFalse(ch.finish());
  }

  @Test
  void anAnswerReadyAfterTheConnectionClosedIsReleasedUnwritten() {
    AnswersLater handler = new AnswersLater();
    EmbeddedChannel ch = asked(handler);
    ch.close();
    FullHttpResponse late = text("late\n");
    handler.later.complete(late);
    ch.runPendingTasks();
    assertEquals(0, late.refCnt(), "released once");
    assertNull(ch.readOutbound());
    assertFalse(ch.finish());
  }

  @Test
  void anAnswerThatFailsLaterIs500() {
    AnswersLater handler = new AnswersLater();
    EmbeddedChannel ch = asked(handler);
    handler.later.completeExceptionally(new IllegalStateException("test: rendering failed"));
    ch.runPendingTasks();
    assertRefused(ch, "HTTP/1.1 500 Internal Server Error", "internal error");
  }

  @Test
  void aNullAnswerLaterIs404() {
    AnswersLater handler = new AnswersLater();
    EmbeddedChannel ch = asked(handler);
    handler.later.complete(null);
    ch.runPendingTasks();
    assertRefused(ch, "HTTP/1.1 404 Not Found", "no WebSocket endpoint at /metrics");
  }

  @Test
  void anAnswerNotReadyWithinTheHandshakeTimeoutIs503AndReleasedWhenItComes() {
    AnswersLater handler = new AnswersLater();
    EmbeddedChannel ch = asked(handler);
    ch.advanceTimeBy(250, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertRefused(ch, "HTTP/1.1 503 Service Unavailable", "expected the answer within 250 ms but it was not ready");
    FullHttpResponse late = text("late\n");
    handler.later.complete(late);
    assertEquals(0, late.refCnt(), "released once, unwritten");
  }

  @Test
  void anAnswerReadyAtOnceIsWrittenAtOnce() {
    EmbeddedChannel ch = startPlain((request, client, alloc) -> text("now\n"));
    ch.writeInbound(Unpooled.copiedBuffer("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", StandardCharsets.US_ASCII));
    HttpHead r = new HttpHead(written(ch));
    assertEquals("HTTP/1.1 200 OK", r.startLine, r.raw);
    assertEquals("now\n", r.body);
    assertFalse(ch.isOpen());
    assertFalse(ch.finish());
  }

  @Test
  void aHandlerThatThrowsIs500() {
    EmbeddedChannel ch = startPlain((request, client, alloc) -> {
      throw new IllegalStateException("test: handler failed");
    });
    ch.writeInbound(Unpooled.copiedBuffer("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", StandardCharsets.US_ASCII));
    assertRefused(ch, "HTTP/1.1 500 Internal Server Error", "internal error");
  }
}
