package dev.wsgrpc.server;

import static dev.wsgrpc.testing.WireFrames.frameBytes;
import static dev.wsgrpc.testing.WireFrames.key;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.testing.FuzzSink;
import dev.wsgrpc.testing.NoopChannelLogger;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Fuzzes everything a server reads from a client: the upgrade request, the WebSocket frames after it, and the
 * HTTP/2 stream inside them (Netty's HTTP/2 frame codec stands in for gRPC's handler). Inputs usually begin with a
 * valid upgrade so that the fuzzer spends its time past the handshake; the bytes arrive split at fuzzed points.
 *
 * <p>A finding is any exception that escapes the pipeline, or a leaked buffer (paranoid leak detection). Run as a
 * regression test (the saved inputs under {@code src/test/resources}) in every build, and as a short fuzzing run
 * when {@code JAZZER_FUZZ=1} (its own surefire execution in every build; see docs/SECURITY.md for a longer run).
 */
class ServerInboundFuzzTest {

  private static final String KEY = "dGhlIHNhbXBsZSBub25jZQ==";
  private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final WebSocketServerOptions OPTIONS = WebSocketServerOptions.newBuilder()
      .access(AccessPolicy.newBuilder().authenticator(BearerTokens.of(Map.of("t", "fuzzer"))).build())
      .settings(TunnelSettings.newBuilder().maxInboundFramePayload(4096).handshakeTimeout(Duration.ofSeconds(5))
              .build())
      .build();

  /**
   * A server's pipeline as gRPC starts it, on a channel with frozen time: the upgrade step handing over to Netty's
   * HTTP/2 frame codec (standing in for gRPC's handler), then a {@link FuzzSink} that lets only HTTP/2 errors pass.
   */
  static EmbeddedChannel fuzzedServer(WebSocketServerOptions options) {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    ch.pipeline().addLast(new GrpcHandoffHandler(Http2FrameCodecBuilder.forServer().build(), null, options,
        new TunnelCounter(Integer.MAX_VALUE, Integer.MAX_VALUE), true, NoopChannelLogger.INSTANCE));
    ch.pipeline().addLast(new FuzzSink(cause -> Http2CodecUtil.getEmbeddedHttp2Exception(cause) != null));
    ch.pipeline().fireUserEventTriggered(InternalProtocolNegotiationEvent.getDefault());
    return ch;
  }

  @FuzzTest(maxDuration = "20s")
  void serverSurvivesAnyInput(FuzzedDataProvider data) {
    ByteArrayOutputStream input = new ByteArrayOutputStream();
    if (data.consumeBoolean()) {
      String request = "GET /grpc HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Key: " + KEY + "\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer t\r\n\r\n";
      input.writeBytes(request.getBytes(StandardCharsets.US_ASCII));
      if (data.consumeBoolean()) {
        input.writeBytes(frameBytes(0x82, PREFACE, key(data.consumeInt())));
      }
      int frames = data.consumeInt(0, 8);
      for (int i = 0; i < frames; i++) {
        int firstByte = data.consumeInt(0, 255);
        byte[] payload = data.consumeBytes(data.consumeInt(0, 300));
        input.writeBytes(frameBytes(firstByte, payload, key(data.consumeInt())));
      }
    }
    byte[] tail = data.consumeRemainingAsBytes();
    input.writeBytes(tail);
    byte[] bytes = input.toByteArray();

    EmbeddedChannel ch = fuzzedServer(OPTIONS);
    try {
      // Deliver in a few reads, split where the input's own length suggests.
      int step = Math.max(1, bytes.length / 3 + (tail.length & 7));
      for (int i = 0; i < bytes.length && ch.isOpen(); i += step) {
        ByteBuf chunk = Unpooled.copiedBuffer(bytes, i, Math.min(step, bytes.length - i));
        ch.writeInbound(chunk);
        ch.runPendingTasks();
      }
      ch.checkException();
    } finally {
      // Let every timer fire (handshake timeout, linger after a Close), as time would on a real connection.
      ch.advanceTimeBy(1, TimeUnit.MINUTES);
      ch.runScheduledPendingTasks();
      ch.finishAndReleaseAll();
    }
  }
}
