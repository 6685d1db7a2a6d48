package dev.wsgrpc.gateway.proxy;

import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.Status;
import io.grpc.StatusOr;
import io.grpc.SynchronizationContext;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;

/**
 * grpc-java's own resolver for a scheme (here {@code dns}), asked to look again every refresh interval. grpc's DNS
 * resolver otherwise looks again only when a connection fails, so a backend added to DNS would get no calls until
 * one broke; it still caches an answer for 30 s ({@code -Dnetworkaddress.cache.ttl}).
 *
 * <p>What it cannot resolve is told to {@link UpstreamProblems} (once per gateway, not once per event loop's
 * channel); grpc-java's own line for it, one per channel and per failed lookup, is kept out of the jar's log.
 */
final class PeriodicRefresh extends NameResolver {

  /**
   * A provider for the same scheme as {@code delegate}, whose resolvers refresh every {@code interval} and report
   * failed lookups to {@code problems}.
   */
  static NameResolverProvider provider(NameResolverProvider delegate, Duration interval, UpstreamProblems problems) {
    return new NameResolverProvider() {
      @Override
      public NameResolver newNameResolver(URI targetUri, Args args) {
        NameResolver resolver = delegate.newNameResolver(targetUri, args);
        return resolver == null ? null
            : new PeriodicRefresh(resolver, args, interval, problems.resolution(), targetUri.toString());
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
  private final UpstreamProblems.Resolution problems;
  private final String target;
  private SynchronizationContext.ScheduledHandle periodic;

  private PeriodicRefresh(NameResolver delegate, Args args, Duration interval, UpstreamProblems.Resolution problems,
      String target) {
    this.delegate = delegate;
    this.syncContext = args.getSynchronizationContext();
    this.timer = args.getScheduledExecutorService();
    this.interval = interval;
    this.problems = problems;
    this.target = target;
  }

  @Override
  public String getServiceAuthority() {
    return delegate.getServiceAuthority();
  }

  @Override
  public void start(Listener2 listener) {
    delegate.start(new Reporting(listener));
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
    problems.close();
  }

  /** Passes every result on, after telling {@link UpstreamProblems} whether the lookup failed. */
  private final class Reporting extends Listener2 {
    private final Listener2 listener;

    Reporting(Listener2 listener) {
      this.listener = listener;
    }

    @Override
    public void onResult(ResolutionResult result) {
      report(result);
      listener.onResult(result);
    }

    @Override
    public Status onResult2(ResolutionResult result) {
      report(result);
      return listener.onResult2(result);
    }

    @Override
    public void onError(Status error) {
      failed(error);
      listener.onError(error);
    }

    private void report(ResolutionResult result) {
      StatusOr<java.util.List<io.grpc.EquivalentAddressGroup>> addresses = result.getAddressesOrError();
      if (addresses.hasValue()) {
        problems.report(addresses.getValue().isEmpty() ? "cannot resolve " + target + ": no address" : null, "");
      } else {
        failed(addresses.getStatus());
      }
    }

    /** grpc's description ("Unable to resolve host ..."): the cause's message varies between lookups. */
    private void failed(Status error) {
      problems.report("cannot resolve " + target + ": "
          + (error.getDescription() != null ? error.getDescription() : UpstreamProblems.reason(error)), "");
    }
  }
}
