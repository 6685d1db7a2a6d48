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
    // Netty hands a FullHttpRequest placeholder when the request line itself failed, the request parsed so far
    // otherwise.
    return new UndecodableRequest(HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST,
        request instanceof FullHttpRequest
            ? "expected a request line such as 'GET " + options.path() + " HTTP/1.1' but it was malformed"
            : "expected header lines of the form 'Name: value' but they were malformed");
  }
}
