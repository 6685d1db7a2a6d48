package dev.wsgrpc.core.internal;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import dev.wsgrpc.core.TunnelSettings;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;

/**
 * The one home of the frame handlers and of the switch from HTTP/1.1 to frames, for both sides:
 *
 * <pre>
 *   socket ─ [TLS] ─ frame-decoder ─ frame-encoder ─ [keepalive] ─ control ─ byte-stream ─ [ack-limit] ─ gRPC
 *            bytes ⇄ WebSocket frames ⇄ pings, liveness ⇄ ping/pong/close/errors ⇄ binary frames ⇄ HTTP/2 bytes
 * </pre>
 *
 * <p>gRPC's HTTP/2 handler comes last; the ack limit ({@link Http2AckLimit}) is on a client only.
 */
public final class FramePipeline {

  public static final String DECODER = "wsgrpc-frame-decoder";
  public static final String ENCODER = "wsgrpc-frame-encoder";
  public static final String KEEPALIVE = "wsgrpc-keepalive";
  public static final String CONTROL = "wsgrpc-control";
  public static final String BYTE_STREAM = "wsgrpc-byte-stream";
  public static final String ACK_LIMIT = "wsgrpc-http2-ack-limit";
  public static final String FLUSH_CONSOLIDATION = "wsgrpc-flush-consolidation";

  /** Which end of the tunnel a pipeline is: it decides masking and the close code sent when the tunnel ends. */
  public enum Role {
    /** Sends masked frames, expects unmasked ones, closes with 1000 (Normal Closure). */
    CLIENT,
    /** Sends unmasked frames, expects masked ones, closes with 1001 (Going Away). */
    SERVER
  }

  /**
   * Adds the frame handlers before the handler named {@code before}: decoder, encoder, a {@link KeepaliveHandler}
   * unless {@link TunnelSettings#pingInterval()} is zero, control, byte stream, and on a client an
   * {@link Http2AckLimit}.
   *
   * @param settings the frame payload limits (a larger inbound frame ends the tunnel with 1009) and the pings
   * @param peer how errors name the other side, e.g. {@code "wss://host/grpc"} or {@code "client 10.0.0.7:5512"}
   */
  public static void install(ChannelPipeline pipeline, String before, Role role, TunnelSettings settings,
      String peer) {
    boolean server = role == Role.SERVER;
    // Violations surface as exceptions and ControlFrameHandler answers them: one path for protocol errors.
    pipeline.addBefore(before, DECODER, new FrameDecoder(server, settings.maxInboundFramePayload()));
    pipeline.addBefore(before, ENCODER, new FrameEncoder(!server));
    if (!settings.pingInterval().isZero()) {
      pipeline.addBefore(before, KEEPALIVE, new KeepaliveHandler(settings.pingInterval().toMillis(),
          settings.pingTimeout().toMillis()));
    }
    pipeline.addBefore(before, CONTROL, new ControlFrameHandler(peer,
        server ? WebSocketCloseStatus.ENDPOINT_UNAVAILABLE : WebSocketCloseStatus.NORMAL_CLOSURE, !server));
    pipeline.addBefore(before, BYTE_STREAM, new ByteStreamFrameCodec(settings.maxOutboundFramePayload(),
        !server)); // a client's frames are masked, a copy anyway: copied once, as they are gathered
    if (!server) {
      // gRPC's server limits the acknowledgements it queues itself; its client does not.
      pipeline.addBefore(before, ACK_LIMIT, new Http2AckLimit());
    }
  }

  /**
   * Adds Netty's {@link FlushConsolidationHandler} before the handler named {@code before}, for the handshake only:
   * flushes made while a read is being handled go out once, when the read completes (or when the handler is
   * removed); other flushes go out at once. Both upgrade handlers add it with their HTTP codec, so that it is in
   * place when the request (server) or the 101 (client) is read: the switch to frames and gRPC's first writes
   * happen inside that read and flush three times (the 101, gRPC's SETTINGS, its connection WINDOW_UPDATE), which
   * without it were three system calls and three packets where one does. {@link #switchToFrames} removes it (and a
   * native HTTP/2 connection's handoff does), so that a tunnel's flushes are as gRPC makes them: holding back a
   * whole read loop's answers would let a flood of SETTINGS or PINGs pile up unwritten acknowledgements.
   */
  public static void addFlushConsolidation(ChannelPipeline pipeline, String before) {
    pipeline.addBefore(before, FLUSH_CONSOLIDATION, new FlushConsolidationHandler(
        FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, false));
  }

  /**
   * Switches a connection whose upgrade just succeeded from HTTP/1.1 to frames, in the one order that loses no
   * byte; the upgrade handler at {@code upgrade} calls it once the 101 is sent (server) or read (client):
   *
   * <ol>
   *   <li>the HTTP codec named {@code httpCodec} stops encoding: writes from now on reach the frame encoder;</li>
   *   <li>the frame handlers are {@linkplain #install installed} before the upgrade handler;</li>
   *   <li>{@code established}, unless null, is fired to the handlers after it;</li>
   *   <li>{@code handOver} runs: it removes the upgrade handler, or replaces it with the one that takes over;</li>
   *   <li>the HTTP codec is removed, so bytes the peer sent right after the handshake, which the codec still
   *       holds, flow through the frame decoder to whoever took over;</li>
   *   <li>last, the {@linkplain #addFlushConsolidation flush consolidation} goes, sending what the steps before
   *       flushed (the 101 and gRPC's first frames on the server, gRPC's first frames on the client) in one write.</li>
   * </ol>
   */
  public static void switchToFrames(ChannelHandlerContext upgrade, String httpCodec, Role role,
      TunnelSettings settings, String peer, TunnelEstablishedEvent established, Runnable handOver) {
    ChannelPipeline pipeline = upgrade.pipeline();
    ((CombinedChannelDuplexHandler<?, ?>) pipeline.get(httpCodec)).removeOutboundHandler();
    install(pipeline, upgrade.name(), role, settings, peer);
    if (established != null) {
      upgrade.fireUserEventTriggered(established);
    }
    handOver.run();
    pipeline.remove(httpCodec);
    removeFlushConsolidation(pipeline);
  }

  /** Removes what {@link #addFlushConsolidation} added, if it is there, flushing what it held back. */
  public static void removeFlushConsolidation(ChannelPipeline pipeline) {
    if (pipeline.get(FLUSH_CONSOLIDATION) != null) {
      pipeline.remove(FLUSH_CONSOLIDATION);
    }
  }

  private FramePipeline() {}
}
