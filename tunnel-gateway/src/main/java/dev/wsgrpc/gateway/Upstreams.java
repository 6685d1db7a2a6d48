package dev.wsgrpc.gateway;

import dev.wsgrpc.core.internal.OptionValues;
import dev.wsgrpc.core.internal.RateLimitedLog;
import dev.wsgrpc.gateway.proxy.UpstreamOptions;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The upstream gRPC servers of relay mode: every address of every {@code HOST:PORT} given, resolved at start and
 * again every refresh period ({@code --upstream-refresh}, 30 s by default) on a background thread (never on an event
 * loop). New tunnels take them round robin.
 *
 * <p>A name that does not resolve is one WARN line when it starts failing (at start, or when it no longer resolves),
 * none while it keeps failing, and one INFO line when it resolves again; for names that flap, a rate limit on top
 * (at most 5 lines of each kind a minute, or one per name with more names). Meanwhile its addresses are not used,
 * and while no name resolves the last good addresses are.
 */
final class Upstreams implements AutoCloseable {

  private static final Logger logger = LoggerFactory.getLogger(Upstreams.class);

  /** One {@code HOST:PORT} as given. */
  static final class Target {
    final String host;
    final int port;

    Target(String host, int port) {
      this.host = host;
      this.port = port;
    }

    @Override
    public String toString() {
      return OptionValues.hostAndPort(host, port);
    }
  }

  /** How a host name is looked up: {@link InetAddress#getAllByName}, or a test's own. */
  interface Lookup {
    InetAddress[] addresses(String host) throws UnknownHostException;
  }

  private final List<Target> targets;
  private final Lookup lookup;
  /** A line per name at start; then, for names that flap, as many a minute (at least 5). */
  private final RateLimitedLog failedLog;
  private final RateLimitedLog resolvedLog;
  /** The names whose last lookup failed; on the resolver thread (before it, the constructor's). */
  private final Set<Target> failing = new HashSet<>();
  private final AtomicInteger next = new AtomicInteger();
  private final ScheduledExecutorService resolver = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "upstream-dns");
    t.setDaemon(true);
    return t;
  });
  private volatile List<Resolved> resolved;

  /** An address and the name it came from (the TLS server name). */
  static final class Resolved {
    final InetSocketAddress address;
    final String hostName;

    Resolved(InetSocketAddress address, String hostName) {
      this.address = address;
      this.hostName = hostName;
    }

    @Override
    public String toString() {
      return hostName + "/" + address.getAddress().getHostAddress() + ":" + address.getPort();
    }
  }

  /** Resolved again every {@link UpstreamOptions#DEFAULT_REFRESH_SECONDS} seconds, as proxy mode's by default. */
  Upstreams(List<Target> targets) throws UnknownHostException {
    this(targets, Duration.ofSeconds(UpstreamOptions.DEFAULT_REFRESH_SECONDS));
  }

  /**
   * Resolves {@code targets} now, and again every {@code refresh} (checked by the caller: 1 ms to about 24.8 days).
   *
   * @throws UnknownHostException when no name resolves
   */
  Upstreams(List<Target> targets, Duration refresh) throws UnknownHostException {
    this(targets, refresh, InetAddress::getAllByName);
  }

  /** As above, looking names up with {@code lookup}. */
  Upstreams(List<Target> targets, Duration refresh, Lookup lookup) throws UnknownHostException {
    this.targets = targets;
    this.lookup = lookup;
    int burst = Math.max(RateLimitedLog.DEFAULT_BURST, targets.size());
    failedLog = new RateLimitedLog(logger, RateLimitedLog.Level.WARN, burst, RateLimitedLog.DEFAULT_PERIOD,
        System::nanoTime);
    resolvedLog = new RateLimitedLog(logger, RateLimitedLog.Level.INFO, burst, RateLimitedLog.DEFAULT_PERIOD,
        System::nanoTime);
    this.resolved = resolve(true);
    resolver.scheduleWithFixedDelay(this::refresh, refresh.toNanos(), refresh.toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Parses {@code HOST:PORT[,HOST:PORT...]}; IPv6 literals in brackets.
   *
   * @throws IllegalArgumentException naming the entry that is not HOST:PORT
   */
  static List<Target> parse(List<String> specs) {
    List<Target> out = new ArrayList<>();
    for (String spec : specs) {
      for (String raw : spec.split(",")) {
        String s = raw.trim();
        if (!s.isEmpty()) {
          InetSocketAddress hp = OptionValues.parseHostAndPort(s, "--upstream", false);
          out.add(new Target(hp.getHostString(), hp.getPort()));
        }
      }
    }
    return out;
  }

  private List<Resolved> resolve(boolean failIfNone) throws UnknownHostException {
    List<Resolved> out = new ArrayList<>();
    UnknownHostException last = null;
    for (Target t : targets) {
      InetAddress[] all;
      try {
        all = lookup.addresses(t.host);
      } catch (UnknownHostException e) {
        last = e;
        if (failing.add(t)) {
          failedLog.log("Cannot resolve upstream {}: {}; check --upstream and DNS", t, e.getMessage());
        }
        continue;
      }
      for (InetAddress a : all) {
        out.add(new Resolved(new InetSocketAddress(a, t.port), t.host));
      }
      if (failing.remove(t)) {
        resolvedLog.log("Upstream {} resolves again, to {}", t,
            Arrays.stream(all).map(InetAddress::getHostAddress).collect(Collectors.joining(", ")));
      }
    }
    if (out.isEmpty() && failIfNone) {
      UnknownHostException none = new UnknownHostException("no upstream name resolves; check --upstream and DNS");
      none.initCause(last);
      throw none;
    }
    return Collections.unmodifiableList(out);
  }

  /** Looks every name up again: on the resolver thread (a test's own, with a period that never comes). */
  void refresh() {
    try {
      List<Resolved> fresh = resolve(false);
      if (!fresh.isEmpty()) {
        resolved = fresh;
      }
    } catch (UnknownHostException e) {
      // resolve(false) does not throw
    }
  }

  /** Every known address, starting with the next one in round-robin order. */
  List<Resolved> rotation() {
    List<Resolved> all = resolved;
    int start = Math.floorMod(next.getAndIncrement(), all.size());
    List<Resolved> out = new ArrayList<>(all.size());
    for (int i = 0; i < all.size(); i++) {
      out.add(all.get((start + i) % all.size()));
    }
    return out;
  }

  @Override
  public String toString() {
    return targets.toString();
  }

  @Override
  public void close() {
    resolver.shutdownNow();
  }
}
