package dev.wsgrpc.core;

/**
 * Constants of the wsgrpc wire contract (see {@code docs/PROTOCOL.md}) shared by client and server.
 *
 * <p>A tunnel is one WebSocket connection (RFC 6455) whose binary messages carry the raw HTTP/2 byte stream of one
 * gRPC connection. Message and frame boundaries carry no meaning.
 */
public final class WebSocketTunnel {

  /** The WebSocket subprotocol that names this protocol: {@value}. */
  public static final String SUBPROTOCOL = "wsgrpc.v1";

  /** The default request path of the upgrade: {@value}. */
  public static final String DEFAULT_PATH = "/grpc";

  /**
   * The default largest payload of one outgoing frame, in bytes: {@value} (64 KiB), small enough for strict
   * proxies. Larger writes are split; smaller writes between two flushes are coalesced.
   */
  public static final int DEFAULT_MAX_OUTBOUND_FRAME_PAYLOAD = 64 * 1024;

  /**
   * The default largest payload of one incoming frame, in bytes: {@value} (1 MiB). A larger frame ends the tunnel
   * with close code 1009.
   */
  public static final int DEFAULT_MAX_INBOUND_FRAME_PAYLOAD = 1024 * 1024;

  /**
   * The default time between two WebSocket Pings, in milliseconds: {@value} (30 s), below the 60 s idle timeout of
   * nginx and AWS ALB and the ~100 s of Cloudflare.
   */
  public static final long DEFAULT_PING_INTERVAL_MILLIS = 30_000;

  /**
   * The default time, in milliseconds, within which something must arrive after a Ping before the peer is
   * considered gone and the tunnel closed: {@value} (15 s).
   */
  public static final long DEFAULT_PING_TIMEOUT_MILLIS = 15_000;

  /** The default time allowed for TLS and the upgrade together, in milliseconds: {@value}. */
  public static final long DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 10_000;

  private WebSocketTunnel() {}
}
