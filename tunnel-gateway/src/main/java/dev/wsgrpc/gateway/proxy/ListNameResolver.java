package dev.wsgrpc.gateway.proxy;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.Status;
import io.grpc.StatusOr;
import io.grpc.SynchronizationContext;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;

/**
 * A grpc-java name resolver for a list of {@code HOST:PORT}: fixed ({@code --upstream a:1,b:2}) or read from a file
 * ({@code --upstream-file}). Every address of every name becomes its own address group, so that {@code round_robin}
 * spreads calls over all of them. The list is read and its names looked up again every refresh interval and
 * whenever the channel asks (a connection failed), on grpc's offload executor (never on an event loop).
 *
 * <p>While the list cannot be read or no name resolves, the last good addresses stay in use (and a WARN line says
 * why, once per distinct problem: every event loop's channel has a resolver of its own, and all of them report to one
 * {@link UpstreamProblems}, which logs a problem once however many of them meet it); before there was any, calls fail
 * UNAVAILABLE with the reason.
 */
final class ListNameResolver extends NameResolver {

  static final String SCHEME = "wsgrpc-list";

  /** The provider to register in the channel's name resolver registry. */
  static final class Provider extends NameResolverProvider {
    private final List<HostPort> fixed;
    private final Path file;
    private final Duration refresh;
    private final boolean authorityPerAddress;
    private final UpstreamProblems problems;

    /**
     * {@code authorityPerAddress}: each address's TLS name and {@code :authority} is its own host; {@code problems}:
     * where the resolvers report what they cannot read or resolve.
     */
    Provider(List<HostPort> fixed, Path file, Duration refresh, boolean authorityPerAddress,
        UpstreamProblems problems) {
      this.fixed = fixed;
      this.file = file;
      this.refresh = refresh;
      this.authorityPerAddress = authorityPerAddress;
      this.problems = problems;
    }

    /** The channel target this provider resolves. */
    String target() {
      return SCHEME + ":///upstreams";
    }

    @Override
    public NameResolver newNameResolver(URI targetUri, Args args) {
      if (!SCHEME.equals(targetUri.getScheme())) {
        return null;
      }
      return new ListNameResolver(this, args);
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
      return SCHEME;
    }
  }

  private final Provider provider;
  private final SynchronizationContext syncContext;
  private final Executor offload;
  private final ScheduledExecutorService timer;
  private final String authority;
  private final UpstreamProblems.Resolution problems;

  // Confined to syncContext.
  private Listener2 listener;
  private boolean resolving;
  private boolean shutdown;
  private boolean haveAddresses;
  private SynchronizationContext.ScheduledHandle periodic;

  private ListNameResolver(Provider provider, Args args) {
    this.provider = provider;
    this.syncContext = args.getSynchronizationContext();
    this.offload = args.getOffloadExecutor();
    this.timer = args.getScheduledExecutorService();
    this.authority = provider.fixed.isEmpty() ? "upstreams" : provider.fixed.get(0).toString();
    this.problems = provider.problems.resolution();
  }

  @Override
  public String getServiceAuthority() {
    return authority;
  }

  @Override
  public void start(Listener2 listener) {
    this.listener = listener;
    resolve();
    periodic = syncContext.scheduleWithFixedDelay(this::resolve, provider.refresh, provider.refresh, timer);
  }

  @Override
  public void refresh() {
    resolve();
  }

  @Override
  public void shutdown() {
    shutdown = true;
    if (periodic != null) {
      periodic.cancel();
    }
    problems.close();
  }

  private void resolve() {
    if (resolving || shutdown) {
      return;
    }
    resolving = true;
    offload.execute(() -> {
      Lookup lookup = lookup();
      syncContext.execute(() -> {
        resolving = false;
        if (!shutdown) {
          deliver(lookup);
        }
      });
    });
  }

  private void deliver(Lookup lookup) {
    problems.report(lookup.problem,
        haveAddresses && lookup.addresses.isEmpty() ? "; the last good addresses stay in use" : "");
    if (lookup.addresses.isEmpty()) {
      if (!haveAddresses) {
        listener.onError(Status.UNAVAILABLE.withDescription("no upstream address: " + lookup.problem));
      }
      return;
    }
    haveAddresses = true;
    listener.onResult2(ResolutionResult.newBuilder()
        .setAddressesOrError(StatusOr.fromValue(lookup.addresses))
        .build());
  }

  /** What one lookup found: the addresses, and a problem to report (or null). */
  private static final class Lookup {
    final List<EquivalentAddressGroup> addresses;
    final String problem;

    Lookup(List<EquivalentAddressGroup> addresses, String problem) {
      this.addresses = addresses;
      this.problem = problem;
    }
  }

  private Lookup lookup() {
    List<HostPort> entries;
    if (provider.file != null) {
      try {
        entries = HostPort.parseLines("--upstream-file " + provider.file, Files.readAllLines(provider.file));
      } catch (IOException e) {
        return new Lookup(List.of(), "cannot read --upstream-file " + provider.file + ": " + e);
      } catch (IllegalArgumentException e) {
        return new Lookup(List.of(), e.getMessage());
      }
      if (entries.isEmpty()) {
        return new Lookup(List.of(), "--upstream-file " + provider.file + " lists no HOST:PORT");
      }
    } else {
      entries = provider.fixed;
    }
    Set<InetSocketAddress> seen = new LinkedHashSet<>();
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    List<String> unresolved = new ArrayList<>();
    for (HostPort entry : entries) {
      InetAddress[] all;
      try {
        all = InetAddress.getAllByName(entry.host);
      } catch (UnknownHostException e) {
        unresolved.add(entry.toString());
        continue;
      }
      for (InetAddress a : all) {
        InetSocketAddress address = new InetSocketAddress(a, entry.port);
        if (seen.add(address)) {
          Attributes attrs = provider.authorityPerAddress
              ? Attributes.newBuilder().set(EquivalentAddressGroup.ATTR_AUTHORITY_OVERRIDE, entry.toString()).build()
              : Attributes.EMPTY;
          groups.add(new EquivalentAddressGroup(address, attrs));
        }
      }
    }
    String problem = unresolved.isEmpty() ? null : "cannot resolve " + String.join(", ", unresolved);
    return new Lookup(groups, problem);
  }
}
