package dev.wsgrpc.server;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpRequest;
import java.net.SocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Answers plain HTTP requests on the tunnel's port that are not for the tunnel path, such as load-balancer health
 * checks ({@code GET /healthz}) or metrics scrapes. The connection is closed after the answer. The answer carries no
 * CORS headers, even with {@link BrowserOptions}: their origins may make browser calls, not read these answers.
 *
 * <p>Called on the connection's event loop, which serves other connections (tunnels among them): it must not block,
 * nor take long. An answer that takes time to make (a large metrics page, say) is made elsewhere: override
 * {@link #answer} to return a stage that completes later, on any thread; the answer is then written on the event loop.
 * Meanwhile the connection reads nothing more of the request (pipelined requests and extra bytes are dropped). If the
 * connection closes first, the answer is released, not written; if the handshake timeout passes first, the client gets
 * 503 saying the answer was not ready in time. An answer that was not ready at once carries no CORS headers, even a
 * 404.
 */
@FunctionalInterface
public interface PlainHttpHandler {

  /**
   * Returns the answer to {@code request}, or {@code null} for 404. The caller sets {@code Content-Length} and
   * {@code Connection: close} and takes ownership of the response.
   *
   * @param clientAddress the client's address (after trusted-proxy headers)
   */
  FullHttpResponse handle(HttpRequest request, SocketAddress clientAddress, ByteBufAllocator alloc);

  /**
   * Returns a stage that completes with the answer to {@code request} ({@code null} for 404), or fails (500). Called
   * on the connection's event loop instead of {@link #handle}; the default returns {@link #handle}'s answer, already
   * complete. Override it to make the answer on another thread. A response that arrives after the connection closed
   * is released.
   *
   * @param clientAddress the client's address (after trusted-proxy headers)
   */
  default CompletionStage<FullHttpResponse> answer(HttpRequest request, SocketAddress clientAddress,
      ByteBufAllocator alloc) {
    return CompletableFuture.completedFuture(handle(request, clientAddress, alloc));
  }

  /**
   * Whether {@code request} must first be admitted by the server's {@link TunnelAuthenticator}, as an upgrade is
   * ({@link AccessPolicy.Builder#authenticator}); the default is {@code false}. When it returns {@code true} and
   * the server has an authenticator, the authenticator is asked about this request (its path, query and headers;
   * no subprotocols) before {@link #answer} is, and a request it refuses gets its answer (401 with its challenge,
   * 403, ...) without {@link #answer} being called. Override it for answers that should be read only by those who
   * may open tunnels, such as metrics; not for health checks, which load balancers send without credentials. Called
   * on the event loop: it must be quick.
   */
  default boolean requiresAuthentication(HttpRequest request) {
    return false;
  }
}
