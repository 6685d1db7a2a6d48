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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
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
 * <p>A failed connection to one of the addresses ({@link #connectFailed}) has them looked up again at once, not at
 * the next period, so that a name that now names another address (a backend moved, its old address refusing) gets
 * the next tunnels there: at most one such lookup every {@link #LOOKUP_AFTER_FAILURE_SPACING}, failures until it
 * has looked sharing it, so that a dead upstream under load costs no more. (The JDK's own cache of an answer, 30 s by
 * default, still applies under every lookup.)
 *
 * <p>A name that does not resolve is one WARN line when it starts failing (at start, or when it no longer resolves),
 * none while it keeps failing, and one INFO line when it resolves again; for names that flap, a rate limit on top
 * (at most 5 lines of each kind a minute, or one per name with more names). Meanwhile its addresses are not used,
 * and while no name resolves the last good addresses are.
 */
final class Upstreams implements AutoCloseable {

  private static final Logger logger = LoggerFactory.getLogger(Upstreams.class);
  /**
   * The least time from one lookup to the next that failed connections ask for: with the JDK's cache off
   * ({@code -Dsun.net.inetaddr.ttl=0}) each lookup is a DNS query, at most one a second on top of the periodic ones.
   */
  static final Duration LOOKUP_AFTER_FAILURE_SPACING = Duration.ofSeconds(1);

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
  /** When the last lookup began ({@link System#nanoTime}). */
  private volatile long lastLookupNanos;
  /** The lookup that failed connections wait for, from the first failure until it has looked; else null. */
  private CompletableFuture<List<Resolved>> lookupAfterFailure; // guarded by this

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
    lastLookupNanos = System.nanoTime();
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
    use(lookUp());
  }

  /** The addresses of every name that resolves now; those of names that do not are left out. */
  private List<Resolved> lookUp() {
    lastLookupNanos = System.nanoTime();
    try {
      return resolve(false);
    } catch (UnknownHostException e) {
      throw new AssertionError(e); // resolve(false) does not throw
    }
  }

  /** Takes {@code fresh} for the next tunnels, unless no name resolved (then the last good addresses stay). */
  private void use(List<Resolved> fresh) {
    if (!fresh.isEmpty()) {
      resolved = fresh;
    }
  }

  /**
   * A connection to one of the addresses failed (refused, timed out, a failed TLS handshake): the names are looked
   * up again on the resolver thread, at once, or {@link #LOOKUP_AFTER_FAILURE_SPACING} after the last lookup began
   * when that is later. Failures until that lookup has looked share it. Any thread; never blocks.
   *
   * @return completed, on the resolver thread, with the addresses in use after that lookup (at once, with those in
   *     use now, once closed)
   */
  CompletableFuture<List<Resolved>> connectFailed() {
    CompletableFuture<List<Resolved>> lookup;
    synchronized (this) {
      if (lookupAfterFailure != null) {
        return lookupAfterFailure;
      }
      lookup = lookupAfterFailure = new CompletableFuture<>();
    }
    long wait = lastLookupNanos + LOOKUP_AFTER_FAILURE_SPACING.toNanos() - System.nanoTime();
    try {
      resolver.schedule(this::lookUpAfterFailure, Math.max(0, wait), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException closed) {
      lookup.complete(resolved);
    }
    return lookup;
  }

  /** The lookup that failed connections asked for: on the resolver thread. */
  private void lookUpAfterFailure() {
    List<Resolved> fresh = List.of();
    try {
      fresh = lookUp();
    } finally {
      CompletableFuture<List<Resolved>> lookup;
      synchronized (this) {
        lookup = lookupAfterFailure;
        lookupAfterFailure = null; // a failure from now on may be of the fresh addresses: it asks for another lookup
      }
      use(fresh);
      lookup.complete(resolved);
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
    CompletableFuture<List<Resolved>> lookup;
    synchronized (this) {
      lookup = lookupAfterFailure;
    }
    if (lookup != null) {
      lookup.complete(resolved); // its lookup will not come
    }
  }
}
