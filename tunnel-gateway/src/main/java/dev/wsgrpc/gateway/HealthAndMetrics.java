package dev.wsgrpc.gateway;

import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.server.PlainHttpHandler;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.SocketAddress;
import java.util.function.BooleanSupplier;

/**
 * The gateway's plain HTTP: {@code GET /healthz} is 200 while serving and 503 while draining (for CDN origin and
 * load-balancer checks); {@code GET /metrics} is the Prometheus text format, unless it is served elsewhere (the
 * public port with {@code --admin-port} set answers only {@code /healthz}). Another method on either path is 405
 * with {@code Allow: GET, HEAD}; every other path is 404.
 */
final class HealthAndMetrics implements PlainHttpHandler {

  private final PrometheusRegistry registry;
  private final BooleanSupplier draining;
  private final boolean metrics;
  private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

  /** Serves {@code /healthz} and, when {@code metrics}, {@code /metrics}. */
  HealthAndMetrics(PrometheusRegistry registry, BooleanSupplier draining, boolean metrics) {
    this.registry = registry;
    this.draining = draining;
    this.metrics = metrics;
  }

  /** The same registry and drain state, without {@code /metrics}: for the public port when an admin port serves it. */
  HealthAndMetrics withoutMetrics() {
    return new HealthAndMetrics(registry, draining, false);
  }

  @Override
  public FullHttpResponse handle(HttpRequest request, SocketAddress clientAddress, ByteBufAllocator alloc) {
    String path = request.uri();
    int query = path.indexOf('?');
    if (query >= 0) {
      path = path.substring(0, query);
    }
    boolean served = path.equals("/healthz") || (metrics && path.equals("/metrics"));
    if (!served) {
      return null;
    }
    if (!HttpMethod.GET.equals(request.method()) && !HttpMethod.HEAD.equals(request.method())) {
      FullHttpResponse refused = text(alloc, HttpResponseStatus.METHOD_NOT_ALLOWED,
          path + " answers GET and HEAD, not " + Http11Tokens.printable(request.method().name()) + "\n",
          "text/plain; charset=utf-8");
      refused.headers().set(HttpHeaderNames.ALLOW, "GET, HEAD");
      return refused;
    }
    if (path.equals("/healthz")) {
      boolean drain = draining.getAsBoolean();
      return text(alloc, drain ? HttpResponseStatus.SERVICE_UNAVAILABLE : HttpResponseStatus.OK,
          drain ? "draining\n" : "serving\n", "text/plain; charset=utf-8");
    }
    ByteBuf body = alloc.buffer(); // /metrics
    try (ByteBufOutputStream out = new ByteBufOutputStream(body)) {
      writer.write(out, registry.scrape());
    } catch (IOException e) {
      body.release();
      throw new UncheckedIOException(e);
    }
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, PrometheusTextFormatWriter.CONTENT_TYPE);
    return response;
  }

  private static FullHttpResponse text(ByteBufAllocator alloc, HttpResponseStatus status, String text,
      String contentType) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        ByteBufUtil.writeUtf8(alloc, text));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
    return response;
  }
}
