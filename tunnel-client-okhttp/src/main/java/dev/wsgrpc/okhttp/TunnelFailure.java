package dev.wsgrpc.okhttp;

import io.grpc.Status;
import java.io.IOException;
import java.net.ProtocolException;
import java.util.Locale;

/**
 * Why a tunnel could not be opened or has ended, with the gRPC status code its RPCs fail with. Thrown from the
 * tunnel socket's streams, so grpc-okhttp sees an {@link IOException}; {@link TunnelStatusInterceptor} turns it
 * back into the status. The one mapping of close codes to status is {@link #codeFor(int)}.
 *
 * <table>
 *   <caption>Close code to gRPC status</caption>
 *   <tr><th>Close code</th><th>gRPC status</th></tr>
 *   <tr><td>1009 Message Too Big</td><td>RESOURCE_EXHAUSTED</td></tr>
 *   <tr><td>1002 Protocol Error, 1003 Unsupported Data, 1007 Invalid Payload</td><td>INTERNAL</td></tr>
 *   <tr><td>1008 Policy Violation</td><td>PERMISSION_DENIED</td></tr>
 *   <tr><td>any other, or none</td><td>UNAVAILABLE</td></tr>
 * </table>
 */
final class TunnelFailure extends IOException {

  private final Status.Code code;

