package dev.wsgrpc.server;

import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;

/**
 * How a request that the HTTP/1.1 decoder failed on is refused, in one place for every request a connection reads:
 * the one that opens it ({@link ServerUpgradeHandler}) and each that follows on a kept-alive gRPC-Web connection
 * ({@link GrpcWebTranslator}). 414 a request line over {@link WebSocketServerOptions#maxRequestLineBytes()}, 431
 * headers over {@link WebSocketServerOptions#maxRequestHeaderBytes()}, 400 anything else; the reason says what was
 * expected in plain words, never the decoder's message (its internals, and perhaps the bytes that arrived).
 */
final class UndecodableRequest {

  final HttpResponseStatus status;
  /** What {@link TunnelListener#upgradeRejected} reports. */
  final RejectReason why;
  /** The plain-text answer: what was expected. */
  final String reason;

  private UndecodableRequest(HttpResponseStatus status, RejectReason why, String reason) {
    this.status = status;
    this.why = why;
    this.reason = reason;
  }

  /**
   * The refusal of {@code request} if its head cannot be served: its decoding failed ({@link #of}), or its body's
   * framing is one the server does not read (see {@link #ofTransferEncoding}); null when it can be.
   */
  static UndecodableRequest check(HttpRequest request, WebSocketServerOptions options) {
    return request.decoderResult().isFailure() ? of(request, options) : ofTransferEncoding(request);
  }

  /**
   * 400 for a request with a Transfer-Encoding other than {@code chunked} (RFC 9112 6.3: a request whose final
   * transfer coding is not chunked has no length the server can know; the server decodes no other coding), null for
   * one without Transfer-Encoding or with {@code chunked} alone.
   */
  static UndecodableRequest ofTransferEncoding(HttpRequest request) {
    java.util.List<String> values = request.headers().getAll(io.netty.handler.codec.http.HttpHeaderNames.TRANSFER_ENCODING);
    if (values.isEmpty()) {
      return null;
    }
    String all = String.join(", ", values);
    java.util.List<String> codings = new java.util.ArrayList<>();
    for (String coding : all.split(",", -1)) {
      if (!coding.trim().isEmpty()) {
        codings.add(coding.trim());
      }
    }
    if (codings.size() == 1 && "chunked".equalsIgnoreCase(codings.get(0))) {
      return null;
    }
    return new UndecodableRequest(HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST,
        "expected no Transfer-Encoding or 'chunked' but was "
            + dev.wsgrpc.core.internal.Http11Tokens.printable(all));
  }

  /** The refusal of {@code request}, whose {@linkplain HttpRequest#decoderResult() decoding failed}. */
  static UndecodableRequest of(HttpRequest request, WebSocketServerOptions options) {
    Throwable cause = request.decoderResult().cause();
    if (cause instanceof TooLongHttpLineException) {
      return new UndecodableRequest(HttpResponseStatus.REQUEST_URI_TOO_LONG, RejectReason.TOO_LARGE,
          "expected a request line of at most " + options.maxRequestLineBytes() + " bytes");
    }
    if (cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException) {
      return new UndecodableRequest(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, RejectReason.TOO_LARGE,
          "expected request headers of at most " + options.maxRequestHeaderBytes() + " bytes");
    }
    // The framing headers that contradict each other (RFC 9112 6.1, 6.3): said as such, not as malformed lines.
    if (cause instanceof io.netty.handler.codec.http.ContentLengthNotAllowedException) {
      return new UndecodableRequest(HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST,
          "expected Content-Length or Transfer-Encoding but both were sent");
    }
    if (cause instanceof io.netty.handler.codec.http.TransferEncodingNotAllowedException) {
      return new UndecodableRequest(HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST,
          "expected Transfer-Encoding only in HTTP/1.1 but it was sent in HTTP/1.0");
    }
    if (cause instanceof IllegalArgumentException && cause.getMessage() != null
        && cause.getMessage().startsWith("Multiple Content-Length values found")) {
      return new UndecodableRequest(HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST,
          "expected one Content-Length but different values were sent");
    }
    // Netty hands a FullHttpRequest placeholder when the request line itself failed, the request parsed so far
    // otherwise.
    return new UndecodableRequest(HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST,
        request instanceof FullHttpRequest
            ? "expected a request line such as 'GET " + options.path() + " HTTP/1.1' but it was malformed"
            : "expected header lines of the form 'Name: value' but they were malformed");
  }
}
