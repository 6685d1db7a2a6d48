package dev.wsgrpc.core.internal;

import dev.wsgrpc.core.WebSocketTunnel;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;

/**
 * Installs the handlers that carry a byte stream over an upgraded connection, in one place for both sides:
 *
 * <pre>
 *   socket ─ [TLS] ─ frame-decoder ─ frame-encoder ─ [keepalive] ─ control ─ byte-stream ─ (gRPC's HTTP/2 handler)
 *            bytes ⇄ WebSocket frames ⇄ pings, liveness ⇄ ping/pong/close/errors ⇄ binary frames ⇄ HTTP/2 bytes
 * </pre>
 */
public final class FramePipeline {

  public static final String DECODER = "wsgrpc-frame-decoder";
  public static final String ENCODER = "wsgrpc-frame-encoder";
  public static final String KEEPALIVE = "wsgrpc-keepalive";
  public static final String CONTROL = "wsgrpc-control";
  public static final String BYTE_STREAM = "wsgrpc-byte-stream";

  /**
   * Adds the frame handlers before the handler named {@code before}, without keepalive (no Pings are sent; see the
   * overload that takes the ping settings, {@link WebSocketTunnel#DEFAULT_PING_INTERVAL_MILLIS}).
   *
   * @param server true on the server: it expects masked frames and sends unmasked ones; clients the reverse
   * @param maxInboundFramePayload the largest frame payload accepted; a larger one ends the tunnel with 1009
   * @param maxOutboundFramePayload the largest frame payload sent
   * @param peer how errors name the other side
   */
  public static void install(ChannelPipeline pipeline, String before, boolean server, int maxInboundFramePayload,
      int maxOutboundFramePayload, String peer) {
    install(pipeline, before, server, maxInboundFramePayload, maxOutboundFramePayload, peer, 0, 0);
  }

  /**
   * Adds the frame handlers before the handler named {@code before}, with a {@link KeepaliveHandler} between the
   * encoder and the control handler unless {@code pingIntervalMillis} is 0.
   *
   * @param pingIntervalMillis time between two WebSocket Pings; 0 sends none and never checks the peer
   * @param pingTimeoutMillis how long after a Ping something must have arrived before the tunnel is closed
   */
  public static void install(ChannelPipeline pipeline, String before, boolean server, int maxInboundFramePayload,
      int maxOutboundFramePayload, String peer, long pingIntervalMillis, long pingTimeoutMillis) {
    // Violations surface as exceptions and ControlFrameHandler answers them: one path for protocol errors.
    pipeline.addBefore(before, DECODER, new FrameDecoder(server, maxInboundFramePayload));
    pipeline.addBefore(before, ENCODER, new FrameEncoder(!server));
    if (pingIntervalMillis > 0) {
      pipeline.addBefore(before, KEEPALIVE, new KeepaliveHandler(pingIntervalMillis, pingTimeoutMillis));
    }
    pipeline.addBefore(before, CONTROL, new ControlFrameHandler(peer,
        server ? WebSocketCloseStatus.ENDPOINT_UNAVAILABLE : WebSocketCloseStatus.NORMAL_CLOSURE, !server));
    pipeline.addBefore(before, BYTE_STREAM, new ByteStreamFrameCodec(maxOutboundFramePayload));
  }

  private FramePipeline() {}
}
