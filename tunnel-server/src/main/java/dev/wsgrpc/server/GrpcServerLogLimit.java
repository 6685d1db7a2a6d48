package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.GrpcLogLimit;
import java.util.Map;
import java.util.function.Predicate;
import java.util.logging.LogRecord;

/**
 * Holds what grpc-java's Netty server logs about a misbehaving peer to the rate of a
 * {@link dev.wsgrpc.core.internal.RateLimitedLog}: one line per record, without the stack trace, in printable ASCII
 * ({@link GrpcLogLimit}, logger name + {@code .limited}, at INFO).
 *
 * <p>grpc-java logs through {@code java.util.logging}, per stream or call, records a peer causes at will, and needs no
 * token for it (they come before, or outside, any interceptor that checks one):
 * <ul>
 *   <li>{@code io.grpc.netty.NettyServerHandler}: a WARNING record ("Stream Error", after "Exception in
 *       onHeadersRead()" when the headers could not become a call) with a stack trace of some forty lines for each
 *       stream whose headers it cannot accept (an upper-case header name or a {@code -bin} value that is not base64 is
 *       enough); an ordinary client causes some too (a call cancelled while its answer was on its way: "Stream closed
 *       before write could take place");
 *   <li>{@code io.grpc.netty.NettyServerTransport.connections}: an INFO record ("Transport failed") for a connection
 *       that fails in a way it does not expect;
 *   <li>{@code io.grpc.netty.NettyServerStream}: a WARNING record ("Exception processing message") for each call
 *       whose message cannot be deframed: reserved flag bits, the compressed flag without {@code grpc-encoding}, a
 *       message over the size limit (an ordinary client sending too large a message), the stream ending mid-message;
 *   <li>{@code io.grpc.internal.SerializingExecutor}: a SEVERE record ("Exception while executing runnable") for each
 *       call whose message a protobuf service cannot parse (INTERNAL "Invalid protobuf byte sequence"). That logger
 *       also reports a service's own failures, which an operator must see whole: only records whose exception says
 *       the peer's message was bad ({@link GrpcLogLimit#isBadPeerMessage}) are limited;
 *   <li>{@code io.grpc.internal.SerializeReentrantCallsDirectExecutor}: the same record, from a server built with
 *       {@code directExecutor()}, limited the same way.
 * </ul>
 * None of the limited records asks anything of an operator; records below INFO pass on unchanged (they are off
 * unless asked for, and then wanted whole).
 *
 * <p>Installed once per class loader, when the first server negotiator is made ({@link WebSocketServerNegotiator}),
 * and so for every grpc-java server of the process from then on, ours or not: these loggers are grpc-java's, not per
 * server. What the filter turns into rate-limited lines may include the odd record no peer caused (an internal
 * failure grpc-java logs there too); it still appears, once, without its stack trace. A filter the application had
 * set on those loggers before still sees each record first; a filter it sets later replaces this one.
 */
final class GrpcServerLogLimit {

  /** The grpc-java loggers whose records a peer can cause, each with the records of it that are limited. */
  static final Map<String, Predicate<LogRecord>> LOGGERS = Map.of(
      "io.grpc.netty.NettyServerHandler", GrpcLogLimit.ANY,
      "io.grpc.netty.NettyServerTransport.connections", GrpcLogLimit.ANY,
      "io.grpc.netty.NettyServerStream", GrpcLogLimit.ANY,
      "io.grpc.internal.SerializingExecutor", GrpcLogLimit.BAD_PEER_MESSAGE,
      "io.grpc.internal.SerializeReentrantCallsDirectExecutor", GrpcLogLimit.BAD_PEER_MESSAGE);

  /** Puts the filters in place; calls after the first do nothing. */
  static void install() {
    LOGGERS.forEach(GrpcLogLimit::install);
  }

  private GrpcServerLogLimit() {}
}
