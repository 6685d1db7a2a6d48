package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.Http11Tokens;
import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * What every browser protocol shares when it becomes a gRPC call and back: the HTTP/2 request headers, the
 * {@code name: value\r\n} header blocks that carry metadata and trailers in a body, and the gRPC status a refusal or
 * a reset turns into.
 */
final class BrowserCalls {

  /** Headers that describe one HTTP/1.1 hop or a browser protocol, never passed to gRPC as metadata. */
  private static final Set<String> NOT_METADATA = Set.of("host", "connection", "keep-alive", "proxy-connection",
      "transfer-encoding", "upgrade", "te", "content-type", "content-length", "x-grpc-web", "sec-websocket-key",
      "sec-websocket-version", "sec-websocket-protocol", "sec-websocket-extensions", "accept-encoding", "expect");

  private BrowserCalls() {}

  /**
   * The HTTP/2 headers of a call on {@code path} with the browser's other headers as metadata.
   *
   * @param contentType the gRPC content type, e.g. {@code application/grpc+proto}
   */
  static Http2Headers requestHeaders(String path, String scheme, String authority, String contentType,
      Iterable<Map.Entry<String, String>> headers) {
    Http2Headers out = new DefaultHttp2Headers(false)
        .method("POST")
        .scheme(scheme)
        .path(path)
        .authority(authority == null ? "localhost" : authority);
    out.set("content-type", contentType);
    out.set("te", "trailers");
    for (Map.Entry<String, String> header : headers) {
      String name = header.getKey().toLowerCase(Locale.ROOT);
      if (NOT_METADATA.contains(name) || !Http11Tokens.isToken(name)) {
        continue;
      }
      out.add(name, header.getValue());
    }
    return out;
  }

  /**
   * A header block as gRPC-Web trailers and grpc-websockets frames carry it: lower-case {@code name: value\r\n}
   * lines, pseudo-headers left out.
   */
  static ByteBuf headerBlock(ByteBufAllocator alloc, Http2Headers headers) {
    StringBuilder block = new StringBuilder();
    for (Map.Entry<CharSequence, CharSequence> header : headers) {
      CharSequence name = header.getKey();
      if ((name.length() > 0 && name.charAt(0) == ':') || !isFieldValue(header.getValue())) {
        continue;
      }
      block.append(name.toString().toLowerCase(Locale.ROOT)).append(": ").append(header.getValue()).append("\r\n");
    }
    return io.netty.buffer.ByteBufUtil.writeAscii(alloc, block);
  }

