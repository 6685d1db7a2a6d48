package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** How often {@code /metrics} is rendered, on a clock the test moves. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HealthAndMetricsTest {

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final AtomicLong now = new AtomicLong();
  private final AtomicInteger renders = new AtomicInteger();
  private final HealthAndMetrics http = new HealthAndMetrics(registry, () -> false, true, now::get);

  HealthAndMetricsTest() {
    Gauge gauge = Gauge.builder().name("test_renders").help("Renders so far").build();
    registry.register((io.prometheus.metrics.model.registry.Collector) () -> {
      gauge.set(renders.incrementAndGet());
      return gauge.collect();
    });
  }

  @AfterEach
  void stop() {
    http.close();
  }

  private String scrape() throws Exception {
    FullHttpResponse page = http.answer(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/metrics"),
        null, ByteBufAllocator.DEFAULT).toCompletableFuture().get(30, TimeUnit.SECONDS);
    try {
      assertEquals(200, page.status().code());
      return page.content().toString(StandardCharsets.UTF_8);
    } finally {
      assertTrue(page.release());
    }
  }

  /** A flood of scrapes, which anyone reaching the public port may send, costs at most one render a second. */
  @Test
  void scrapesWithinASecondOfARenderGetItsPage() throws Exception {
    String first = scrape();
    assertTrue(first.contains("test_renders 1.0"), first);
    for (int i = 0; i < 100; i++) {
      assertEquals(first, scrape());
    }
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(HealthAndMetrics.PAGE_MILLIS - 1));
    assertEquals(first, scrape());
    assertEquals(1, renders.get());
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(1));
    assertTrue(scrape().contains("test_renders 2.0"));
    assertEquals(2, renders.get());
  }
}
