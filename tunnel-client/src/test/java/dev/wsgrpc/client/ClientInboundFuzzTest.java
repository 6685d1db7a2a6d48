package dev.wsgrpc.client;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.testing.FuzzSink;
import dev.wsgrpc.testing.NoopChannelLogger;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Fuzzes everything a client reads from a hostile server or a proxy in between: the answer to its upgrade (status
 * lines, header fields, a right or wrong {@code Sec-WebSocket-Accept}, bodies), then server frames in every length
 * encoding up to 64 bits (masked or not, any opcode and RSV bits), then the HTTP/2 inside them (Netty's HTTP/2
 * client codec stands in for gRPC's handler), arriving in pieces while the channel's writability flips.
 *
 * <p>A finding is an exception that escapes the pipeline other than the handshake's own {@code UNAVAILABLE} answer or
 * an HTTP/2 error, or a leaked buffer (paranoid leak detection). Every build fuzzes briefly (its own surefire
 * execution); docs/SECURITY.md shows a longer run.
 */
class ClientInboundFuzzTest {

  private static final Pattern KEY = Pattern.compile("Sec-WebSocket-Key: (\\S+)");
  private static final String[] STATUS_LINES = {"HTTP/1.1 101 Switching Protocols", "HTTP/1.1 101 Switching Protocols",
    "HTTP/1.1 101 Switching Protocols", "HTTP/1.1 200 OK", "HTTP/1.1 302 Found", "HTTP/1.1 401 Unauthorized",
    "HTTP/1.0 101 Switching Protocols", "HTTP/1.1 101", "HTTP/1.1 502 Bad Gateway", "HTTP/2 101 x", "ICY 200 OK"};
  private static final String[][] FIELDS = {
    {"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", null},
    {"Sec-WebSocket-Protocol", "wsgrpc.v1"}, {"Sec-WebSocket-Protocol", "bearer.t"},
    {"Sec-WebSocket-Extensions", "permessage-deflate"}, {"Content-Length", "5"}, {"Transfer-Encoding", "chunked"},
    {"Location", "ws://elsewhere/"}, {"Server", "nginx"}, {"Content-Type", "text/html"},
  };

  @FuzzTest(maxDuration = "15s")
  void clientSurvivesAnyServer(FuzzedDataProvider data) {
    WebSocketClientOptions options = WebSocketClientOptions.newBuilder("ws://example.com/grpc")
        .settings(TunnelSettings.newBuilder().maxInboundFramePayload(4096).build()).build();
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    ch.pipeline().addLast(new ClientUpgradeHandler(Http2FrameCodecBuilder.forClient().build(), options,
        new HandshakeDeadline(2_000, options.safeUrl()), HandshakeProgress.NONE, NoopChannelLogger.INSTANCE));
    ch.pipeline().addLast(new FuzzSink(cause -> cause instanceof StatusRuntimeException
        || Http2CodecUtil.getEmbeddedHttp2Exception(cause) != null));
    try {
      ch.pipeline().fireUserEventTriggered(InternalProtocolNegotiationEvent.getDefault());
      String sent = drain(ch);
      Matcher key = KEY.matcher(sent);
      String accept = key.find() ? Http11Tokens.acceptFor(key.group(1)) : "x";

      ByteArrayOutputStream input = new ByteArrayOutputStream();
      if (data.consumeBoolean()) {
        StringBuilder response = new StringBuilder(data.consumeBoolean() ? data.pickValue(STATUS_LINES)
            : data.consumeString(30)).append("\r\n");
        for (String[] field : FIELDS) {
          int copies = field[0].equals("Upgrade") || field[0].equals("Connection")
              || field[0].equals("Sec-WebSocket-Accept") ? 1 - data.consumeInt(0, 7) / 7 : data.consumeInt(0, 4) / 4;
          for (int c = 0; c < copies; c++) {
            String value = field[1] == null ? (data.consumeInt(0, 7) == 0 ? data.consumeString(28) : accept)
                : data.consumeInt(0, 9) == 0 ? data.consumeString(30) : field[1];
            response.append(field[0]).append(": ").append(value).append(data.consumeInt(0, 15) == 0 ? "\n" : "\r\n");
          }
        }
        response.append("\r\n");
        input.writeBytes(response.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (data.consumeBoolean()) {
          input.writeBytes(serverFrame(0x82, PREFACE_SETTINGS, data));
        }
        int frames = data.consumeInt(0, 6);
        for (int i = 0; i < frames; i++) {
          input.writeBytes(serverFrame(data.consumeInt(0, 255), data.consumeBytes(data.consumeInt(0, 300)), data));
        }
      }
      input.writeBytes(data.consumeBytes(200));
      byte[] bytes = input.toByteArray();
      int at = 0;
      while (at < bytes.length && ch.isOpen()) {
        int step = 1 + data.consumeInt(0, Math.max(0, bytes.length - at - 1));
        if (data.consumeBoolean()) {
          ch.unsafe().outboundBuffer().setUserDefinedWritability(1, data.consumeBoolean());
        }
        ch.writeInbound(Unpooled.copiedBuffer(bytes, at, step));
        ch.runPendingTasks();
        drain(ch);
        at += step;
      }
      ch.checkException();
    } finally {
      ch.advanceTimeBy(1, TimeUnit.MINUTES);
      ch.runScheduledPendingTasks();
      ch.finishAndReleaseAll();
    }
  }

  /** An empty SETTINGS frame: what a server's HTTP/2 begins with. */
  private static final byte[] PREFACE_SETTINGS = {0, 0, 0, 4, 0, 0, 0, 0, 0};

  /** A server frame: unmasked, unless the fuzzer masks it; the length in any form, possibly a lie. */
  private static byte[] serverFrame(int firstByte, byte[] payload, FuzzedDataProvider data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(firstByte);
    int mask = data.consumeInt(0, 9) == 0 ? 0x80 : 0;
    int form = data.consumeInt(0, 2);
    if (form == 0) {
      out.write(mask | Math.min(payload.length, 125));
    } else if (form == 1) {
      int len = data.consumeBoolean() ? payload.length : data.consumeInt(0, 0xffff);
      out.write(mask | 126);
      out.write(len >>> 8);
      out.write(len);
    } else {
      long len = data.consumeBoolean() ? payload.length : data.consumeLong();
      out.write(mask | 127);
      for (int shift = 56; shift >= 0; shift -= 8) {
        out.write((int) (len >>> shift));
      }
    }
    if (mask != 0) {
      out.writeBytes(data.consumeBytes(4));
    }
    out.writeBytes(payload);
    return out.toByteArray();
  }

  private static String drain(EmbeddedChannel ch) {
    StringBuilder text = new StringBuilder();
    for (Object o; (o = ch.readOutbound()) != null; ) {
      if (o instanceof ByteBuf && text.length() < 4096) {
        text.append(((ByteBuf) o).toString(StandardCharsets.ISO_8859_1));
      }
      ReferenceCountUtil.release(o);
    }
    return text.toString();
  }
}