  /**
   * Whether {@code value} may be written as an HTTP/1.1 field value: no control character but horizontal tab (RFC
   * 9110 5.5). A service's metadata can hold CR or LF (grpc-java does not check ASCII values), which in a header block
   * would begin a line of the service's choosing (a {@code grpc-status} of its own) and in an HTTP/1.1 answer would
   * fail the whole answer: such a field is left out of what a browser gets.
   */
  static boolean isFieldValue(CharSequence value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return false;
      }
    }
    return true;
  }

  /**
   * A header block as a frame of its own, as gRPC-Web bodies and grpc-websockets messages carry headers and
   * trailers: {@code 0x80}, the block's length in 4 bytes, then the block.
   */
  static ByteBuf headerFrame(ByteBufAllocator alloc, Http2Headers headers) {
    ByteBuf block = headerBlock(alloc, headers);
    ByteBuf frame = alloc.buffer(5 + block.readableBytes());
    frame.writeByte(0x80).writeInt(block.readableBytes()).writeBytes(block);
    block.release();
    return frame;
  }

  /** Trailers that end a call with {@code status}. */
  static Http2Headers statusTrailers(Status status) {
    Http2Headers trailers = new DefaultHttp2Headers(false);
    trailers.set("grpc-status", Integer.toString(status.getCode().value()));
    if (status.getDescription() != null) {
      trailers.set("grpc-message", percentEncode(status.getDescription()));
    }
    return trailers;
  }

  /** The gRPC status that answers a request refused with this HTTP status (gRPC's HTTP-to-status mapping). */
  static Status statusForHttp(int httpStatus, String reason) {
    Status.Code code;
    switch (httpStatus) {
      case 400:
        code = Status.Code.INTERNAL;
        break;
      case 401:
        code = Status.Code.UNAUTHENTICATED;
        break;
      case 403:
        code = Status.Code.PERMISSION_DENIED;
        break;
      case 404:
        code = Status.Code.UNIMPLEMENTED;
        break;
      case 429:
      case 502:
      case 503:
      case 504:
        code = Status.Code.UNAVAILABLE;
        break;
      default:
        code = Status.Code.UNKNOWN;
    }
    return code.toStatus().withDescription(reason);
  }

  /**
   * The status of a call gRPC reset: CANCEL once the call's {@code grpc-timeout} has elapsed is its deadline
   * (gRPC's server resets a call whose deadline passed with CANCEL, as it does any call it cancels), any other
   * CANCEL is a cancelled call, anything else broke the call.
   *
   * @param grpcTimeout the call's {@code grpc-timeout} header as it was handed to gRPC, or null
   * @param elapsedNanos how long ago the call's headers were handed to gRPC
   */
  static Status statusForReset(Http2Error error, CharSequence grpcTimeout, long elapsedNanos) {
    if (error != Http2Error.CANCEL) {
      return Status.INTERNAL.withDescription("the server reset the call: " + error);
    }
    long timeoutNanos = timeoutNanos(grpcTimeout);
    if (timeoutNanos >= 0 && elapsedNanos >= timeoutNanos) {
      return Status.DEADLINE_EXCEEDED.withDescription("deadline of " + millis(timeoutNanos) + " (grpc-timeout "
          + grpcTimeout + ") exceeded after " + TimeUnit.NANOSECONDS.toMillis(elapsedNanos) + " ms");
    }
    return Status.CANCELLED.withDescription("the call was cancelled by the server");
  }

  /**
   * A {@code grpc-timeout} in nanoseconds as gRPC's server reads it: an amount and a unit ({@code H}, {@code M},
   * {@code S}, {@code m}, {@code u}, {@code n}), at most 9 characters in all. gRPC's HTTP/2 protocol says 1 to 8
   * ASCII digits, but grpc-java reads the amount with {@link Long#parseLong}, so an optional {@code +} or {@code -}
   * is accepted too; a negative amount is 0 (gRPC's deadline has passed at once). -1 when {@code value} is null or
   * not of that form (gRPC's server then refuses the call itself).
   */
  static long timeoutNanos(CharSequence value) {
    if (value == null || value.length() < 2 || value.length() > 9) {
      return -1;
    }
    int end = value.length() - 1;
    int i = 0;
    boolean negative = false;
    if (value.charAt(0) == '+' || value.charAt(0) == '-') {
      negative = value.charAt(0) == '-';
      i = 1;
      if (end == 1) {
        return -1;
      }
    }
    long amount = 0;
    for (; i < end; i++) {
      char c = value.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      amount = amount * 10 + (c - '0');
    }
    if (negative) {
      amount = 0;
    }
    switch (value.charAt(value.length() - 1)) {
      case 'H':
        return TimeUnit.HOURS.toNanos(amount);
      case 'M':
        return TimeUnit.MINUTES.toNanos(amount);
      case 'S':
        return TimeUnit.SECONDS.toNanos(amount);
      case 'm':
        return TimeUnit.MILLISECONDS.toNanos(amount);
      case 'u':
        return TimeUnit.MICROSECONDS.toNanos(amount);
      case 'n':
        return amount;
      default:
        return -1;
    }
  }

  /** {@code nanos} as milliseconds: whole ones when it is, else with the fraction ({@code 0.25 ms}). */
  private static String millis(long nanos) {
    if (nanos % 1_000_000 == 0) {
      return nanos / 1_000_000 + " ms";
    }
    return java.math.BigDecimal.valueOf(nanos, 6).stripTrailingZeros().toPlainString() + " ms";
  }

  /** Percent-encodes a grpc-message as gRPC's HTTP/2 protocol prescribes (UTF-8; printable ASCII except %). */
  static String percentEncode(String message) {
    StringBuilder out = new StringBuilder(message.length());
    for (byte b : message.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (c >= 0x20 && c <= 0x7e && c != '%') {
        out.append((char) c);
      } else {
        out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
      }
    }
    return out.toString();
  }
}
