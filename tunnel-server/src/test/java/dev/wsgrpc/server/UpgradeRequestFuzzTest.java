package dev.wsgrpc.server;

import static dev.wsgrpc.testing.WireFrames.key;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.wsgrpc.core.TunnelSettings;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Fuzzes the upgrade request as a structure rather than as bytes: a request line and header fields picked from what
 * attackers vary (methods, target forms, versions, each required header missing, repeated or with a hostile value,
 * smuggling headers, bare LF, obs-fold), then WebSocket frames whose lengths use all three encodings up to 64 bits,
 * delivered in pieces while the channel's writability flips.
 *
 * <p>A finding is an exception that escapes the pipeline, a leaked buffer, or a {@code 101} to a request that did
 * not carry the one valid token ({@code Bearer t} or the subprotocol {@code bearer.t}). Every build fuzzes briefly
 * (its own surefire execution); docs/SECURITY.md shows a longer run.
 */
class UpgradeRequestFuzzTest {

  private static final String KEY = "dGhlIHNhbXBsZSBub25jZQ==";
  private static final WebSocketServerOptions OPTIONS = WebSocketServerOptions.newBuilder()
      .access(AccessPolicy.newBuilder().authenticator(BearerTokens.of(Map.of("t", "fuzzer")))
          .allowedOrigins(List.of("https://ok.example"))
          .trustedProxies(List.of("127.0.0.0/8")).build())
      .settings(TunnelSettings.newBuilder().maxInboundFramePayload(4096).handshakeTimeout(Duration.ofSeconds(5))
          .build())
      .build();

  private static final String[] METHODS = {"GET", "GET", "GET", "POST", "get", "CONNECT", "G\u0000ET", "GET GET"};
  private static final String[] TARGETS = {"/grpc", "/grpc", "/grpc?x=1", "http://h/grpc", "*", "/%67rpc",
      "/grpc/../grpc", "//grpc", "/grpc#f", "h:80"};
  private static final String[] VERSIONS = {"HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.10",
      "http/1.1"};
  private static final String[][] FIELDS = {
    {"Host", "h"}, {"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Key", KEY},
    {"Sec-WebSocket-Version", "13"}, {"Authorization", "Bearer t"}, {"Authorization", "Bearer x"},
    {"Sec-WebSocket-Protocol", "wsgrpc.v1, bearer.t"}, {"Sec-WebSocket-Protocol", "bearer.x"},
    {"Origin", "https://ok.example"}, {"Origin", "null"}, {"Content-Length", "0"}, {"Content-Length", "5"},
    {"Transfer-Encoding", "chunked"}, {"X-Forwarded-For", "203.0.113.9, 127.0.0.1"},
    {"Forwarded", "for=\"[2001:db8::1]\""}, {"Sec-WebSocket-Extensions", "permessage-deflate"},
    {"Connection", "keep-alive, Upgrade"}, {"Upgrade", "h2c"},
  };
  private static final String[] EOLS = {"\r\n", "\r\n", "\r\n", "\r\n", "\n", "\r", "\r\n "};

  @FuzzTest(maxDuration = "15s")
  void upgradeIsGrantedOnlyToAValidRequest(FuzzedDataProvider data) {
    StringBuilder request = new StringBuilder();
    request.append(data.consumeBoolean() ? data.pickValue(METHODS) : data.consumeString(8)).append(' ')
        .append(data.consumeBoolean() ? data.pickValue(TARGETS) : data.consumeString(16)).append(' ')
        .append(data.consumeBoolean() ? data.pickValue(VERSIONS) : data.consumeString(10)).append("\r\n");
    boolean complete = data.consumeBoolean();
    for (String[] field : FIELDS) {
      int copies = complete && field == FIELDS[0] ? 1 : data.consumeInt(0, 2);
      for (int c = 0; c < copies; c++) {
        String value = data.consumeInt(0, 9) == 0 ? data.consumeString(40) : field[1];
        request.append(field[0]).append(data.consumeBoolean() ? ": " : ":").append(value)
            .append(data.consumeInt(0, 15) == 0 ? data.pickValue(EOLS) : "\r\n");
      }
    }
    request.append(data.consumeBoolean() ? "\r\n" : data.pickValue(EOLS));
    ByteArrayOutputStream input = new ByteArrayOutputStream();
    input.writeBytes(request.toString().getBytes(StandardCharsets.ISO_8859_1));
    int frames = data.consumeInt(0, 6);
    for (int i = 0; i < frames; i++) {
      writeFrame(input, data);
    }
    input.writeBytes(data.consumeBytes(64));
    byte[] bytes = input.toByteArray();

    EmbeddedChannel ch = ServerInboundFuzzTest.fuzzedServer(OPTIONS);
    ByteArrayOutputStream answer = new ByteArrayOutputStream();
    try {
      int at = 0;
      while (at < bytes.length && ch.isOpen()) {
        int step = 1 + data.consumeInt(0, Math.max(0, bytes.length - at - 1));
        if (data.consumeBoolean()) {
          // Writability flips as a slow reader's socket fills and drains.
          ch.unsafe().outboundBuffer().setUserDefinedWritability(1, data.consumeBoolean());
        }
        ch.writeInbound(Unpooled.copiedBuffer(bytes, at, step));
        ch.runPendingTasks();
        drain(ch, answer);
        at += step;
      }
      ch.checkException();
    } finally {
      ch.advanceTimeBy(1, TimeUnit.MINUTES);
      ch.runScheduledPendingTasks();
      drain(ch, answer);
      ch.finishAndReleaseAll();
    }
    String head = answer.toString(StandardCharsets.ISO_8859_1);
    if (head.startsWith("HTTP/1.1 101")) {
      String sent = request.toString().replaceAll("\\s", "");
      assertTrue(sent.contains("Bearert") || sent.contains("bearer.t"),
          "a 101 without the valid token to:\n" + request);
    }
  }

  /** A masked frame: a fuzzed first byte, and a length in the 7-, 16- or 64-bit form that may lie. */
  private static void writeFrame(ByteArrayOutputStream out, FuzzedDataProvider data) {
    out.write(data.consumeInt(0, 255));
    byte[] payload = data.consumeBytes(data.consumeInt(0, 300));
    int form = data.consumeInt(0, 2);
    if (form == 0) {
      out.write(0x80 | Math.min(payload.length, 125));
    } else if (form == 1) {
      int len = data.consumeBoolean() ? payload.length : data.consumeInt(0, 0xffff);
      out.write(0x80 | 126);
      out.write(len >>> 8);
      out.write(len);
    } else {
      long len = data.consumeBoolean() ? payload.length : data.consumeLong();
      out.write(0x80 | 127);
      for (int shift = 56; shift >= 0; shift -= 8) {
        out.write((int) (len >>> shift));
      }
    }
    byte[] mask = key(data.consumeInt());
    out.write(mask, 0, 4);
    for (int i = 0; i < payload.length; i++) {
      out.write(payload[i] ^ mask[i & 3]);
    }
  }

  private static void drain(EmbeddedChannel ch, ByteArrayOutputStream answer) {
    for (Object o; (o = ch.readOutbound()) != null; ) {
      if (o instanceof ByteBuf && answer.size() < 64) {
        ByteBuf b = (ByteBuf) o;
        byte[] head = new byte[Math.min(b.readableBytes(), 64 - answer.size())];
        b.getBytes(b.readerIndex(), head);
        answer.writeBytes(head);
      }
      ReferenceCountUtil.release(o);
    }
  }
}
