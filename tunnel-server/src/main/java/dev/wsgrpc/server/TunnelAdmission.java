package dev.wsgrpc.server;

import java.net.SocketAddress;

/**
 * Decides, before the 101, whether an otherwise valid upgrade becomes a tunnel, and when its HTTP/2 preface arrives,
 * whether a native gRPC connection is served: for draining, limits or access checks. Called on the connection's event loop: it must not block.
 */
@FunctionalInterface
public interface TunnelAdmission {

  /** Admits every tunnel. */
  TunnelAdmission ALL = (clientAddress, path) -> null;

  /**
   * Returns {@code null} to admit the tunnel, or the refusal to answer instead.
   *
   * @param clientAddress the client's address (after trusted-proxy headers; a native gRPC connection's socket peer,
   *     then, on a connection from a trusted proxy, the client each call names: such a call is refused with the
   *     reason, a 403 as {@code PERMISSION_DENIED}; a 503 is not applied to a call, its connection's GOAWAY tells it
   *     of a drain)
   * @param path the upgrade's path, or {@code null} for a native gRPC connection (refused with GOAWAY NO_ERROR
   *     whose debug data is the refusal's reason) and its calls
   */
  Refusal admit(SocketAddress clientAddress, String path);

  /** An HTTP answer that refuses a tunnel. */
  final class Refusal {
    private final int status;
    private final String reason;
    private final int retryAfterSeconds;

    private Refusal(int status, String reason, int retryAfterSeconds) {
      this.status = status;
      this.reason = reason;
      this.retryAfterSeconds = retryAfterSeconds;
    }

    /** 503 with {@code Retry-After}: come back later (draining, overloaded). */
    public static Refusal unavailable(String reason, int retryAfterSeconds) {
      return new Refusal(503, reason, retryAfterSeconds);
    }

    /** 403: this client may not open a tunnel. */
    public static Refusal forbidden(String reason) {
      return new Refusal(403, reason, -1);
    }

    /** The HTTP status of the refusal, e.g. 403. */
    public int status() {
      return status;
    }

    /** Why the tunnel was refused, as the client reads it in the response body. */
    public String reason() {
      return reason;
    }

    /** Seconds for {@code Retry-After}, or -1 for none. */
    public int retryAfterSeconds() {
      return retryAfterSeconds;
    }
  }
}
