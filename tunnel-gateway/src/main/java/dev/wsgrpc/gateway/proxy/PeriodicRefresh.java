package dev.wsgrpc.gateway.proxy;

import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.SynchronizationContext;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;

/**
 * grpc-java's own resolver for a scheme (here {@code dns}), asked to look again every refresh interval. grpc's DNS
 * resolver otherwise looks again only when a connection fails, so a backend added to DNS would get no calls until
 * one broke; it still caches an answer for 30 s ({@code -Dnetworkaddress.cache.ttl}).
 */
final class PeriodicRefresh extends NameResolver {

  /** A provider for the same scheme as {@code delegate}, whose resolvers refresh every {@code interval}. */
  static NameResolverProvider provider(NameResolverProvider delegate, Duration interval) {
    return new NameResolverProvider() {
      @Override
      public NameResolver newNameResolver(URI targetUri, Args args) {
        NameResolver resolver = delegate.newNameResolver(targetUri, args);
        return resolver == null ? null : new PeriodicRefresh(resolver, args, interval);
      }

      @Override
      protected boolean isAvailable() {
        return true;
      }

      @Override
      protected int priority() {
        return 5;
      }

      @Override
      public String getDefaultScheme() {
        return delegate.getDefaultScheme();
      }
    };
  }

  private final NameResolver delegate;
  private final SynchronizationContext syncContext;
  private final ScheduledExecutorService timer;
  private final Duration interval;
  private SynchronizationContext.ScheduledHandle periodic;

  private PeriodicRefresh(NameResolver delegate, Args args, Duration interval) {
    this.delegate = delegate;
    this.syncContext = args.getSynchronizationContext();
    this.timer = args.getScheduledExecutorService();
    this.interval = interval;
  }

  @Override
  public String getServiceAuthority() {
    return delegate.getServiceAuthority();
  }

  @Override
  public void start(Listener2 listener) {
    delegate.start(listener);
    periodic = syncContext.scheduleWithFixedDelay(delegate::refresh, interval, interval, timer);
  }

  @Override
  public void refresh() {
    delegate.refresh();
  }

  @Override
  public void shutdown() {
    if (periodic != null) {
      periodic.cancel();
    }
    delegate.shutdown();
  }
}
