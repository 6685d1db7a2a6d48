package dev.wsgrpc.gateway.proxy;

import dev.wsgrpc.core.internal.GrpcLogLimit;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.NameResolverProvider;
import io.grpc.NameResolverRegistry;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The one upstream channel of proxy mode, built from grpc-java's own parts: name resolution (a
 * {@code HOST:PORT} list or file through {@link ListNameResolver}, or {@code dns:///} through grpc's DNS resolver
 * asked again every refresh), {@code round_robin} over every address, client-side health checking with
 * {@code grpc.health.v1} ({@code healthCheckConfig}, from grpc-services), TLS with the given trust, and keepalive
 * pings so that a black-holed upstream is noticed.
 */
public final class UpstreamChannel {

  /** User agent the upstreams see. */
  static final String USER_AGENT = "wsgrpc-gateway";
  /** How long a connect to an upstream may take, as in relay mode ({@code UpstreamConnector}). */
  static final int CONNECT_TIMEOUT_MILLIS = 10_000;

  /**
   * Builds the channel, which logs its own name resolution problems (but not failed connections, which
   * {@link #createPerLoop} reports). It connects lazily, on the first call.
   *
   * @throws IOException when a certificate or key file cannot be read
   * @throws IllegalArgumentException when the target's scheme is not one grpc-java here resolves
   */
  public static ManagedChannel create(UpstreamOptions options) throws IOException {
    return builder(options, new UpstreamProblems(new PrometheusRegistry()), "round_robin").build();
  }

  /**
   * One channel per event loop of {@code loops}, each running its connections on that loop: see
   * {@link UpstreamChannels}. All of them report failed connections and name resolution problems to
   * {@code problems}, which logs each once for all of them.
   *
   * @param channelType the socket type that matches {@code loops}' I/O (epoll or NIO)
   * @throws IOException when a certificate or key file cannot be read
   */
  public static UpstreamChannels createPerLoop(UpstreamOptions options, EventLoopGroup loops,
      Class<? extends io.netty.channel.Channel> channelType, UpstreamProblems problems) throws IOException {
    // An upstream reaches grpc-java's HTTP/2 client through these channels: a GOAWAY with ENHANCE_YOUR_CALM per
    // connection must not log a line each, nor its raw debug data (relay mode's UpstreamRelayHandler limits its own).
    GrpcLogLimit.installNettyClient();
    List<EventLoop> list = new ArrayList<>();
    loops.forEach(executor -> list.add((EventLoop) executor));
    List<ManagedChannel> channels = new ArrayList<>();
    ReportingRoundRobin balancer = ReportingRoundRobin.register(problems);
    try {
      for (EventLoop loop : list) {
        ManagedChannelBuilder<?> builder = builder(options, problems, balancer.getPolicyName());
        if (!(builder instanceof NettyChannelBuilder)) {
          throw new IllegalStateException("expected grpc-netty to build the upstream channels, got "
              + builder.getClass().getName());
        }
        NettyChannelBuilder netty = (NettyChannelBuilder) builder;
        // An EventLoop is an EventLoopGroup of one; the channel does not own it (the caller shuts the group down).
        // Netty's own allocator, as on the server side of proxy mode (TunnelServerMain.runProxy): grpc-netty's pool
        // frees each 2 MiB chunk that empties and zeroes a new one, which under a proxy's bursts of buffered messages
        // took up to a third of the gateway's CPU (docs/BENCHMARKS.md, analysis: "Chunks made and freed").
        // A connect that gets no answer (a black-holed upstream) fails as relay mode's does, not after Netty's 30 s.
        channels.add(netty.eventLoopGroup(loop).channelType(channelType)
            .withOption(ChannelOption.ALLOCATOR, ByteBufAllocator.DEFAULT)
            .withOption(ChannelOption.CONNECT_TIMEOUT_MILLIS, CONNECT_TIMEOUT_MILLIS).build());
      }
    } catch (IOException | RuntimeException e) {
      channels.forEach(ManagedChannel::shutdownNow);
      balancer.deregister();
      throw e;
    }
    return new UpstreamChannels(list, channels, balancer::deregister);
  }

