package dev.wsgrpc.gateway.proxy;

import io.grpc.ConnectivityState;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;
import io.grpc.NameResolver.ConfigOrError;
import io.grpc.Status;
import io.grpc.util.ForwardingLoadBalancer;
import io.grpc.util.ForwardingLoadBalancerHelper;
import io.grpc.util.ForwardingSubchannel;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * grpc-java's {@code round_robin} (with its {@code grpc.health.v1} checks), told about every failed connection: each
 * subchannel it creates (one per upstream address) reports its {@code TRANSIENT_FAILURE} states, with grpc's
 * {@link Status} saying why, to one {@link UpstreamProblems}. Balancing is entirely round_robin's.
 *
 * <p>grpc-java picks a balancer by policy name from the process-wide {@link LoadBalancerRegistry}, so each gateway
 * registers a provider under a name of its own ({@link #register}), which its channels name in their service config,
 * and removes it when its channels are shut down.
 */
final class ReportingRoundRobin extends LoadBalancerProvider {

  private static final AtomicInteger INSTANCES = new AtomicInteger();

  private final String policyName = "wsgrpc_reporting_round_robin_" + INSTANCES.incrementAndGet();
  private final LoadBalancerProvider roundRobin;
  private final UpstreamProblems problems;

  private ReportingRoundRobin(LoadBalancerProvider roundRobin, UpstreamProblems problems) {
    this.roundRobin = roundRobin;
    this.problems = problems;
  }

  /** Registers a provider that reports to {@code problems}; {@link #deregister()} removes it again. */
  static ReportingRoundRobin register(UpstreamProblems problems) {
    LoadBalancerProvider roundRobin = LoadBalancerRegistry.getDefaultRegistry().getProvider("round_robin");
    if (roundRobin == null) {
      throw new IllegalStateException("grpc-java's round_robin balancer is not on the class path");
    }
    ReportingRoundRobin provider = new ReportingRoundRobin(roundRobin, problems);
    LoadBalancerRegistry.getDefaultRegistry().register(provider);
    return provider;
  }

  void deregister() {
    LoadBalancerRegistry.getDefaultRegistry().deregister(this);
  }

  @Override
  public boolean isAvailable() {
    return true;
  }

  @Override
  public int getPriority() {
    return 5;
  }

  @Override
  public String getPolicyName() {
    return policyName;
  }

  @Override
  public ConfigOrError parseLoadBalancingPolicyConfig(Map<String, ?> rawConfig) {
    return roundRobin.parseLoadBalancingPolicyConfig(rawConfig);
  }

  @Override
  public LoadBalancer newLoadBalancer(LoadBalancer.Helper helper) {
    LoadBalancer delegate = roundRobin.newLoadBalancer(new ReportingHelper(helper));
    return new ForwardingLoadBalancer() {
      @Override
      protected LoadBalancer delegate() {
        return delegate;
      }

      @Override
      public Status acceptResolvedAddresses(ResolvedAddresses resolvedAddresses) {
        return delegate.acceptResolvedAddresses(resolvedAddresses);
      }
    };
  }

  /** Hands out subchannels whose state listener reports failures first. */
  private final class ReportingHelper extends ForwardingLoadBalancerHelper {
    private final LoadBalancer.Helper delegate;

    ReportingHelper(LoadBalancer.Helper delegate) {
      this.delegate = delegate;
    }

    @Override
    protected LoadBalancer.Helper delegate() {
      return delegate;
    }

    @Override
    public LoadBalancer.Subchannel createSubchannel(LoadBalancer.CreateSubchannelArgs args) {
      LoadBalancer.Subchannel subchannel = super.createSubchannel(args);
      return new ForwardingSubchannel() {
        @Override
        protected LoadBalancer.Subchannel delegate() {
          return subchannel;
        }

        @Override
        public void start(LoadBalancer.SubchannelStateListener listener) {
          // The subchannel's own state: the health checks wrap round_robin's side of it, not this one, so a
          // NOT_SERVING answer is not a failed connection.
          subchannel.start(state -> {
            if (state.getState() == ConnectivityState.TRANSIENT_FAILURE) {
              problems.connectFailed(subchannel.getAllAddresses(), state.getStatus());
            }
            listener.onSubchannelState(state);
          });
        }
      };
    }
  }
}