  private TunnelFailure(Status.Code code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  /** The status RPCs on this tunnel fail with. */
  Status status() {
    return Status.fromCode(code).withDescription(getMessage()).withCause(this);
  }

  Status.Code code() {
    return code;
  }

  /** The tunnel could not be set up: always UNAVAILABLE, so that gRPC reconnects with its backoff. */
  static TunnelFailure handshake(String text, Throwable cause) {
    return new TunnelFailure(Status.Code.UNAVAILABLE, text, cause);
  }

  /**
   * {@code peer} closed the tunnel with {@code closeCode} (negative: none) and {@code reason}, which is shown as
   * {@link Checks#printable} shows a peer's text: no escape sequence or line of the peer's own in a status.
   */
  static TunnelFailure closedByPeer(String peer, int closeCode, String reason) {
    String text = closeCode < 0 || closeCode == 1005
        ? "WebSocket closed by " + peer + " without a close code"
        : "WebSocket closed by " + peer + " with " + describe(closeCode)
            + (reason == null || reason.isEmpty() ? "" : ": " + Checks.printable(reason, 123));
    return new TunnelFailure(codeFor(closeCode), text, null);
  }

  /** This side closed the tunnel with {@code sentCode} because of {@code problem}. */
  static TunnelFailure closedHere(String peer, int sentCode, String problem) {
    return new TunnelFailure(codeFor(sentCode),
        problem + " (from " + peer + "; sent close " + describe(sentCode) + ")", null);
  }

  /** The connection failed under the tunnel (reset, EOF without a Close, a silent path): UNAVAILABLE. */
  static TunnelFailure lost(String text, Throwable cause) {
    return new TunnelFailure(Status.Code.UNAVAILABLE, text, cause);
  }

  /**
   * The server broke RFC 6455 and OkHttp's reader refused its frame with {@code e}: INTERNAL, as after a close 1002,
   * saying what was expected and what arrived in the Netty client's words ({@link #expectedButWas}), e.g. {@code
   * "expected a defined opcode but was reserved opcode 0x3 (from ws://host/grpc)"}. OkHttp closes the connection
   * without a Close of its own, so the text names no close code sent. Where this side sees the plaintext (ws and wss,
   * not ws through a SOCKS proxy) {@link InboundFrameLimit} refuses such a frame first, with close 1002.
   */
  static TunnelFailure protocolError(String peer, ProtocolException e) {
    return new TunnelFailure(Status.Code.INTERNAL, expectedButWas(e.getMessage()) + " (from " + peer + ")", e);
  }

  /**
   * What the Netty client's frame decoder says of the frame that OkHttp 4.12's reader refused with {@code okHttp}
   * (its ProtocolException's text), as far as that text tells; a text of OkHttp's not listed here is kept as it is.
   */
  static String expectedButWas(String okHttp) {
    String m = String.valueOf(okHttp);
    if (m.equals("Server-sent frames must not be masked.")) {
      return "expected an unmasked frame (a server masks none) but it was masked";
    }
    if (m.startsWith("Unexpected rsv") && m.endsWith(" flag")) { // "Unexpected rsv1 flag"
      return "expected RSV bits 0 (no extension was negotiated) but "
          + m.substring("Unexpected ".length(), m.length() - " flag".length()).toUpperCase(Locale.ROOT) + " was set";
    }
    if (m.equals("Unknown opcode: 0")) { // a continuation frame where a message begins
      return "expected a text or binary frame to start a message but was a continuation frame";
    }
    if (m.startsWith("Unknown opcode: ") || m.startsWith("Unknown control opcode: ")) {
      return "expected a defined opcode but was reserved opcode 0x" + m.substring(m.lastIndexOf(' ') + 1);
    }
    if (m.startsWith("Expected continuation opcode. Got: ")) {
      String opcode = m.substring(m.lastIndexOf(' ') + 1);
      return opcode.equals("1") || opcode.equals("2")
          ? "expected a continuation frame inside a fragmented message but was a "
              + (opcode.equals("1") ? "text" : "binary") + " frame"
          : "expected a defined opcode but was reserved opcode 0x" + opcode;
    }
    if (m.equals("Control frames must be final.")) {
      return "expected control frames to be final but a control frame was fragmented";
    }
    if (m.equals("Control frame must be less than 125B.")) {
      return "expected a control frame payload of at most 125 bytes but a control frame announced more";
    }
    if (m.startsWith("Frame length 0x") && m.contains(" > ")) { // "Frame length 0x8000000000000000 > 0x7FFF..."
      return "expected a 64-bit length with the most significant bit 0 but was "
          + m.substring("Frame length ".length(), m.indexOf(" > "));
    }
    if (m.equals("Malformed close payload length of 1.")) {
      return "expected a close payload of 0 or at least 2 bytes but was 1 byte";
    }
    if (m.startsWith("Code must be in range [1000,5000): ")) { // OkHttp reads the code signed: -32768 for 0x8000
      String code = m.substring(m.lastIndexOf(' ') + 1);
      try {
        code = String.valueOf(Integer.parseInt(code) & 0xffff);
      } catch (NumberFormatException e) {
        // Not a number: quoted as it is.
      }
      return closeCodeNotAllowed(code);
    }
    if (m.startsWith("Code ") && m.endsWith(" is reserved and may not be used.")) {
      return closeCodeNotAllowed(m.substring("Code ".length(), m.indexOf(' ', "Code ".length())));
    }
    return m;
  }

  private static String closeCodeNotAllowed(String code) {
    return "expected a close code of 1000-1003, 1007-1014 or 3000-4999 but was " + code;
  }

  /** The gRPC status code that a close with {@code closeCode} becomes. */
  static Status.Code codeFor(int closeCode) {
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

  /** {@code "1001 (Going Away)"} for codes RFC 6455 and IANA name, else the number alone. */
  static String describe(int closeCode) {
    String name;
    switch (closeCode) {
      case 1000: name = "Normal Closure"; break;
      case 1001: name = "Going Away"; break;
      case 1002: name = "Protocol Error"; break;
      case 1003: name = "Unsupported Data"; break;
      case 1005: name = "No Status Received"; break;
      case 1006: name = "Abnormal Closure"; break;
      case 1007: name = "Invalid Payload Data"; break;
      case 1008: name = "Policy Violation"; break;
      case 1009: name = "Message Too Big"; break;
      case 1010: name = "Mandatory Extension"; break;
      case 1011: name = "Internal Error"; break;
      case 1012: name = "Service Restart"; break;
      case 1013: name = "Try Again Later"; break;
      case 1014: name = "Bad Gateway"; break;
      case 1015: name = "TLS Handshake"; break;
      default: name = null;
    }
    return name == null ? String.valueOf(closeCode) : closeCode + " (" + name + ")";
  }
}