  /**
   * A channel builder for {@code options}, balancing with {@code policy} ({@code round_robin}, or a
   * {@link ReportingRoundRobin}); its name resolvers report problems to {@code problems}.
   */
  private static ManagedChannelBuilder<?> builder(UpstreamOptions options, UpstreamProblems problems,
      String policy) throws IOException {
    ChannelCredentials credentials = credentials(options);
    NameResolverRegistry registry = new NameResolverRegistry();
    String target;
    if (options.targetUri != null) {
      target = options.targetUri;
      NameResolverProvider dns = NameResolverRegistry.getDefaultRegistry().getProviderForScheme("dns");
      if (dns != null) {
        registry.register(PeriodicRefresh.provider(dns, options.refreshInterval, problems));
      }
      String scheme = target.substring(0, target.indexOf(':'));
      if (registry.getProviderForScheme(scheme) == null) {
        NameResolverProvider other = NameResolverRegistry.getDefaultRegistry().getProviderForScheme(scheme);
        if (other == null) {
          throw new IllegalArgumentException("upstream: " + target + " (expected: a dns:/// target or HOST:PORT)");
        }
        registry.register(other);
      }
    } else {
      ListNameResolver.Provider list = new ListNameResolver.Provider(options.list, options.listFile,
          options.refreshInterval, options.authority == null, problems);
      registry.register(list);
      target = list.target();
    }
    ManagedChannelBuilder<?> builder = Grpc.newChannelBuilder(target, credentials, registry)
        .defaultServiceConfig(serviceConfig(options.healthCheckService, policy))
        .disableServiceConfigLookUp()
        .maxInboundMessageSize(options.maxInboundMessageSize)
        .maxInboundMetadataSize(options.maxInboundMetadataSize)
        .userAgent(USER_AGENT)
        // No retry layer: grpc-java's keeps every message of a call until the upstream answers, to send it again,
        // counting it at its size on the wire. A caller's gzip message is held inflated (grpc-java gives the proxy
        // each message decompressed) but counted compressed, and an empty message counts nothing: a kilobyte sent
        // held a mebibyte, and empty messages grew the heap without bound, for as long as the upstream worked on the
        // call. A smaller buffer limit does not help: a call is framed, so committed, before its stream exists, and
        // nothing would be retried. A call that fails before the upstream saw it fails UNAVAILABLE.
        .disableRetry();
    if (options.authority != null) {
      builder.overrideAuthority(options.authority);
    }
    if (!options.keepAliveTime.isZero()) {
      // A black-holed upstream (no reset, no answer) fails its calls instead of holding them until their deadline.
      builder.keepAliveTime(options.keepAliveTime.toMillis(), TimeUnit.MILLISECONDS)
          .keepAliveTimeout(options.keepAliveTimeout.toMillis(), TimeUnit.MILLISECONDS);
    }
    return builder;
  }

  /**
   * {@code policy} (round_robin, or one that wraps it) over every address, with {@code grpc.health.v1} checks unless
   * {@code healthService} is null.
   */
  static Map<String, Object> serviceConfig(String healthService, String policy) {
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("loadBalancingConfig", List.of(Map.of(policy, Map.of())));
    if (healthService != null) {
      config.put("healthCheckConfig", Map.of("serviceName", healthService));
    }
    return config;
  }

  private static ChannelCredentials credentials(UpstreamOptions options) throws IOException {
    if (!options.tls) {
      return InsecureChannelCredentials.create();
    }
    TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder();
    if (options.trustCertificates != null) {
      tls.trustManager(options.trustCertificates);
    }
    if (options.clientCertificate != null) {
      tls.keyManager(options.clientCertificate, options.clientKey);
    }
    return tls.build();
  }

  private UpstreamChannel() {}
}
