package dev.wsgrpc.core.internal;

import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameEncoder;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;

/**
 * Installs the handlers that carry a byte stream over an upgraded connection, in one place for both sides:
 *
 * <pre>
 *   socket ─ [TLS] ─ frame-decoder ─ frame-encoder ─ control ─ byte-stream ─ (gRPC's HTTP/2 handler)
 *            bytes ⇄ WebSocket frames ⇄ ping/pong/close/errors ⇄ binary frames ⇄ HTTP/2 bytes
 * </pre>
 */
public final class FramePipeline {

  public static final String DECODER = "wsgrpc-frame-decoder";
  public static final String ENCODER = "wsgrpc-frame-encoder";
  public static final String CONTROL = "wsgrpc-control";
  public static final String BYTE_STREAM = "wsgrpc-byte-stream";

  /**
   * Adds the frame handlers before the handler named {@code before}.
   *
   * @param server true on the server: it expects masked frames and sends unmasked ones; clients the reverse
   * @param maxInboundFramePayload the largest frame payload accepted; a larger one ends the tunnel with 1009
   * @param maxOutboundFramePayload the largest frame payload sent
   * @param peer how errors name the other side
   */
  public static void install(ChannelPipeline pipeline, String before, boolean server, int maxInboundFramePayload,
      int maxOutboundFramePayload, String peer) {
    WebSocketDecoderConfig config = WebSocketDecoderConfig.newBuilder()
        .maxFramePayloadLength(maxInboundFramePayload)
        .expectMaskedFrames(server)
        .allowMaskMismatch(false)
        .allowExtensions(false)
        // Violations surface as exceptions and ControlFrameHandler answers them: one path for protocol errors.
        .closeOnProtocolViolation(false)
        // Text frames are refused whole, so their UTF-8 never needs checking.
        .withUTF8Validator(false)
        .build();
    pipeline.addBefore(before, DECODER, new WebSocket13FrameDecoder(config));
    pipeline.addBefore(before, ENCODER, new WebSocket13FrameEncoder(!server));
    pipeline.addBefore(before, CONTROL, new ControlFrameHandler(peer,
        server ? WebSocketCloseStatus.ENDPOINT_UNAVAILABLE : WebSocketCloseStatus.NORMAL_CLOSURE, !server));
    pipeline.addBefore(before, BYTE_STREAM, new ByteStreamFrameCodec(maxOutboundFramePayload));
  }

  private FramePipeline() {}
}
