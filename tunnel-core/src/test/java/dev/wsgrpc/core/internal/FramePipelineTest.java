package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.TunnelSettings;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Frames on the wire through the real pipeline: a client channel and a server channel, each with
 * {@link FramePipeline#install} before a recording tail, exchanging the encoded bytes. Raw frames are built from the
 * byte layouts and examples of RFC 6455 section 5.
 */
class FramePipelineTest {

  private static final int MAX_IN = 1024 * 1024;
  private static final int MAX_OUT = 64 * 1024;

  /** gRPC's place: records the bytes and errors that come out of the frame handlers. */
  static final class Tail extends ChannelInboundHandlerAdapter {
    final List<ByteBuf> reads = new ArrayList<>();
    final List<Throwable> exceptions = new ArrayList<>();

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      reads.add(assertInstanceOf(ByteBuf.class, msg, "only bytes reach gRPC"));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      exceptions.add(cause);
    }

    /** All bytes received so far, in order; releases them. */
    byte[] takeBytes() {
      ByteBuf all = Unpooled.buffer();
      for (ByteBuf b : reads) {
        all.writeBytes(b);
        b.release();
      }
      for (ByteBuf b : reads) {
        // Payloads are slices of the buffers read: one may share its count with the others from the same read.
        assertEquals(0, b.refCnt(), "every payload is released once passed on");
      }
      reads.clear();
      byte[] out = ByteBufUtil.getBytes(all);
      all.release();
      return out;
    }

    StatusRuntimeException onlyStatus() {
      assertEquals(1, exceptions.size(), "exceptions: " + exceptions);
      return assertInstanceOf(StatusRuntimeException.class, exceptions.get(0));
    }
  }

  /** One parsed frame header (RFC 6455 section 5.2). */
  static final class Frame {
    final boolean fin;
    final int rsv;
    final int opcode;
    final boolean masked;
    final byte[] payload; // unmasked

    Frame(boolean fin, int rsv, int opcode, boolean masked, byte[] payload) {
      this.fin = fin;
      this.rsv = rsv;
      this.opcode = opcode;
      this.masked = masked;
      this.payload = payload;
    }

    int closeCode() {
      assertEquals(0x8, opcode, "a close frame");
      return ((payload[0] & 0xff) << 8) | (payload[1] & 0xff);
    }

    String closeReason() {
      return new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8);
    }
  }

  private final Tail clientTail = new Tail();
  private final Tail serverTail = new Tail();

  private static EmbeddedChannel side(boolean server, int maxIn, int maxOut, Tail tail) {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.pipeline().addLast("tail", tail);
    FramePipeline.install(ch.pipeline(), "tail", server ? FramePipeline.Role.SERVER : FramePipeline.Role.CLIENT,
        TunnelSettings.newBuilder().maxInboundFramePayload(maxIn).maxOutboundFramePayload(maxOut)
            .pingInterval(Duration.ZERO).build(),
        server ? "client 10.0.0.7:5512" : "ws://example.com/grpc");
    return ch;
  }

  private EmbeddedChannel client() {
    return side(false, MAX_IN, MAX_OUT, clientTail);
  }

  private EmbeddedChannel server() {
    return side(true, MAX_IN, MAX_OUT, serverTail);
  }

  /** Everything the channel wrote to its socket, as one buffer. */
  private static ByteBuf wire(EmbeddedChannel ch) {
    ByteBuf all = Unpooled.buffer();
    Object o;
    while ((o = ch.readOutbound()) != null) {
      ByteBuf b = assertInstanceOf(ByteBuf.class, o, "the pipeline writes bytes");
      all.writeBytes(b);
      b.release();
    }
    return all;
  }

  /** Moves what {@code from} wrote into {@code to}, as the network would. */
  private static void pump(EmbeddedChannel from, EmbeddedChannel to) {
    ByteBuf bytes = wire(from);
    if (bytes.isReadable()) {
      to.writeInbound(bytes);
    } else {
      bytes.release();
    }
  }

  /** Parses (and releases) raw frames. */
  private static List<Frame> parse(ByteBuf wire) {
    List<Frame> frames = new ArrayList<>();
    try {
      while (wire.isReadable()) {
        int b0 = wire.readUnsignedByte();
        int b1 = wire.readUnsignedByte();
        long len = b1 & 0x7f;
        if (len == 126) {
          len = wire.readUnsignedShort();
        } else if (len == 127) {
          len = wire.readLong();
        }
        boolean masked = (b1 & 0x80) != 0;
        byte[] mask = new byte[4];
        if (masked) {
          wire.readBytes(mask);
        }
        byte[] payload = new byte[(int) len];
        wire.readBytes(payload);
        if (masked) {
          for (int i = 0; i < payload.length; i++) {
            payload[i] ^= mask[i % 4];
          }
        }
        frames.add(new Frame((b0 & 0x80) != 0, (b0 >> 4) & 0x7, b0 & 0xf, masked, payload));
      }
    } finally {
      wire.release();
    }
    return frames;
  }

  private static Frame onlyFrame(EmbeddedChannel ch) {
    List<Frame> frames = parse(wire(ch));
    assertEquals(1, frames.size());
    return frames.get(0);
  }

  /** A frame as a client sends it: masked with {@code mask}. */
  private static ByteBuf maskedFrame(int firstByte, byte[] payload, byte[] mask) {
    ByteBuf frame = Unpooled.buffer();
    frame.writeByte(firstByte);
    writeLength(frame, 0x80, payload.length);
    frame.writeBytes(mask);
    for (int i = 0; i < payload.length; i++) {
      frame.writeByte(payload[i] ^ mask[i % 4]);
    }
    return frame;
  }

  private static ByteBuf maskedFrame(int firstByte, String payload) {
    return maskedFrame(firstByte, payload.getBytes(StandardCharsets.UTF_8), new byte[] {0x37, (byte) 0xfa, 0x21, 0x3d});
  }

  /** A frame as a server sends it: unmasked. */
  private static ByteBuf unmaskedFrame(int firstByte, byte[] payload) {
    ByteBuf frame = Unpooled.buffer();
    frame.writeByte(firstByte);
    writeLength(frame, 0, payload.length);
    frame.writeBytes(payload);
    return frame;
  }

  private static void writeLength(ByteBuf frame, int maskBit, int length) {
    if (length <= 125) {
      frame.writeByte(maskBit | length);
    } else if (length <= 0xffff) {
      frame.writeByte(maskBit | 126);
      frame.writeShort(length);
    } else {
      frame.writeByte(maskBit | 127);
      frame.writeLong(length);
    }
  }

  private static ByteBuf hex(int... bytes) {
    ByteBuf buf = Unpooled.buffer(bytes.length);
    for (int b : bytes) {
      buf.writeByte(b);
    }
    return buf;
  }

  private static ByteBuf ascii(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
  }

  private static byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  /** Checks that {@code ch} answered with exactly one close frame of {@code code} and closed. */
  private static Frame assertClosedWith(EmbeddedChannel ch, int code, boolean masked) {
    Frame close = onlyFrame(ch);
    assertEquals(0x8, close.opcode);
    assertTrue(close.fin);
    assertEquals(masked, close.masked);
    assertEquals(code, close.closeCode());
    // After a protocol error the connection lingers a moment for the peer to read the close frame.
    ControlFrameHandlerTest.lingerOver(ch);
    assertFalse(ch.isOpen(), "the connection is closed after the close frame");
    return close;
  }

  /**
   * Feeds {@code input} to a new server, which must pass {@code passedOn} to gRPC, then answer with a close frame of
   * {@code code} and close quietly (servers raise no status: gRPC cancels their calls). Returns the close frame.
   */
  private Frame serverClosesWith(int code, ByteBuf input, String passedOn) {
    EmbeddedChannel server = server();
    server.writeInbound(input);
    Frame close = assertClosedWith(server, code, false);
    assertTrue(serverTail.exceptions.isEmpty(), "servers close quietly: gRPC cancels their calls");
    assertEquals(passedOn, new String(serverTail.takeBytes(), StandardCharsets.US_ASCII));
    assertFalse(server.finish());
    return close;
  }

  // ---- the pipeline -------------------------------------------------------------------------------------------

  @Test
  void installAddsTheFrameHandlersInOrderBeforeTheNamedHandler() {
    EmbeddedChannel ch = server();
    List<String> names = new ArrayList<>(ch.pipeline().names());
    names.remove(names.size() - 1); // EmbeddedChannel's own tail context
    assertEquals(Arrays.asList(FramePipeline.DECODER, FramePipeline.ENCODER, FramePipeline.CONTROL,
        FramePipeline.BYTE_STREAM, "tail"), names);
    closeServer(ch);
  }

  // ---- byte stream round trips --------------------------------------------------------------------------------

  @Test
  void bytesWrittenOnTheClientArriveOnTheServerInMaskedBinaryFrames() {
    EmbeddedChannel client = client();
    EmbeddedChannel server = server();
    client.writeAndFlush(ascii("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));

    ByteBuf bytes = wire(client);
    assertEquals(0x82, bytes.getUnsignedByte(0), "FIN + binary");
    assertEquals(0x80, bytes.getUnsignedByte(1) & 0x80, "client frames are masked");
    server.writeInbound(bytes);

    assertEquals("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", new String(serverTail.takeBytes(), StandardCharsets.US_ASCII));
    assertTrue(serverTail.exceptions.isEmpty());
    assertTrue(server.isOpen());
    closeBoth(client, server);
  }

  @Test
  void bytesWrittenOnTheServerArriveOnTheClientInUnmaskedBinaryFrames() {
    EmbeddedChannel client = client();
    EmbeddedChannel server = server();
    byte[] settings = {0, 0, 0, 4, 0, 0, 0, 0, 0};
    server.writeAndFlush(Unpooled.wrappedBuffer(settings));

    ByteBuf bytes = wire(server);
    assertEquals(0x82, bytes.getUnsignedByte(0));
    assertEquals(9, bytes.getUnsignedByte(1), "server frames are not masked");
    client.writeInbound(bytes);

    assertArrayEquals(settings, clientTail.takeBytes());
    assertTrue(clientTail.exceptions.isEmpty());
    closeBoth(client, server);
  }

  @Test
  void writesBetweenFlushesTravelInOneFrame() {
    EmbeddedChannel client = client();
    EmbeddedChannel server = server();
    client.write(ascii("header---"));
    client.write(ascii("payload"));
    client.flush();

    ByteBuf bytes = wire(client);
    List<Frame> frames = parse(bytes.retainedDuplicate());
    assertEquals(1, frames.size());
    assertEquals("header---payload", new String(frames.get(0).payload, StandardCharsets.US_ASCII));
    server.writeInbound(bytes);
    assertEquals("header---payload", new String(serverTail.takeBytes(), StandardCharsets.US_ASCII));
    closeBoth(client, server);
  }

  @Test
  void a200KiBWriteIsSplitAt64KiBAndArrivesWhole() {
    EmbeddedChannel client = client();
    EmbeddedChannel server = server();
    byte[] data = randomBytes(200 * 1024);
    client.writeAndFlush(Unpooled.wrappedBuffer(data));

    ByteBuf bytes = wire(client);
    List<Frame> frames = parse(bytes.retainedDuplicate());
    int[] sizes = frames.stream().mapToInt(f -> f.payload.length).toArray();
    assertArrayEquals(new int[] {65536, 65536, 65536, 8192}, sizes);
    for (Frame f : frames) {
      assertTrue(f.fin, "each frame is a whole message: boundaries carry no meaning");
      assertEquals(0x2, f.opcode);
      assertTrue(f.masked);
    }
    server.writeInbound(bytes);

    assertArrayEquals(data, serverTail.takeBytes());
    assertTrue(serverTail.exceptions.isEmpty());
    closeBoth(client, server);
  }

  @Test
  void a200KiBWriteFromTheServerArrivesWholeOnTheClient() {
    EmbeddedChannel client = client();
    EmbeddedChannel server = server();
    byte[] data = randomBytes(200 * 1024 + 7);
    server.writeAndFlush(Unpooled.wrappedBuffer(data));
    pump(server, client);
    assertArrayEquals(data, clientTail.takeBytes());
    closeBoth(client, server);
  }

  @Test
  void framesSplitAcrossReadsAreReassembled() {
    EmbeddedChannel client = client();
    EmbeddedChannel server = server();
    byte[] data = randomBytes(3000);
    client.writeAndFlush(Unpooled.wrappedBuffer(data));
    ByteBuf bytes = wire(client);
    while (bytes.isReadable()) {
      server.writeInbound(bytes.readRetainedSlice(Math.min(7, bytes.readableBytes())));
    }
    bytes.release();
    assertArrayEquals(data, serverTail.takeBytes());
    closeBoth(client, server);
  }

  // ---- RFC 6455 section 5.7 examples and section 5 rules ------------------------------------------------------

  @Test
  void rfcSingleFrameMaskedTextHelloGets1003() {
    // RFC 6455 5.7: "A single-frame masked text message (contains "Hello")".
    Frame close = serverClosesWith(1003, hex(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58), "");
    assertEquals("expected binary frames but was a text frame", close.closeReason());
  }

  @Test
  void rfcSingleFrameUnmaskedTextHelloGets1003OnTheClient() {
    EmbeddedChannel client = client();
    // RFC 6455 5.7: "A single-frame unmasked text message".
    client.writeInbound(hex(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f));

    Frame close = assertClosedWith(client, 1003, true);
    assertEquals("expected binary frames but was a text frame", close.closeReason());
    StatusRuntimeException e = clientTail.onlyStatus();
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertEquals("expected binary frames but was a text frame (from ws://example.com/grpc; sent close 1003 "
        + "(Unsupported Data))", e.getStatus().getDescription());
    assertFalse(client.finish());
  }

  @Test
  void rfcFragmentedUnmaskedTextGets1003OnTheFirstFragment() {
    EmbeddedChannel client = client();
    // RFC 6455 5.7: "A fragmented unmasked text message": "Hel" then "lo".
    client.writeInbound(Unpooled.wrappedBuffer(hex(0x01, 0x03, 0x48, 0x65, 0x6c), hex(0x80, 0x02, 0x6c, 0x6f)));

    assertClosedWith(client, 1003, true);
    assertEquals(Status.Code.INTERNAL, clientTail.onlyStatus().getStatus().getCode());
    assertTrue(clientTail.reads.isEmpty(), "neither fragment reaches gRPC");
    assertFalse(client.finish());
  }

  @Test
  void rfcSingleFrameMaskedBinaryHelloIsAccepted() {
    EmbeddedChannel server = server();
    // The RFC's masked "Hello" example with the binary opcode.
    server.writeInbound(hex(0x82, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58));

    assertEquals("Hello", new String(serverTail.takeBytes(), StandardCharsets.US_ASCII));
    assertTrue(serverTail.exceptions.isEmpty());
    assertNull(server.readOutbound());
    closeServer(server);
  }

  @Test
  void rfcUnmaskedPingIsAnsweredWithMaskedPongCarryingHello() {
    EmbeddedChannel client = client();
    // RFC 6455 5.7: "Unmasked Ping request" with body "Hello".
    client.writeInbound(hex(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f));

    Frame pong = onlyFrame(client);
    assertEquals(0xA, pong.opcode);
    assertTrue(pong.fin);
    assertTrue(pong.masked);
    assertEquals("Hello", new String(pong.payload, StandardCharsets.US_ASCII));
    assertTrue(clientTail.reads.isEmpty());
    assertTrue(clientTail.exceptions.isEmpty());
    closeClient(client);
  }

  @Test
  void rfcMaskedPongIsDroppedByTheServer() {
    EmbeddedChannel server = server();
    // RFC 6455 5.7: "Masked Pong response" with body "Hello".
    server.writeInbound(hex(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58));

    assertNull(server.readOutbound());
    assertTrue(serverTail.reads.isEmpty());
    assertTrue(serverTail.exceptions.isEmpty());
    closeServer(server);
  }

  @Test
  void rfc256ByteBinaryWithSixteenBitLengthArrives() {
    EmbeddedChannel client = client();
    byte[] data = randomBytes(256);
    ByteBuf frame = hex(0x82, 0x7E, 0x01, 0x00); // RFC 6455 5.7: 256 bytes binary message, unmasked
    frame.writeBytes(data);
    client.writeInbound(frame);
    assertArrayEquals(data, clientTail.takeBytes());
    closeClient(client);
  }

  @Test
  void rfc64KiBBinaryWithSixtyFourBitLengthArrives() {
    EmbeddedChannel client = client();
    byte[] data = randomBytes(65536);
    // RFC 6455 5.7: 64KiB binary message, unmasked.
    ByteBuf frame = hex(0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00);
    frame.writeBytes(data);
    client.writeInbound(frame);
    assertArrayEquals(data, clientTail.takeBytes());
    closeClient(client);
  }

  @Test
  void fragmentedBinaryMessagePayloadsArriveInOrder() {
    EmbeddedChannel server = server();
    server.writeInbound(Unpooled.wrappedBuffer(
        maskedFrame(0x02, "abc"),    // FIN=0, binary
        maskedFrame(0x00, "def"),    // FIN=0, continuation
        maskedFrame(0x80, "ghi")));  // FIN=1, continuation

    assertEquals(3, serverTail.reads.size(), "each fragment is passed on as soon as it arrives");
    assertEquals("abcdefghi", new String(serverTail.takeBytes(), StandardCharsets.US_ASCII));
    assertTrue(serverTail.exceptions.isEmpty());
    closeServer(server);
  }

  @Test
  void controlFramesMayBeInjectedBetweenFragments() {
    EmbeddedChannel server = server();
    server.writeInbound(Unpooled.wrappedBuffer(
        maskedFrame(0x02, "abc"),
        maskedFrame(0x89, "ping"),
        maskedFrame(0x80, "def")));

    assertEquals("abcdef", new String(serverTail.takeBytes(), StandardCharsets.US_ASCII));
    Frame pong = onlyFrame(server);
    assertEquals(0xA, pong.opcode);
    assertEquals("ping", new String(pong.payload, StandardCharsets.US_ASCII));
    closeServer(server);
  }

  @Test
  void emptyBinaryFramesProduceNoBytes() {
    EmbeddedChannel server = server();
    server.writeInbound(maskedFrame(0x82, ""));
    assertTrue(serverTail.reads.isEmpty());
    assertTrue(serverTail.exceptions.isEmpty());
    closeServer(server);
  }

  @Test
  void serverRequiresMaskedFramesWith1002() {
    serverClosesWith(1002, unmaskedFrame(0x82, "Hello".getBytes(StandardCharsets.US_ASCII)), "");
  }

  @Test
  void clientRequiresUnmaskedFramesWith1002() {
    EmbeddedChannel client = client();
    client.writeInbound(maskedFrame(0x82, "Hello"));

    assertClosedWith(client, 1002, true);
    StatusRuntimeException e = clientTail.onlyStatus();
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().endsWith("(from ws://example.com/grpc; sent close 1002 (Protocol Error))"),
        e.getStatus().getDescription());
    assertTrue(clientTail.reads.isEmpty());
    assertFalse(client.finish());
  }

  @Test
  void frameAboveMaxInboundFramePayloadGets1009() {
    EmbeddedChannel client = client();
    EmbeddedChannel server = side(true, 1024, MAX_OUT, serverTail);
    client.writeAndFlush(Unpooled.wrappedBuffer(randomBytes(1025)));
    pump(client, server);

    Frame close = assertClosedWith(server, 1009, false);
    assertTrue(close.closeReason().contains("1024"), close.closeReason());
    assertTrue(serverTail.exceptions.isEmpty(), "servers close quietly");
    assertTrue(serverTail.reads.isEmpty());
    assertFalse(server.finish());
    closeClient(client);
  }

  @Test
  void frameAboveTheClientsMaxInboundFramePayloadGets1009AndResourceExhausted() {
    EmbeddedChannel client = side(false, 1024, MAX_OUT, clientTail);
    EmbeddedChannel server = server();
    server.writeAndFlush(Unpooled.wrappedBuffer(randomBytes(1025)));
    pump(server, client);

    Frame close = assertClosedWith(client, 1009, true);
    StatusRuntimeException e = clientTail.onlyStatus();
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
    assertEquals(close.closeReason() + " (from ws://example.com/grpc; sent close 1009 (Message Too Big))",
        e.getStatus().getDescription());
    assertInstanceOf(CorruptedWebSocketFrameException.class, e.getCause(), "the decoder's exception is the cause");
    assertTrue(clientTail.reads.isEmpty());
    assertFalse(client.finish());
    closeServer(server);
  }

  @Test
  void frameAtMaxInboundFramePayloadIsAccepted() {
    EmbeddedChannel client = client();
    EmbeddedChannel server = side(true, 1024, MAX_OUT, serverTail);
    byte[] data = randomBytes(1024);
    client.writeAndFlush(Unpooled.wrappedBuffer(data));
    pump(client, server);
    assertArrayEquals(data, serverTail.takeBytes());
    closeBoth(client, server);
  }

  @Test
  void controlFramesMustNotBeFragmented() {
    serverClosesWith(1002, maskedFrame(0x09, "ping"), ""); // FIN=0 ping
  }

  @Test
  void controlFramePayloadsMustBeAtMost125Bytes() {
    serverClosesWith(1002, maskedFrame(0x89, new String(new char[126]).replace('\0', 'p')), "");
  }

  @Test
  void reservedBitsMustBeZeroWithoutExtensions() {
    serverClosesWith(1002, maskedFrame(0xC2, "deflated?"), ""); // FIN + RSV1 + binary
  }

  @Test
  void reservedOpcodesAreRejected() {
    serverClosesWith(1002, maskedFrame(0x83, "x"), ""); // opcode 3 is reserved
  }

  @Test
  void continuationWithoutAStartIsRejected() {
    serverClosesWith(1002, maskedFrame(0x80, "orphan"), "");
  }

  @Test
  void newMessageBeforeTheLastOneEndedIsRejected() {
    serverClosesWith(1002, Unpooled.wrappedBuffer(maskedFrame(0x02, "abc"), maskedFrame(0x82, "def")), "abc");
  }

  @Test
  void closeWithReservedCodeIsRejected() {
    serverClosesWith(1002, maskedFrame(0x88, new byte[] {0x03, (byte) 0xED}, new byte[] {1, 2, 3, 4}), ""); // 1005
  }

  @Test
  void closeWithOneBytePayloadIsRejected() {
    serverClosesWith(1002, maskedFrame(0x88, new byte[] {0x03}, new byte[] {1, 2, 3, 4}), "");
  }

  @Test
  void bytesAfterAProtocolErrorAreIgnored() {
    serverClosesWith(1002,
        Unpooled.wrappedBuffer(unmaskedFrame(0x82, new byte[] {1}), maskedFrame(0x82, "late")), "");
  }

  // ---- closing ------------------------------------------------------------------------------------------------

  @Test
  void clientCloseSends1000AndTheServerEchoesIt() {
    EmbeddedChannel client = client();
    EmbeddedChannel server = server();
    client.close();
    ByteBuf close = wire(client);
    List<Frame> sent = parse(close.retainedDuplicate());
    assertEquals(1, sent.size());
    assertTrue(sent.get(0).masked);
    assertEquals(1000, sent.get(0).closeCode());

    server.writeInbound(close);
    assertClosedWith(server, 1000, false);
    assertTrue(serverTail.exceptions.isEmpty(), "a client closing is normal: no status for gRPC to log");
    assertFalse(server.finish());
    assertFalse(client.finish());
  }

  @Test
  void serverCloseSends1001AndTheClientSeesGoingAway() {
    EmbeddedChannel client = client();
    EmbeddedChannel server = server();
    server.close();
    pump(server, client);

    Frame echo = assertClosedWith(client, 1001, true);
    assertEquals(0x8, echo.opcode);
    StatusRuntimeException e = clientTail.onlyStatus();
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("WebSocket closed by ws://example.com/grpc with 1001 (Going Away)", e.getStatus().getDescription());
    assertFalse(client.finish());
    assertFalse(server.finish());
  }

  @Test
  void peerCloseReasonReachesGrpc() {
    EmbeddedChannel client = client();
    ByteBuf payload = Unpooled.buffer();
    payload.writeShort(1013);
    payload.writeCharSequence("overloaded", StandardCharsets.UTF_8);
    client.writeInbound(unmaskedFrame(0x88, ByteBufUtil.getBytes(payload)));
    payload.release();

    assertClosedWith(client, 1013, true);
    assertEquals("WebSocket closed by ws://example.com/grpc with 1013 (Try Again Later): overloaded",
        clientTail.onlyStatus().getStatus().getDescription());
    assertFalse(client.finish());
  }

  @Test
  void writesAfterThePeersCloseAreDropped() {
    EmbeddedChannel client = client();
    client.writeInbound(unmaskedFrame(0x88, new byte[] {0x03, (byte) 0xE9}));
    assertClosedWith(client, 1001, true);
    ByteBuf late = ascii("GOAWAY");
    assertFalse(client.writeAndFlush(late).isSuccess());
    assertEquals(0, late.refCnt());
    assertNull(client.readOutbound());
    assertFalse(client.finish());
  }

  private static void closeClient(EmbeddedChannel client) {
    client.close();
    assertClosedWith(client, 1000, true);
    assertFalse(client.finish());
  }

  private static void closeServer(EmbeddedChannel server) {
    server.close();
    assertClosedWith(server, 1001, false);
    assertFalse(server.finish());
  }

  private static void closeBoth(EmbeddedChannel client, EmbeddedChannel server) {
    closeClient(client);
    closeServer(server);
  }
}
