package dev.wsgrpc.okhttp;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverRegistry;
import io.grpc.Status;
import io.grpc.StatusOr;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.URI;
import java.util.Collections;
import java.util.List;

/**
 * The channel's name resolution: grpc-java's own (DNS) when tunnels connect directly, and no lookup at all when the
 * proxy choice names an HTTP proxy, which resolves the target itself when asked to {@code CONNECT}. grpc-java does
 * the same for the Netty client, whose {@code ProxyDetector} names the proxy: it then skips DNS and hands the
 * transport the unresolved target. Here the proxy is chosen by {@link ProxyChooser} at each resolution (the
 * channel re-resolves after a connection fails and on Android network changes), and the unresolved address reaches
 * {@link TunnelSocketFactory} as a null {@code InetAddress}. A device that cannot resolve the server's name can
 * then still reach it through the proxy. A proxy setting that cannot be used (a malformed {@code HTTPS_PROXY}) skips
 * DNS too, so that the connect fails naming the setting rather than the target's name.
 */
final class ProxiedTargetResolver extends NameResolver.Factory {

  private final NameResolver.Factory dns;
  private final ProxyChooser proxies;
  private final InetSocketAddress unresolvedTarget;

  ProxiedTargetResolver(OkHttpWebSocketOptions options, ProxyChooser proxies) {
    this.dns = NameResolverRegistry.getDefaultRegistry().asFactory();
    this.proxies = proxies;
    String host = options.connectToHost() != null ? options.connectToHost() : options.host();
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    this.unresolvedTarget = InetSocketAddress.createUnresolved(host,
        options.connectToHost() != null ? options.connectToPort() : options.port());
  }

  @Override
  public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
    NameResolver delegate = dns.newNameResolver(targetUri, args);
    return delegate == null ? null : new Resolver(delegate);
  }

  @Override
  public String getDefaultScheme() {
    return dns.getDefaultScheme();
  }

  /** Runs in grpc's synchronization context, as every NameResolver. */
  private final class Resolver extends NameResolver {
    private final NameResolver delegate;
    private Listener2 listener;
    private boolean delegateStarted;
    /**
     * Whether the last resolution chose a proxy, or found a proxy setting it cannot use: DNS results still arriving
     * then are dropped.
     */
    private boolean proxied;

    Resolver(NameResolver delegate) {
      this.delegate = delegate;
    }

    @Override
    public String getServiceAuthority() {
      return delegate.getServiceAuthority();
    }

    @Override
    public void start(Listener2 listener) {
      this.listener = listener;
      resolve();
    }

    @Override
    public void refresh() {
      resolve();
    }

    private void resolve() {
      proxied = skipsDns();
      if (proxied) {
        List<EquivalentAddressGroup> target =
            Collections.singletonList(new EquivalentAddressGroup(unresolvedTarget));
        listener.onResult(ResolutionResult.newBuilder()
            .setAddressesOrError(StatusOr.fromValue(target))
            .setAttributes(Attributes.EMPTY)
            .build());
      } else if (!delegateStarted) {
        delegateStarted = true;
        delegate.start(new Listener2() {
          @Override
          public void onResult(ResolutionResult result) {
            if (!proxied) {
              listener.onResult(result);
            }
          }

          @Override
          public Status onResult2(ResolutionResult result) {
            return proxied ? Status.OK : listener.onResult2(result);
          }

          @Override
          public void onError(Status error) {
            if (!proxied) {
              listener.onError(error);
            }
          }
        });
      } else {
        delegate.refresh();
      }
    }

    /** Whether an HTTP proxy is chosen, which resolves the target, or a proxy setting cannot be used. */
    private boolean skipsDns() {
      try {
        ProxyChooser.Choice choice = proxies.choose();
        return choice != null && choice.proxy.type() == Proxy.Type.HTTP;
      } catch (IOException e) {
        // No DNS either: the connect then fails naming the unusable setting, not the target's name, which need not
        // resolve here when a proxy is meant to be used.
        return true;
      }
    }

    @Override
    public void shutdown() {
      delegate.shutdown();
    }
  }
}
