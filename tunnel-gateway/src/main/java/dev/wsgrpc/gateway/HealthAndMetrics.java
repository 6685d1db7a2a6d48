package dev.wsgrpc.gateway;

import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.server.PlainHttpHandler;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.SocketAddress;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * The gateway's plain HTTP: {@code GET /healthz} is 200 while serving and 503 while draining (for CDN origin and
 * load-balancer checks); {@code GET /metrics} is the Prometheus text format, unless it is served elsewhere (the
 * public port with {@code --admin-port} set answers only {@code /healthz}). Another method on either path is 405
 * with {@code Allow: GET, HEAD}; every other path is 404.
 *
 * <p>{@code /healthz} is answered at once; {@code /metrics} is rendered on one thread of its own ({@value #THREAD}),
 * never on an event loop (a large registry takes hundreds of milliseconds, which would stall every tunnel of the loop).
 * At most {@value #MAX_SCRAPES_WAITING} scrapes wait for it; another is answered 503 at once, so that a flood of
 * scrapes costs neither memory nor threads. A page is rendered at most once a second ({@value #PAGE_MILLIS} ms):
 * scrapes within that time of a render get its page, so that a flood of them, which anyone who reaches the public
 * port may send, costs no more than one render a second (Prometheus scrapes every 15 s or more). {@link #close()}
 * answers the scrapes still waiting, and the one being rendered, 503 with {@code Connection: close}, so that a
 * gateway shutting down leaves none unanswered.
 */
final class HealthAndMetrics implements PlainHttpHandler, AutoCloseable {

  static final String THREAD = "wsgrpc-metrics";
  /** Scrapes that may wait while one is rendered: Prometheus scrapes one at a time, a few more are someone else's. */
  static final int MAX_SCRAPES_WAITING = 4;
  /** How long a rendered page answers scrapes before the next scrape renders it again. */
  static final long PAGE_MILLIS = 1000;

  private final PrometheusRegistry registry;
  private final BooleanSupplier draining;
  private final boolean metrics;
  private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
  /** Renders {@code /metrics}; null without it. */
  private final ThreadPoolExecutor renderer;
  /** The scrapes the renderer took, waiting or being rendered, for {@link #close()} to answer: as many as it holds. */
  private final Set<Scrape> scrapes = ConcurrentHashMap.newKeySet();
  private final LongSupplier nanoTime;
  /** The last page rendered, and when (by {@link #nanoTime}); null before the first. Guarded by this. */
  private byte[] page;
  private long pageRenderedNanos;

  /** Serves {@code /healthz} and, when {@code metrics}, {@code /metrics}; {@link #close()} stops its thread. */
  HealthAndMetrics(PrometheusRegistry registry, BooleanSupplier draining, boolean metrics) {
    this(registry, draining, metrics, System::nanoTime);
  }

  /** As {@link #HealthAndMetrics(PrometheusRegistry, BooleanSupplier, boolean)}, with this clock for pages' age. */
  HealthAndMetrics(PrometheusRegistry registry, BooleanSupplier draining, boolean metrics, LongSupplier nanoTime) {
    this(registry, draining, metrics ? newRenderer() : null, nanoTime);
  }

  private HealthAndMetrics(PrometheusRegistry registry, BooleanSupplier draining, ThreadPoolExecutor renderer,
      LongSupplier nanoTime) {
    this.registry = registry;
    this.draining = draining;
    this.metrics = renderer != null;
    this.renderer = renderer;
    this.nanoTime = nanoTime;
  }

  private static ThreadPoolExecutor newRenderer() {
    return new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(MAX_SCRAPES_WAITING),
        task -> {
          Thread thread = new Thread(task, THREAD);
          thread.setDaemon(true);
          return thread;
        });
  }

  /** The same registry and drain state, without {@code /metrics}: for the public port when an admin port serves it. */
  HealthAndMetrics withoutMetrics() {
    return new HealthAndMetrics(registry, draining, (ThreadPoolExecutor) null, nanoTime);
  }

  /** {@code /metrics} rendered on its own thread, 503 when too many wait; everything else at once. */
  @Override
  public CompletionStage<FullHttpResponse> answer(HttpRequest request, SocketAddress clientAddress,
      ByteBufAllocator alloc) {
    if (!metrics || !path(request).equals("/metrics") || !(HttpMethod.GET.equals(request.method())
        || HttpMethod.HEAD.equals(request.method()))) {
      return CompletableFuture.completedFuture(handle(request, clientAddress, alloc));
    }
    Scrape scrape = new Scrape(alloc);
    scrapes.add(scrape); // first: close() answers every scrape the renderer took
    try {
      renderer.execute(scrape);
    } catch (RejectedExecutionException e) {
      scrapes.remove(scrape);
      if (renderer.isShutdown()) {
        scrape.finish(stopped(alloc));
      } else {
        FullHttpResponse busy = text(alloc, HttpResponseStatus.SERVICE_UNAVAILABLE, "/metrics is busy: "
            + MAX_SCRAPES_WAITING + " scrapes already wait for the one being rendered; retry later\n",
            "text/plain; charset=utf-8");
        busy.headers().set(HttpHeaderNames.RETRY_AFTER, 1);
        scrape.finish(busy);
      }
    }
    return scrape.answer;
  }

  /**
   * Stops the thread that renders {@code /metrics}, without waiting for it: the scrapes still waiting for it, and the
   * one being rendered (whose page is dropped when done), are answered at once, as is every scrape after: 503 with
   * {@code Retry-After: 5} and {@code Connection: close}. Their connections are written to on their event loops, so
   * a listener closed after this writes the answers first. Closing again does nothing.
   */
  @Override
  public void close() {
    if (renderer == null) {
      return;
    }
    renderer.shutdown(); // takes no more scrapes
    for (Scrape scrape : scrapes) {
      scrapes.remove(scrape);
      scrape.finish(stopped(scrape.alloc));
    }
    renderer.shutdownNow(); // only now: the render it interrupts may end, and must find its scrape answered
  }

  private static FullHttpResponse stopped(ByteBufAllocator alloc) {
    FullHttpResponse stopped = text(alloc, HttpResponseStatus.SERVICE_UNAVAILABLE,
        "/metrics is not served: the gateway is shutting down\n", "text/plain; charset=utf-8");
    stopped.headers().set(HttpHeaderNames.RETRY_AFTER, 5);
    stopped.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    return stopped;
  }

  /** A scrape for the renderer: answered once, with its page, or 503 by {@link #close()}, whichever comes first. */
  private final class Scrape implements Runnable {
    final CompletableFuture<FullHttpResponse> answer = new CompletableFuture<>();
    final ByteBufAllocator alloc;

    Scrape(ByteBufAllocator alloc) {
      this.alloc = alloc;
    }

    @Override
    public void run() {
      try {
        if (!answer.isDone()) {
          finish(metrics(alloc));
        }
      } catch (Throwable t) {
        answer.completeExceptionally(t);
      } finally {
        scrapes.remove(this);
      }
    }

    /** Answers with {@code response}, or releases it when the scrape was answered already. */
    void finish(FullHttpResponse response) {
      if (!answer.complete(response)) {
        response.release();
      }
    }
  }

  /**
   * {@code /metrics} where this serves it: a gateway with an authenticator ({@code --auth-tokens}) shows its metrics
   * on the public port to those it would let open a tunnel ({@code Authorization: Bearer} with a token it lists).
   */
  @Override
  public boolean requiresAuthentication(HttpRequest request) {
    return metrics && path(request).equals("/metrics");
  }

  @Override
  public FullHttpResponse handle(HttpRequest request, SocketAddress clientAddress, ByteBufAllocator alloc) {
    String path = path(request);
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
    return metrics(alloc);
  }

  private static String path(HttpRequest request) {
    String path = request.uri();
    int query = path.indexOf('?');
    return query < 0 ? path : path.substring(0, query);
  }

  private FullHttpResponse metrics(ByteBufAllocator alloc) {
    byte[] text = page();
    ByteBuf body = alloc.buffer(text.length).writeBytes(text);
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, PrometheusTextFormatWriter.CONTENT_TYPE);
    return response;
  }

  /** The page of metrics: the last one rendered if it is younger than {@value #PAGE_MILLIS} ms, else a new one. */
  private synchronized byte[] page() {
    long now = nanoTime.getAsLong();
    if (page == null || now - pageRenderedNanos >= TimeUnit.MILLISECONDS.toNanos(PAGE_MILLIS)) {
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(page == null ? 8192 : page.length);
      try {
        writer.write(out, registry.scrape());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      page = out.toByteArray();
      pageRenderedNanos = now;
    }
    return page;
  }

  private static FullHttpResponse text(ByteBufAllocator alloc, HttpResponseStatus status, String text,
      String contentType) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        ByteBufUtil.writeUtf8(alloc, text));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
    return response;
  }
}
