package dev.wsgrpc.core.internal;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;

/**
 * The one mapping from WebSocket close codes and tunnel failures to gRPC {@link Status}. Every description names
 * the peer, the code and the reason, and every status keeps its cause.
 *
 * <table>
 *   <caption>Close code to gRPC status</caption>
 *   <tr><th>Close code</th><th>gRPC status</th></tr>
 *   <tr><td>1009 Message Too Big</td><td>RESOURCE_EXHAUSTED</td></tr>
 *   <tr><td>1002 Protocol Error, 1003 Unsupported Data, 1007 Invalid Payload</td><td>INTERNAL</td></tr>
 *   <tr><td>1008 Policy Violation</td><td>PERMISSION_DENIED</td></tr>
 *   <tr><td>any other (1000, 1001, 1006, 1011, 1012, 1013, ...)</td><td>UNAVAILABLE</td></tr>
 * </table>
 */
public final class TunnelStatus {

  /** The gRPC status code that a close with {@code closeCode} becomes. */
  public static Status.Code codeFor(int closeCode) {
    switch (closeCode) {
      case 1009:
        return Status.Code.RESOURCE_EXHAUSTED;
      case 1002:
      case 1003:
      case 1007:
        return Status.Code.INTERNAL;
      case 1008:
        return Status.Code.PERMISSION_DENIED;
      default:
        return Status.Code.UNAVAILABLE;
    }
  }

  /**
   * The status of RPCs on a tunnel that {@code peer} closed with {@code closeCode} and {@code reason}. The reason is
   * the peer's text (any UTF-8 up to 123 bytes): it is shown in printable ASCII, anything else as {@code ?}, so that a
   * hostile peer writes no escape sequence or line of its own into a status, and the logs that quote it.
   */
  public static StatusRuntimeException closedByPeer(String peer, int closeCode, String reason) {
    String text = closeCode < 0
        ? "WebSocket closed by " + peer + " without a close code"
        : "WebSocket closed by " + peer + " with " + describe(closeCode) + reasonSuffix(reason);
    return Status.fromCode(codeFor(closeCode)).withDescription(text).asRuntimeException();
  }

  /** The status of RPCs on a tunnel that this side closed with {@code sent} because of {@code problem}. */
  public static StatusRuntimeException closedHere(String peer, WebSocketCloseStatus sent, String problem,
      Throwable cause) {
    String text = problem + " (from " + peer + "; sent close " + describe(sent.code()) + ")";
    return Status.fromCode(codeFor(sent.code())).withDescription(text).withCause(cause).asRuntimeException();
  }

  /** The status of a tunnel that could not be set up with {@code peer}. */
  public static StatusRuntimeException handshakeFailed(String what, Throwable cause) {
    return Status.UNAVAILABLE.withDescription(what).withCause(cause).asRuntimeException();
  }

  /**
   * The failure of a write that the tunnel's end overtook. A {@link ClosedChannelException} with a cause, which
   * grpc-java reports as UNAVAILABLE (a bare one it reports as UNKNOWN), so that RPCs cut by a dropped tunnel fail
   * with a status that tells the channel to reconnect.
   *
   * <p>Neither it nor its cause has a stack trace: where it is made (the tunnel's end) says nothing about the write
   * it fails, and filling in two deep stacks at the end of every tunnel was a large part of what a short-lived
   * tunnel cost (as Netty's own {@code StacklessClosedChannelException} avoids).
   */
  public static ClosedChannelException closedBeforeWrite() {
    ClosedChannelException e = new ClosedBeforeWrite();
    e.initCause(new Why("the WebSocket tunnel closed before these bytes were written"));
    return e;
  }

  /** {@link #closedBeforeWrite()}'s exception, without a stack trace. */
  private static final class ClosedBeforeWrite extends ClosedChannelException {
    private static final long serialVersionUID = 1L;

    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  }

  /** {@link #closedBeforeWrite()}'s cause, which says what happened, without a stack trace. */
  private static final class Why extends IOException {
    private static final long serialVersionUID = 1L;

    Why(String message) {
      super(message);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  }

  /** {@code cause}, or, for a bare {@link ClosedChannelException}, {@link #closedBeforeWrite()}. */
  public static Throwable writeFailure(Throwable cause) {
    return cause instanceof ClosedChannelException && cause.getCause() == null ? closedBeforeWrite() : cause;
  }

  /** {@code "1001 (Going Away)"} for codes RFC 6455 and IANA name, else the number alone. */
  public static String describe(int closeCode) {
    if (closeCode < 0) {
      return "no close code";
    }
    String name = nameOf(closeCode);
    return name == null ? String.valueOf(closeCode) : closeCode + " (" + name + ")";
  }

  private static String nameOf(int closeCode) {
    switch (closeCode) {
      case 1000: return "Normal Closure";
      case 1001: return "Going Away";
      case 1002: return "Protocol Error";
      case 1003: return "Unsupported Data";
      case 1005: return "No Status Received";
      case 1006: return "Abnormal Closure";
      case 1007: return "Invalid Payload Data";
      case 1008: return "Policy Violation";
      case 1009: return "Message Too Big";
      case 1010: return "Mandatory Extension";
      case 1011: return "Internal Error";
      case 1012: return "Service Restart";
      case 1013: return "Try Again Later";
      case 1014: return "Bad Gateway";
      case 1015: return "TLS Handshake";
      default: return null;
    }
  }

  private static String reasonSuffix(String reason) {
    return reason == null || reason.isEmpty() ? "" : ": " + Http11Tokens.printable(reason, 123);
  }

  private TunnelStatus() {}
}
