package dev.wsgrpc.server.gateway;

import dev.wsgrpc.server.TunnelInfo;
import dev.wsgrpc.server.TunnelListener;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.SocketAddress;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the gateway's book of tunnels: one INFO line when a tunnel opens and one when it closes, the tunnel metrics,
 * and the set of open tunnels that a drain waits for.
 */
final class TunnelTracker implements TunnelListener {

  private static final Logger logger = LoggerFactory.getLogger("dev.wsgrpc.server.gateway.Tunnels");

  private final Set<TunnelInfo> open = ConcurrentHashMap.newKeySet();
  private final AtomicLong closedBytesIn = new AtomicLong();
  private final AtomicLong closedBytesOut = new AtomicLong();
  private final Counter opened;
  private final Counter rejected;
  private final Counter upstreamFailures;

  TunnelTracker(PrometheusRegistry registry) {
    GaugeWithCallback.builder()
        .name("wsgrpc_tunnels_open")
        .help("Tunnels open now")
        .callback(cb -> cb.call(open.size()))
        .register(registry);
    opened = Counter.builder()
        .name("wsgrpc_tunnels_total")
        .help("Tunnels opened since start")
        .register(registry);
    rejected = Counter.builder()
        .name("wsgrpc_handshake_failures_total")
        .help("Upgrade requests refused before the 101, by reason")
        .labelNames("reason")
        .register(registry);
    CounterWithCallback.builder()
        .name("wsgrpc_tunnel_received_bytes_total")
        .help("Bytes received on tunnel connections (TLS and WebSocket framing included)")
        .callback(cb -> cb.call(closedBytesIn.get() + open.stream().mapToLong(TunnelInfo::bytesIn).sum()))
        .register(registry);
    CounterWithCallback.builder()
        .name("wsgrpc_tunnel_sent_bytes_total")
        .help("Bytes sent on tunnel connections (TLS and WebSocket framing included)")
        .callback(cb -> cb.call(closedBytesOut.get() + open.stream().mapToLong(TunnelInfo::bytesOut).sum()))
        .register(registry);
    upstreamFailures = Counter.builder()
        .name("wsgrpc_upstream_connect_failures_total")
        .help("Failed connection attempts to an upstream gRPC server")
        .register(registry);
  }

  @Override
  public void tunnelOpened(TunnelInfo tunnel) {
    open.add(tunnel);
    opened.inc();
    logger.info("tunnel open client={} path={} subprotocol={} principal={}", tunnel.clientAddress(), tunnel.path(),
        tunnel.subprotocol() == null ? "-" : tunnel.subprotocol(), tunnel.principal() == null ? "-" : tunnel.principal());
  }

  @Override
  public void tunnelClosed(TunnelInfo tunnel) {
    if (open.remove(tunnel)) {
      closedBytesIn.addAndGet(tunnel.bytesIn());
      closedBytesOut.addAndGet(tunnel.bytesOut());
    }
    logger.info("tunnel closed client={} path={} subprotocol={} duration={}ms bytes_in={} bytes_out={}",
        tunnel.clientAddress(), tunnel.path(), tunnel.subprotocol() == null ? "-" : tunnel.subprotocol(),
        tunnel.duration().toMillis(), tunnel.bytesIn(), tunnel.bytesOut());
  }

  @Override
  public void upgradeRejected(SocketAddress clientAddress, int status, String reason) {
    rejected.labelValues(reason).inc();
    logger.debug("refused upgrade from {}: {} {}", clientAddress, status, reason);
  }

  /** Counts one failed connection attempt to an upstream. */
  void upstreamConnectFailed() {
    upstreamFailures.inc();
  }

  /** The tunnels open now. */
  Set<TunnelInfo> open() {
    return open;
  }
}
