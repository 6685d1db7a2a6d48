package dev.wsgrpc.client;

import static dev.wsgrpc.testing.Outbound.written;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.core.internal.FramePipeline;
import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.Http2PrefaceCheck;
import dev.wsgrpc.core.internal.WsgrpcVersion;
import dev.wsgrpc.testing.HttpHead;
import dev.wsgrpc.testing.InboundRecorder;
import dev.wsgrpc.testing.NoopChannelLogger;
import io.grpc.Attributes;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.internal.GrpcAttributes;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.ProtocolNegotiationEvent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ClientUpgradeHandlerTest {

  private static final String URL = "ws://example.com:8080/grpc?x=1";
  private static final long TIMEOUT_MILLIS = 2_000;

  /** gRPC's handler, which takes over after the upgrade. */
  private InboundRecorder next = new InboundRecorder();
  /** After the upgrade step: sees its exceptions and events. */
  private InboundRecorder tail = new InboundRecorder();
  private ProtocolNegotiationEvent event = InternalProtocolNegotiationEvent.getDefault();
  private EmbeddedChannel ch;
  private HttpHead request;

  /** Starts the upgrade step for {@code options} and reads the request it sends. */
  private EmbeddedChannel start(WebSocketClientOptions options) {
    return start(options, new HandshakeDeadline(TIMEOUT_MILLIS, options.safeUrl()));
  }

  private EmbeddedChannel start(WebSocketClientOptions options, HandshakeDeadline deadline) {
    next = new InboundRecorder();
    tail = new InboundRecorder();
    ch = new EmbeddedChannel(new ClientUpgradeHandler(next, options, deadline, HandshakeProgress.NONE,
        NoopChannelLogger.INSTANCE), tail);
    ch.freezeTime();
    ch.pipeline().fireUserEventTriggered(event);
    String raw = written(ch);
    request = raw.isEmpty() ? null : new HttpHead(raw);
    return ch;
  }

  private EmbeddedChannel start() {
    return start(WebSocketClientOptions.newBuilder(URL).build());
  }

  private String expectedAccept() {
    return Http11Tokens.acceptFor(request.header("Sec-WebSocket-Key"));
  }

  /** The 101 a correct server sends for the request read in {@link #start}. */
  private String accepted(String... extraHeaderLines) {
    StringBuilder r = new StringBuilder("HTTP/1.1 101 Switching Protocols\r\n"
        + "Upgrade: websocket\r\n"
        + "Connection: Upgrade\r\n"
        + "Sec-WebSocket-Accept: " + expectedAccept() + "\r\n");
    for (String line : extraHeaderLines) {
      r.append(line).append("\r\n");
    }
    return r.append("\r\n").toString();
  }

  private static ByteBuf ascii(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
  }

  /** A server frame: FIN, binary, unmasked. */
  private static ByteBuf serverFrame(String payload) {
    byte[] data = payload.getBytes(StandardCharsets.US_ASCII);
    ByteBuf frame = Unpooled.buffer();
    frame.writeByte(0x82);
    frame.writeByte(data.length);
    frame.writeBytes(data);
    return frame;
  }

  /** Checks a failed handshake: one UNAVAILABLE with {@code description}, gRPC never took over. */
  private StatusRuntimeException assertFailed(String description) {
    StatusRuntimeException e = tail.onlyException(StatusRuntimeException.class);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    if (description != null) {
      assertEquals(description, e.getStatus().getDescription());
    }
    assertTrue(next.events.isEmpty(), "gRPC never takes over");
    assertTrue(next.reads.isEmpty());
    assertNull(ch.pipeline().context(next), "the upgrade step was not replaced");
    return e;
  }

  private StatusRuntimeException refusedWith(String response) {
    start();
    ch.writeInbound(ascii(response));
    return tail.onlyException(StatusRuntimeException.class);
  }

  /** Closes an upgraded channel: the frame handlers send a masked Close 1000, then nothing is left. */
  private static void closeUpgraded(EmbeddedChannel ch) {
    ch.close();
    assertEquals(2, assertCloseWritten(ch, 1000, "clients close with Normal Closure"), "code only");
    assertFalse(ch.finish());
  }

  /** Reads the masked Close the frame handlers wrote, checks its code and returns its payload's length. */
  private static int assertCloseWritten(EmbeddedChannel ch, int expectedCode, String why) {
    ByteBuf close = ch.readOutbound();
    assertEquals(0x88, close.readUnsignedByte(), "FIN + close");
    int length = close.readUnsignedByte();
    assertEquals(0x80, length & 0x80, "masked");
    byte[] mask = new byte[4];
    close.readBytes(mask);
    int code = ((close.readUnsignedByte() ^ (mask[0] & 0xff)) << 8) | (close.readUnsignedByte() ^ (mask[1] & 0xff));
    assertEquals(expectedCode, code, why);
    assertTrue(close.release());
    return length & 0x7f;
  }

  // ---- the request --------------------------------------------------------------------------------------------

  @Test
  void whatGrpcFlushesWhileThe101IsReadLeavesInOneFlush() {
    // gRPC's client handler, once it takes over, writes the preface and SETTINGS, then a WINDOW_UPDATE, flushing each.
    io.netty.channel.ChannelInboundHandlerAdapter grpc = new io.netty.channel.ChannelInboundHandlerAdapter() {
      @Override
      public void handlerAdded(io.netty.channel.ChannelHandlerContext ctx) {
        ctx.writeAndFlush(ascii("preface"));
        ctx.writeAndFlush(ascii("window"));
      }
    };
    int[] flushes = {0};
    io.netty.channel.ChannelOutboundHandlerAdapter socket = new io.netty.channel.ChannelOutboundHandlerAdapter() {
      @Override
      public void flush(io.netty.channel.ChannelHandlerContext ctx) {
        flushes[0]++;
        ctx.flush();
      }
    };
    WebSocketClientOptions options = WebSocketClientOptions.newBuilder(URL).build();
    ch = new EmbeddedChannel(socket, new ClientUpgradeHandler(grpc, options,
        new HandshakeDeadline(TIMEOUT_MILLIS, options.safeUrl()), HandshakeProgress.NONE, NoopChannelLogger.INSTANCE));
    ch.freezeTime();
    ch.pipeline().fireUserEventTriggered(event);
    request = new HttpHead(written(ch));
    flushes[0] = 0;

    ch.writeInbound(ascii(accepted()));

    assertEquals(1, flushes[0], "one flush (one system call) for both frames");
    assertNull(ch.pipeline().get(FramePipeline.FLUSH_CONSOLIDATION), "the tunnel's own flushes are gRPC's");
    ByteBuf first = ch.readOutbound();
    ByteBuf second = ch.readOutbound();
    assertEquals(0x82, first.getUnsignedByte(first.readerIndex()), "a binary frame");
    assertEquals(0x82, second.getUnsignedByte(second.readerIndex()), "a binary frame");
    assertTrue(first.release());
    assertTrue(second.release());
    ch.finishAndReleaseAll();
  }

  @Test
  void requestIsAnRfc6455OpeningHandshake() {
    start();

    assertEquals("GET /grpc?x=1 HTTP/1.1", request.startLine);
    assertEquals("example.com:8080", request.header("Host"));
    assertEquals("websocket", request.header("Upgrade"));
    assertEquals("Upgrade", request.header("Connection"));
    assertEquals("13", request.header("Sec-WebSocket-Version"));
    assertEquals("wsgrpc.v1", request.header("Sec-WebSocket-Protocol"));
    assertTrue(Http11Tokens.isValidKey(request.header("Sec-WebSocket-Key")), request.header("Sec-WebSocket-Key"));
    assertEquals("wsgrpc-java/" + WsgrpcVersion.version(), request.header("User-Agent"));
    assertNull(request.header("Origin"));
    assertNull(request.header("Sec-WebSocket-Extensions"), "no extensions are offered");
    assertEquals("", request.body);
    assertNotNull(ch.pipeline().get(ClientUpgradeHandler.HTTP_CODEC));
    assertTrue(ch.isOpen());
    assertFalse(ch.finish());
  }

  @Test
  void hostHeaderOmitsTheDefaultPort() {
    start(WebSocketClientOptions.newBuilder("ws://example.com/grpc").build());
    assertEquals("GET /grpc HTTP/1.1", request.startLine);
    assertEquals("example.com", request.header("Host"));
    assertFalse(ch.finish());
  }

  @Test
  void everyHandshakeUsesAFreshKey() {
    start();
    String first = request.header("Sec-WebSocket-Key");
    assertFalse(ch.finish());
    start();
    assertFalse(first.equals(request.header("Sec-WebSocket-Key")));
    assertFalse(ch.finish());
  }

  @Test
  void staticHeadersAndSuppliedHeadersAreSent() {
    AtomicInteger calls = new AtomicInteger();
    WebSocketClientOptions options = WebSocketClientOptions.newBuilder(URL)
        .header("X-Static", "s")
        .header("X-Shared", "from-header")
        .headersSupplier(() -> {
          int n = calls.incrementAndGet();
          Map<String, String> h = new LinkedHashMap<>();
          h.put("Authorization", "Bearer t" + n);
          h.put("X-Shared", "from-supplier");
          return h;
        })
        .origin("https://app.example.com")
        .build();
    assertEquals(0, calls.get(), "nothing is called before a connection");

    start(options);
    assertEquals(1, calls.get(), "the supplier is called once per handshake");
    assertEquals("s", request.header("X-Static"));
    assertEquals("Bearer t1", request.header("Authorization"));
    assertEquals("from-supplier", request.header("X-Shared"), "supplied headers win over static ones");
    assertEquals("https://app.example.com", request.header("Origin"));
    assertFalse(ch.finish());

    start(options);
    assertEquals(2, calls.get());
    assertEquals("Bearer t2", request.header("Authorization"), "a fresh token per connection");
    assertFalse(ch.finish());
  }

  @Test
  void suppliedUserAgentReplacesTheDefault() {
    start(WebSocketClientOptions.newBuilder(URL).headersSupplier(() -> Map.of("User-Agent", "acme/2.0")).build());
    assertEquals("acme/2.0", request.header("User-Agent"));
    assertFalse(ch.finish());
  }

  @Test
  void staticUserAgentReplacesTheDefault() {
    start(WebSocketClientOptions.newBuilder(URL).header("User-Agent", "acme/2.0").build());
    assertEquals(List.of("acme/2.0"), request.headers.get("user-agent"));
    assertFalse(ch.finish());
  }

  @Test
  void supplierReturningNullAddsNothing() {
    start(WebSocketClientOptions.newBuilder(URL).headersSupplier(() -> null).build());
    assertEquals("GET /grpc?x=1 HTTP/1.1", request.startLine);
    assertFalse(ch.finish());
  }

  @Test
  void noSubprotocolHeaderWhenNoneIsOffered() {
    start(WebSocketClientOptions.newBuilder(URL).subprotocols().build());
    assertNull(request.header("Sec-WebSocket-Protocol"));
    assertFalse(ch.finish());
  }

  @Test
  void severalSubprotocolsAreOfferedInOrder() {
    start(WebSocketClientOptions.newBuilder(URL).subprotocols("wsgrpc.v1", "binary").build());
    assertEquals("wsgrpc.v1, binary", request.header("Sec-WebSocket-Protocol"));
    assertFalse(ch.finish());
  }

  @Test
  void suppliedReservedHeaderFailsTheHandshakeBeforeSending() {
    start(WebSocketClientOptions.newBuilder(URL).headersSupplier(() -> Map.of("Upgrade", "h2c")).build());
    assertNull(request, "nothing is sent");
    assertFailed("could not build the upgrade request for ws://example.com:8080/grpc?<redacted>: header name: Upgrade "
        + "(expected: not one the handshake sets itself)");
    assertFalse(ch.finish());
  }

  @Test
  void suppliedSecretWithLineBreakIsRedactedInTheError() {
    start(WebSocketClientOptions.newBuilder(URL)
        .headersSupplier(() -> Map.of("Authorization", "Bearer hunter2\r\nX-Injected: 1"))
        .build());
    assertNull(request, "nothing is sent");
    StatusRuntimeException e = assertFailed(null);
    String description = e.getStatus().getDescription();
    assertTrue(description.contains("header Authorization: <redacted> (expected: printable Latin-1 without line "
        + "breaks; found U+000D at index 14)"), description);
    assertFalse(description.contains("hunter2"));
    assertFalse(ch.finish());
  }

  /** X-Auth-Key is on no list of sensitive names, and its value is a secret all the same. */
  @Test
  void suppliedValueOfAnyHeaderIsNotQuotedInTheError() {
    start(WebSocketClientOptions.newBuilder(URL)
        .headersSupplier(() -> Map.of("X-Auth-Key", "SECRET\u0001TOKEN"))
        .build());
    assertNull(request, "nothing is sent");
    assertFailed("could not build the upgrade request for ws://example.com:8080/grpc?<redacted>: header X-Auth-Key: "
        + "<redacted> (expected: printable Latin-1 without line breaks; found U+0001 at index 6)");
    assertFalse(ch.finish());
  }

  // ---- a correct answer ---------------------------------------------------------------------------------------

  @Test
  void accepted101ReplacesTheHandlerWithNextAndFiresTheNegotiationEvent() {
    start();
    ch.writeInbound(ascii(accepted("Sec-WebSocket-Protocol: wsgrpc.v1")));

    assertTrue(tail.exceptions.isEmpty(), "exceptions: " + tail.exceptions);
    assertNull(ch.pipeline().get(ClientUpgradeHandler.class));
    assertNull(ch.pipeline().get(ClientUpgradeHandler.HTTP_CODEC), "the HTTP codec is gone");
    List<String> names = ch.pipeline().names();
    int decoder = names.indexOf(FramePipeline.DECODER);
    assertEquals(Arrays.asList(FramePipeline.DECODER, FramePipeline.ENCODER, FramePipeline.KEEPALIVE,
        FramePipeline.CONTROL, FramePipeline.BYTE_STREAM, FramePipeline.ACK_LIMIT, Http2PrefaceCheck.NAME,
        FirstBytesWait.NAME), names.subList(decoder, decoder + 8));
    assertSame(next, ch.pipeline().context(names.get(decoder + 8)).handler());

    assertEquals(1, next.events.size());
    ProtocolNegotiationEvent fired = assertInstanceOf(ProtocolNegotiationEvent.class, next.events.get(0));
    Attributes attrs = InternalProtocolNegotiationEvent.getAttributes(fired);
    assertNotNull(attrs.get(GrpcAttributes.ATTR_AUTHORITY_VERIFIER), "ws needs an authority verifier for gRPC");
    assertTrue(attrs.get(GrpcAttributes.ATTR_AUTHORITY_VERIFIER).verifyAuthority("other.example:1").isOk());

    TunnelEstablishedEvent established = assertInstanceOf(TunnelEstablishedEvent.class, tail.events.get(0));
    assertEquals("/grpc?x=1", established.path());
    assertEquals("wsgrpc.v1", established.subprotocol());
    assertNull(ch.readOutbound(), "nothing more is written");
    closeUpgraded(ch);
  }

  @Test
  void existingAuthorityVerifierIsKept() {
    io.grpc.internal.AuthorityVerifier verifier = authority -> Status.PERMISSION_DENIED;
    event = InternalProtocolNegotiationEvent.withAttributes(InternalProtocolNegotiationEvent.getDefault(),
        Attributes.newBuilder().set(GrpcAttributes.ATTR_AUTHORITY_VERIFIER, verifier).build());
    start();
    ch.writeInbound(ascii(accepted()));

    ProtocolNegotiationEvent fired = (ProtocolNegotiationEvent) next.events.get(0);
    assertSame(verifier, InternalProtocolNegotiationEvent.getAttributes(fired).get(GrpcAttributes.ATTR_AUTHORITY_VERIFIER));
    closeUpgraded(ch);
  }

  @Test
  void serverMayChooseNoSubprotocol() {
    start();
    ch.writeInbound(ascii(accepted()));
    assertTrue(tail.exceptions.isEmpty());
    assertNull(((TunnelEstablishedEvent) tail.events.get(0)).subprotocol());
    assertEquals(1, next.events.size());
    closeUpgraded(ch);
  }

  @Test
  void headerValuesInThe101AreMatchedIgnoringCase() {
    start();
    ch.writeInbound(ascii("HTTP/1.1 101 Switching Protocols\r\n"
        + "upgrade: WebSocket\r\n"
        + "connection: keep-alive, upgrade\r\n"
        + "sec-websocket-accept: " + expectedAccept() + "\r\n\r\n"));
    assertTrue(tail.exceptions.isEmpty(), "exceptions: " + tail.exceptions);
    assertEquals(1, next.events.size());
    closeUpgraded(ch);
  }

  /** RFC 9110 15.2: interim answers before the 101 (a CDN's 103 Early Hints) are read past, in one read or several. */
  @Test
  void interimAnswersBeforeThe101ArePassedOver() {
    start();
    ch.writeInbound(ascii("HTTP/1.1 100 Continue\r\n\r\n"
        + "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"));
    assertTrue(tail.exceptions.isEmpty(), "exceptions: " + tail.exceptions);
    assertTrue(next.events.isEmpty(), "still waiting for the 101");
    ch.writeInbound(Unpooled.wrappedBuffer(ascii("HTTP/1.1 102 Processing\r\n\r\n" + accepted()),
        serverFrame("\0\0\0\4\0\0\0\0\0SETTINGS")));
    assertTrue(tail.exceptions.isEmpty(), "exceptions: " + tail.exceptions);
    assertEquals(1, next.events.size());
    ByteBuf payload = assertInstanceOf(ByteBuf.class, next.reads.get(0));
    assertEquals("\0\0\0\4\0\0\0\0\0SETTINGS", payload.toString(StandardCharsets.US_ASCII));
    assertTrue(payload.release());
    closeUpgraded(ch);
  }

  @Test
  void aFinalAnswerAfterAnInterimOneIsStillChecked() {
    refusedWith("HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    assertFailed("expected HTTP 101 but was 403 Forbidden from ws://example.com:8080/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void frameInTheSameReadAsThe101ReachesNextAsPayload() {
    start();
    ch.writeInbound(Unpooled.wrappedBuffer(ascii(accepted("Sec-WebSocket-Protocol: wsgrpc.v1")),
        serverFrame("\0\0\0\4\0\0\0\0\0SETTINGS")));

    assertEquals(1, next.reads.size());
    ByteBuf payload = assertInstanceOf(ByteBuf.class, next.reads.get(0));
    assertEquals("\0\0\0\4\0\0\0\0\0SETTINGS", payload.toString(StandardCharsets.US_ASCII));
    assertTrue(payload.release());
    closeUpgraded(ch);
  }

  @Test
  void framesInLaterReadsReachNextAsPayload() {
    start();
    ch.writeInbound(ascii(accepted()));
    ch.writeInbound(serverFrame("\0\0\0\4\0\0\0\0\0later"));
    ByteBuf payload = assertInstanceOf(ByteBuf.class, next.reads.get(0));
    assertEquals("\0\0\0\4\0\0\0\0\0later", payload.toString(StandardCharsets.US_ASCII));
    assertTrue(payload.release());
    closeUpgraded(ch);
  }

  @Test
  void aSettingsFrameHeaderSplitAcrossFramesReachesNextWhole() {
    start();
    ch.writeInbound(ascii(accepted()));
    ch.writeInbound(serverFrame("\0\0"));
    assertTrue(next.reads.isEmpty(), "held until the frame header is whole");
    ch.writeInbound(serverFrame("\0\4\0\0\0\0\0"), serverFrame("then"));
    assertEquals("\0\0\0\4\0\0\0\0\0then", next.reads.stream().map(r -> {
      String text = ((ByteBuf) r).toString(StandardCharsets.US_ASCII);
      ((ByteBuf) r).release();
      return text;
    }).collect(java.util.stream.Collectors.joining()));
    closeUpgraded(ch);
  }

  @Test
  void aTunnelThatDoesNotBeginWithHttp2SettingsFailsWith1002QuotingHowItBegan() {
    start();
    ch.writeInbound(ascii(accepted()));
    ch.writeInbound(serverFrame("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
    assertTrue(next.reads.isEmpty(), "gRPC reads none of it");
    StatusRuntimeException e = next.onlyException(StatusRuntimeException.class);
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertEquals("expected HTTP/2 in the tunnel, a SETTINGS frame first, but it began with 'HTTP/1.1 400 Bad "
        + "Request??Conten...' (from ws://example.com:8080/grpc?<redacted>; sent close 1002 (Protocol Error))",
        e.getStatus().getDescription());
    ByteBuf close = ch.readOutbound();
    assertEquals(0x88, close.readUnsignedByte(), "FIN + close");
    assertTrue(close.release());
    ch.writeInbound(serverFrame("more"));
    assertTrue(next.reads.isEmpty(), "what follows is dropped");
    ch.finishAndReleaseAll();
  }

  @Test
  void responseSplitAcrossReadsIsHandledOnceComplete() {
    start();
    ByteBuf response = ascii(accepted());
    while (response.readableBytes() > 1) {
      ch.writeInbound(response.readRetainedSlice(Math.min(7, response.readableBytes() - 1)));
      assertTrue(next.events.isEmpty());
    }
    ch.writeInbound(response);
    assertEquals(1, next.events.size());
    closeUpgraded(ch);
  }

  @Test
  void writesAfterTheUpgradeLeaveAsMaskedBinaryFrames() {
    start();
    ch.writeInbound(ascii(accepted()));
    ch.writeAndFlush(Unpooled.copiedBuffer("PRI", StandardCharsets.US_ASCII));

    ByteBuf frame = ch.readOutbound();
    assertEquals(0x82, frame.readUnsignedByte(), "FIN + binary, not HTTP");
    assertEquals(0x80 | 3, frame.readUnsignedByte(), "masked");
    byte[] mask = new byte[4];
    frame.readBytes(mask);
    StringBuilder payload = new StringBuilder();
    for (int i = 0; frame.isReadable(); i++) {
      payload.append((char) (frame.readByte() ^ mask[i % 4]));
    }
    assertEquals("PRI", payload.toString());
    assertTrue(frame.release());
    closeUpgraded(ch);
  }

  /** The ping timeout of the tests below: longer than the handshake timeout, which must not cut the wait. */
  private static final long PING_TIMEOUT_MILLIS = 5_000;

  private EmbeddedChannel startWithPingTimeout(Duration pingInterval) {
    return start(WebSocketClientOptions.newBuilder(URL).settings(TunnelSettings.newBuilder()
        .pingInterval(pingInterval).pingTimeout(Duration.ofMillis(PING_TIMEOUT_MILLIS)).build()).build());
  }

  @Test
  void theServersFirstBytesInTheTunnelStopTheWaitAfterThe101() {
    startWithPingTimeout(Duration.ofSeconds(30));
    ch.writeInbound(ascii(accepted()));
    ch.advanceTimeBy(PING_TIMEOUT_MILLIS - 1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertTrue(next.exceptions.isEmpty(), "neither the handshake deadline nor the wait: " + next.exceptions);
    ch.writeInbound(serverFrame("\0\0\0\u0004\0\0\0\0\0")); // an empty SETTINGS
    assertEquals(1, next.reads.size());
    ReferenceCountUtil.release(next.reads.remove(0));
    assertNull(ch.pipeline().get(FirstBytesWait.NAME), "the wait removed itself");
    ch.advanceTimeBy(1, TimeUnit.HOURS);
    ch.runScheduledPendingTasks();
    assertTrue(next.exceptions.isEmpty(), "exceptions: " + next.exceptions);
    assertTrue(ch.isOpen());
    ByteBuf ping = ch.readOutbound();
    assertEquals(0x89, ping.getUnsignedByte(0), "only the keepalive's ping was written");
    ping.release();
    closeUpgraded(ch);
  }

  /** gRPC's HTTP/2 client alone waited for the server's SETTINGS until its keepalive gave up (40 s). */
  @Test
  void aServerSilentAfterThe101EndsTheTunnelAtThePingTimeout() {
    assertSilentAfterThe101EndsTheTunnel(startWithPingTimeout(Duration.ofSeconds(30)));
  }

  /** The wait sends nothing: it runs with pings off too. */
  @Test
  void aServerSilentAfterThe101EndsTheTunnelAtThePingTimeoutWithPingsOff() {
    assertSilentAfterThe101EndsTheTunnel(startWithPingTimeout(Duration.ZERO));
  }

  /** A few bytes are not yet the SETTINGS: the wait goes on (the preface check holds them until it has nine). */
  @Test
  void aServerThatSendsPartOfAFrameHeaderAfterThe101IsWaitedForNoLongerThanASilentOne() {
    EmbeddedChannel ch = startWithPingTimeout(Duration.ofSeconds(30));
    ch.writeInbound(ascii(accepted()));
    ch.writeInbound(serverFrame("\0\0\0\u0004"));
    assertTheWaitEndsTheTunnelAtThePingTimeout(ch);
  }

  private void assertSilentAfterThe101EndsTheTunnel(EmbeddedChannel ch) {
    ch.writeInbound(ascii(accepted()));
    assertTheWaitEndsTheTunnelAtThePingTimeout(ch);
  }

  private void assertTheWaitEndsTheTunnelAtThePingTimeout(EmbeddedChannel ch) {
    ch.advanceTimeBy(PING_TIMEOUT_MILLIS - 1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertTrue(next.exceptions.isEmpty(), "exceptions: " + next.exceptions);
    assertNull(ch.readOutbound(), "nothing written yet");
    ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    // The one path for a silent peer (ControlFrameHandler): Close 1001, the connection closed at once, and the status
    // (which, with the connection gone, the embedded channel's end rethrows).
    ch.runScheduledPendingTasks();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, ch::checkException);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("expected the server's HTTP/2 SETTINGS within 5s of the WebSocket upgrade (101) but they did not "
        + "arrive (from ws://example.com:8080/grpc?<redacted>; sent close 1001 (Going Away))",
        e.getStatus().getDescription());
    assertCloseWritten(ch, 1001, "a silent peer gets Going Away");
    assertFalse(ch.isOpen(), "a silent peer is not waited for");
    assertFalse(ch.finish());
  }

  // ---- wrong answers ------------------------------------------------------------------------------------------

  @Test
  void forbiddenFromNginxFailsUnavailableNamingUrlStatusAndServer() {
    start();
    ByteBuf body = ascii("<html>403</html>");
    ch.writeInbound(Unpooled.wrappedBuffer(
        ascii("HTTP/1.1 403 Forbidden\r\nServer: nginx\r\nContent-Length: 16\r\n\r\n"), body));

    assertFailed("expected HTTP 101 but was 403 Forbidden from ws://example.com:8080/grpc?<redacted> (Server: nginx)");
    assertEquals(0, body.refCnt(), "the body is released");
    assertFalse(ch.finish());
  }

  @Test
  void forbiddenWithoutServerHeaderHasNoSuffix() {
    refusedWith("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    assertFailed("expected HTTP 101 but was 403 Forbidden from ws://example.com:8080/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void okWithoutUpgradeSaysAProxyDroppedTheUpgradeHeader() {
    refusedWith("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nhi");
    assertFailed("expected HTTP 101 but was 200 OK from ws://example.com:8080/grpc?<redacted>: a proxy on the path did not "
        + "pass the Upgrade and Connection headers, or the URL is not a WebSocket endpoint");
    assertFalse(ch.finish());
  }

  /** A hostile hop's reason phrase and headers reach logs and terminals: printable ASCII, 64 characters each. */
  @Test
  void whatTheServerSentIsQuotedInPrintableAsciiAndCutShort() {
    refusedWith("HTTP/1.1 403 \u001b[2J\u001b]0;pwned\u0007Forbidden\r\nServer: " + "x".repeat(12_000)
        + "\r\nContent-Length: 0\r\n\r\n");
    assertFailed("expected HTTP 101 but was 403 ?[2J?]0;pwned?Forbidden from ws://example.com:8080/grpc?<redacted> "
        + "(Server: " + "x".repeat(64) + "...)");
    assertFalse(ch.finish());
  }

  @Test
  void plainTextRefusalIsQuotedUpToItsFirstLine() {
    refusedWith("HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + "Content-Length: 51\r\n\r\nexpected 'Upgrade: websocket' but was missing\nmore\n");
    assertFailed("expected HTTP 101 but was 400 Bad Request from ws://example.com:8080/grpc?<redacted> "
        + "(Server: nginx/1.22.1); it said: \"expected 'Upgrade: websocket' but was missing\"");
    assertFalse(ch.finish());
  }

  @Test
  void plainTextRefusalArrivingInPiecesIsQuotedWhole() {
    start();
    ch.writeInbound(ascii("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nno t"));
    assertTrue(tail.exceptions.isEmpty(), "waits for the rest of the body");
    ch.writeInbound(ascii("oken here"));
    assertFailed("expected HTTP 101 but was 403 Forbidden from ws://example.com:8080/grpc?<redacted>; it said: "
        + "\"no token here\"");
    assertFalse(ch.finish());
  }

  @Test
  void plainTextRefusalCutShortStillFails() {
    start();
    ch.writeInbound(ascii("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 99\r\n\r\nno t"));
    ch.close();
    assertFailed("expected HTTP 101 but was 403 Forbidden from ws://example.com:8080/grpc?<redacted>; it said: "
        + "\"no t\"");
    assertFalse(ch.finish());
  }

  @Test
  void redirectNamesTheLocation() {
    refusedWith("HTTP/1.1 301 Moved Permanently\r\nLocation: wss://example.com/grpc\r\nContent-Length: 0\r\n\r\n");
    assertFailed("expected HTTP 101 but was 301 Moved Permanently from ws://example.com:8080/grpc?<redacted>: redirected to "
        + "wss://example.com/grpc");
    assertFalse(ch.finish());
  }

  /** nginx's {@code return 301 https://$host$request_uri} repeats the request's query, and a token with it. */
  @Test
  void redirectNamesTheLocationWithItsQueryAndUserInfoRedacted() {
    refusedWith("HTTP/1.1 301 Moved Permanently\r\nLocation: https://edge.example.com/grpc?access_token=SECRET\r\n"
        + "Content-Length: 0\r\n\r\n");
    assertFailed("expected HTTP 101 but was 301 Moved Permanently from ws://example.com:8080/grpc?<redacted>: "
        + "redirected to https://edge.example.com/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void redirectToAUrlWithUserInfoRedactsIt() {
    refusedWith("HTTP/1.1 307 Temporary Redirect\r\nLocation: wss://alice:SECRET@edge.example.com/grpc#SECRET\r\n"
        + "Content-Length: 0\r\n\r\n");
    assertFailed("expected HTTP 101 but was 307 Temporary Redirect from ws://example.com:8080/grpc?<redacted>: "
        + "redirected to wss://<redacted>@edge.example.com/grpc#<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void redirectToARelativeLocationRedactsItsQuery() {
    refusedWith("HTTP/1.1 302 Found\r\nLocation: /login?next=/grpc&session=SECRET\r\nContent-Length: 0\r\n\r\n");
    assertFailed("expected HTTP 101 but was 302 Found from ws://example.com:8080/grpc?<redacted>: redirected to "
        + "/login?<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void upgradeRequiredNamesTheServersVersion() {
    refusedWith("HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 8\r\nContent-Length: 0\r\n\r\n");
    assertFailed("expected HTTP 101 but was 426 Upgrade Required from ws://example.com:8080/grpc?<redacted>: the server "
        + "speaks WebSocket version 8");
    assertFalse(ch.finish());
  }

  @Test
  void wrongAcceptFailsQuotingBothValues() {
    start();
    String wrong = Http11Tokens.acceptFor("AAAAAAAAAAAAAAAAAAAAAA==");
    ch.writeInbound(ascii("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Accept: " + wrong + "\r\n\r\n"));
    assertFailed("expected Sec-WebSocket-Accept '" + expectedAccept() + "' but was '" + wrong
        + "' from ws://example.com:8080/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void missingAcceptFails() {
    start();
    ch.writeInbound(ascii("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"));
    assertFailed("expected Sec-WebSocket-Accept '" + expectedAccept() + "' but was missing from "
        + "ws://example.com:8080/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void missingUpgradeIn101Fails() {
    start();
    ch.writeInbound(ascii("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Accept: " + expectedAccept() + "\r\n\r\n"));
    assertFailed("expected 'Upgrade: websocket' in the 101 but was missing from ws://example.com:8080/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void missingConnectionIn101Fails() {
    start();
    ch.writeInbound(ascii("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        + "Sec-WebSocket-Accept: " + expectedAccept() + "\r\nServer: envoy\r\n\r\n"));
    assertFailed("expected 'Connection: Upgrade' in the 101 but was missing from ws://example.com:8080/grpc?<redacted> "
        + "(Server: envoy)");
    assertFalse(ch.finish());
  }

  @Test
  void subprotocolNotOfferedFails() {
    start();
    ch.writeInbound(ascii(accepted("Sec-WebSocket-Protocol: chat")));
    assertFailed("expected a subprotocol among [wsgrpc.v1] but the server chose [chat] from "
        + "ws://example.com:8080/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void subprotocolWhenNoneWasOfferedFails() {
    start(WebSocketClientOptions.newBuilder(URL).subprotocols().build());
    ch.writeInbound(ascii(accepted("Sec-WebSocket-Protocol: wsgrpc.v1")));
    assertFailed("expected a subprotocol among [] but the server chose [wsgrpc.v1] from "
        + "ws://example.com:8080/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void twoSubprotocolsChosenFails() {
    start(WebSocketClientOptions.newBuilder(URL).subprotocols("wsgrpc.v1", "binary").build());
    ch.writeInbound(ascii(accepted("Sec-WebSocket-Protocol: wsgrpc.v1, binary")));
    assertFailed("expected a subprotocol among [wsgrpc.v1, binary] but the server chose [wsgrpc.v1, binary] from "
        + "ws://example.com:8080/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  /** A {@code bearer.<token>} offer is a credential: shown as the options' toString() shows it. */
  @Test
  void subprotocolRefusalRedactsTheTokenOfABearerOffer() {
    start(WebSocketClientOptions.newBuilder(URL).subprotocols("wsgrpc.v1", "bearer.SECRET-TOKEN").build());
    ch.writeInbound(ascii(accepted("Sec-WebSocket-Protocol: chat")));
    assertFailed("expected a subprotocol among [wsgrpc.v1, bearer.<redacted>] but the server chose [chat] from "
        + "ws://example.com:8080/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void subprotocolRefusalRedactsABearerTokenTheServerEchoed() {
    start(WebSocketClientOptions.newBuilder(URL).subprotocols("wsgrpc.v1", "Bearer.SECRET-TOKEN").build());
    ch.writeInbound(ascii(accepted("Sec-WebSocket-Protocol: wsgrpc.v1, Bearer.SECRET-TOKEN")));
    assertFailed("expected a subprotocol among [wsgrpc.v1, Bearer.<redacted>] but the server chose [wsgrpc.v1, "
        + "Bearer.<redacted>] from ws://example.com:8080/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void extensionsChosenByTheServerFail() {
    start();
    ch.writeInbound(ascii(accepted("Sec-WebSocket-Extensions: permessage-deflate")));
    assertFailed("expected no WebSocket extensions but the server chose 'permessage-deflate' from "
        + "ws://example.com:8080/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void malformedAnswerFails() {
    start();
    ch.writeInbound(ascii("SSH-2.0-OpenSSH_9.6\r\n\r\n"));
    StatusRuntimeException e = assertFailed(null);
    assertTrue(e.getStatus().getDescription().startsWith(
        "expected an HTTP/1.1 response to the upgrade but the answer was malformed from "
            + "ws://example.com:8080/grpc?<redacted>: "), e.getStatus().getDescription());
    assertNotNull(e.getCause(), "the decoder's error is kept");
    assertFalse(ch.finish());
  }

  @Test
  void aMalformedAnswerIsQuotedInPrintableAsciiAndCutShort() {
    start();
    // Netty's reason for a bad version quotes it: "invalid version format: ...".
    ch.writeInbound(ascii("HTTP/1.1\u001b[2J" + "X".repeat(500) + " 101 Switching Protocols\r\n\r\n"));
    String description = assertFailed(null).getStatus().getDescription();
    String reason = description.substring(description.indexOf("?<redacted>: ") + "?<redacted>: ".length());
    assertFalse(reason.chars().anyMatch(c -> c < 0x20 || c > 0x7e), description);
    assertTrue(reason.startsWith("invalid version format: HTTP/1.1?[2JXXX"), description);
    assertTrue(reason.length() <= 64 + "...".length(), description);
    assertFalse(ch.finish());
  }

  @Test
  void bytesAfterAFailedAnswerAreDropped() {
    start();
    ByteBuf frame = serverFrame("ignored");
    ch.writeInbound(Unpooled.wrappedBuffer(ascii("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), frame));
    ch.writeInbound(serverFrame("ignored too"));
    assertFailed("expected HTTP 101 but was 404 Not Found from ws://example.com:8080/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  // ---- no answer ----------------------------------------------------------------------------------------------

  @Test
  void closedBeforeTheAnswerFailsUnavailable() {
    start();
    ch.close();
    assertFailed("connection to ws://example.com:8080/grpc?<redacted> closed before the WebSocket upgrade completed");
    assertFalse(ch.finish());
  }

  @Test
  void closedInTheMiddleOfTheAnswerFailsUnavailable() {
    start();
    ch.writeInbound(ascii("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"));
    ch.close();
    StatusRuntimeException e = tail.onlyException(StatusRuntimeException.class);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertTrue(next.events.isEmpty());
    assertFalse(ch.finish());
  }

  @Test
  void noAnswerTimesOut() {
    start();
    ch.advanceTimeBy(TIMEOUT_MILLIS - 1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertTrue(tail.exceptions.isEmpty());

    ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    StatusRuntimeException e = assertFailed("WebSocket handshake with ws://example.com:8080/grpc?<redacted> timed out "
        + "after 2000 ms while waiting for the answer to the upgrade request");
    assertTrue(e.getStatus().getDescription().contains("timed out"));
    assertFalse(ch.finish());
  }

  @Test
  void failureStopsTheDeadline() {
    refusedWith("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    ch.advanceTimeBy(1, TimeUnit.HOURS);
    ch.runScheduledPendingTasks();
    assertFailed("expected HTTP 101 but was 503 Service Unavailable from ws://example.com:8080/grpc?<redacted>");
    assertFalse(ch.finish());
  }

  @Test
  void timeoutAfterTlsNamesTheUpgradeStep() {
    WebSocketClientOptions options = WebSocketClientOptions.newBuilder("wss://example.com/grpc").build();
    HandshakeDeadline deadline = new HandshakeDeadline(TIMEOUT_MILLIS, options.safeUrl());
    ch = new EmbeddedChannel(new ClientUpgradeHandler(next, options, deadline, HandshakeProgress.NONE,
        NoopChannelLogger.INSTANCE), tail);
    ch.freezeTime();
    // What ClientTlsHandler does when TLS starts; TLS then succeeds and hands over to the upgrade step.
    deadline.start(ch, () -> "waiting for the TLS handshake");
    ch.pipeline().fireUserEventTriggered(event);
    written(ch);

    ch.advanceTimeBy(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertFailed("WebSocket handshake with wss://example.com/grpc timed out after 2000 ms while waiting for the "
        + "answer to the upgrade request");
    ch.finishAndReleaseAll();
  }
}
