package dev.wsgrpc.gateway;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.internal.PlatformDependent;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;

/**
 * The process's memory as gauges, so that an operator (and the hostile-input catalogue and the soak) can see from
 * {@code /metrics} alone whether a flood or a long run grows it: the heap in use, the direct memory Netty has
 * allocated (all of its pooled and unpooled direct buffers, gRPC's included), and what Netty's shared allocators
 * hold.
 */
final class MemoryGauges {

  static void register(PrometheusRegistry registry) {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    GaugeWithCallback.builder()
        .name("wsgrpc_jvm_heap_used_bytes")
        .help("Java heap in use now (live and not yet collected objects)")
        .callback(cb -> cb.call(memory.getHeapMemoryUsage().getUsed()))
        .register(registry);
    GaugeWithCallback.builder()
        .name("wsgrpc_netty_direct_memory_used_bytes")
        .help("Direct memory Netty has allocated, pooled and unpooled (-1 when Netty does not count it)")
        .callback(cb -> cb.call(PlatformDependent.usedDirectMemory()))
        .register(registry);
    GaugeWithCallback.builder()
        .name("wsgrpc_netty_allocator_used_bytes")
        .help("Memory held by Netty's shared allocators (the default one and the pooled one), by allocator and kind")
        .labelNames("allocator", "kind")
        .callback(cb -> {
          ByteBufAllocatorMetric pooled = PooledByteBufAllocator.DEFAULT.metric();
          cb.call(pooled.usedDirectMemory(), "pooled", "direct");
          cb.call(pooled.usedHeapMemory(), "pooled", "heap");
          if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider
              && ByteBufAllocator.DEFAULT != PooledByteBufAllocator.DEFAULT) {
            ByteBufAllocatorMetric metric = ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric();
            cb.call(metric.usedDirectMemory(), "default", "direct");
            cb.call(metric.usedHeapMemory(), "default", "heap");
          }
        })
        .register(registry);
  }

  private MemoryGauges() {}
}
