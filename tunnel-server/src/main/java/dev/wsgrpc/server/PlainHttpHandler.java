package dev.wsgrpc.server;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpRequest;
import java.net.SocketAddress;

/**
 * Answers plain HTTP requests on the tunnel's port that are not for the tunnel path, such as load-balancer health
 * checks ({@code GET /healthz}) or metrics scrapes. The connection is closed after the answer. The answer carries no
 * CORS headers, even with {@link BrowserOptions}: their origins may make browser calls, not read these answers.
 *
 * <p>Called on the connection's event loop: it must not block.
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
}
