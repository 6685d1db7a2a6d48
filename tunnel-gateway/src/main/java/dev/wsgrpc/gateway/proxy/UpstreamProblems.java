package dev.wsgrpc.gateway.proxy;

import dev.wsgrpc.core.internal.RateLimitedLog;
import io.grpc.EquivalentAddressGroup;
import io.grpc.Status;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What proxy mode tells the operator about its upstreams, once per gateway: every event loop has its own upstream
 * channel (with its own name resolver and its own connections), and all of them share this one object, so that a
 * problem they all run into is one log line, not one per loop.
 *
 * <ul>
 *   <li>A failed connection attempt (refused, timed out, a failed TLS handshake) counts in
 *       {@code wsgrpc_upstream_connect_failures_total} and is named, with grpc's reason, in a WARN line: at most one
 *       every 10 s, the next one saying how many were held back (grpc-java keeps trying a dead upstream, with
 *       backoff, for hours).
 *   <li>A name resolution problem (a list file that cannot be read or lists nothing, names that do not resolve) is
 *       one WARN line when the first resolver meets it, and none from the others while any of them still has it.
 * </ul>
 */
public final class UpstreamProblems {

  private static final Logger logger = LoggerFactory.getLogger("dev.wsgrpc.gateway.proxy.Upstreams");
  /** The system call that Netty's native transport names before the system's words. */
  private static final Pattern SYSTEM_CALL = Pattern.compile("^\\w+\\(\\.\\.\\) failed with error\\(-?\\d+\\): ");

  private final Counter connectFailures;
  /** A dead upstream is tried again and again, on every loop's channel: one line every 10 s at most. */
  private final RateLimitedLog connectLog =
      new RateLimitedLog(logger, RateLimitedLog.Level.WARN, 1, Duration.ofSeconds(10), System::nanoTime);
  /** Distinct resolution problems are few, but a flapping DNS could make many: the default limit on top. */
  private final RateLimitedLog resolutionLog = new RateLimitedLog(logger, RateLimitedLog.Level.WARN);
  /** Each resolution problem some resolver has now, with how many resolvers have it. */
  private final Map<String, Integer> resolutionProblems = new HashMap<>();

  /** Registers {@code wsgrpc_upstream_connect_failures_total} in {@code registry}. */
  public UpstreamProblems(PrometheusRegistry registry) {
    connectFailures = Counter.builder()
        .name("wsgrpc_upstream_connect_failures_total")
        .help("Proxy mode: failed connection attempts to upstream gRPC servers (refused, timed out, a failed TLS "
            + "handshake), counted per event loop: each loop has its own connections, and tries each upstream itself")
        .register(registry);
  }

  /**
   * An attempt to connect to {@code addresses} (one subchannel's) failed with {@code status}: counted, and said in a
   * rate-limited WARN line.
   */
  void connectFailed(List<EquivalentAddressGroup> addresses, Status status) {
    connectFailures.inc();
    connectLog.log("proxy mode: cannot connect to upstream {}: {}", name(addresses), reason(status));
  }

  /** Failed connection attempts so far. */
  public long connectFailures() {
    return (long) connectFailures.get();
  }

  /** A new resolver's view of resolution problems: one per name resolver, each in one synchronization context. */
  Resolution resolution() {
    return new Resolution();
  }

  /** What one name resolver last found wrong. */
  final class Resolution {
    private String current;

    /**
     * The resolver's latest lookup found {@code problem} (null: none); {@code note} is added to the line when this
     * is the first resolver to report it (e.g. that the last good addresses stay in use).
     */
    void report(String problem, String note) {
      boolean first;
      synchronized (UpstreamProblems.this) {
        if (problem == null ? current == null : problem.equals(current)) {
          return;
        }
        release(current);
        current = problem;
        first = problem != null && resolutionProblems.merge(problem, 1, Integer::sum) == 1;
      }
      if (first) {
        resolutionLog.log("proxy mode: {}{}", problem, note);
      }
    }

    /** The resolver stopped: its problem, if any, is no longer its. */
    void close() {
      report(null, "");
    }
  }

  private void release(String problem) {
    if (problem != null) {
      resolutionProblems.computeIfPresent(problem, (p, n) -> n == 1 ? null : n - 1);
    }
  }

  /** {@code host:port}, and the IP address when the host is a name: {@code grpc.internal:50051 (10.0.0.7)}. */
  static String name(List<EquivalentAddressGroup> groups) {
    List<String> names = new ArrayList<>();
    for (EquivalentAddressGroup group : groups) {
      for (SocketAddress address : group.getAddresses()) {
        names.add(name(address));
      }
    }
    return names.size() == 1 ? names.get(0) : names.toString();
  }

  private static String name(SocketAddress address) {
    if (!(address instanceof InetSocketAddress)) {
      return String.valueOf(address);
    }
    InetSocketAddress inet = (InetSocketAddress) address;
    String host = inet.getHostString();
    String ip = inet.getAddress() == null ? null : inet.getAddress().getHostAddress();
    String name = (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + inet.getPort();
    return ip == null || ip.equals(host) ? name : name + " (" + ip + ")";
  }

  /**
   * Why grpc gave up on a connection, in one line without a stack trace: the cause's message where there is one
   * ({@code Connection refused}, {@code TLS handshake failed: PKIX path building failed: ...}), else grpc's
   * description.
   */
  static String reason(Status status) {
    Throwable cause = status.getCause();
    for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof SSLException) {
        return "TLS handshake failed: " + oneLine(t.getMessage());
      }
      if (t instanceof ConnectException && t.getMessage() != null) {
        return connectFailure((ConnectException) t);
      }
    }
    if (cause != null) {
      return RateLimitedLog.describe(cause);
    }
    String description = status.getDescription();
    return description == null ? status.getCode().toString() : status.getCode() + ": " + oneLine(description);
  }

  /**
   * Why a connection was not made (a failure with a message), in the system's words ({@code Connection refused},
   * {@code connection timed out after 10000 ms}), for a line that names the upstream already (also relay mode's):
   * Netty adds {@code ": host/ip:port"} to the JDK's message, and its epoll transport puts the system call first.
   */
  public static String connectFailure(ConnectException e) {
    String message = withoutSystemCall(e.getMessage());
    int at = message.lastIndexOf(": ");
    return oneLine(at > 0 && message.substring(at + 2).contains("/") ? message.substring(0, at) : message);
  }

  /**
   * {@code message} without the system call that Netty's native transport puts before the system's words
   * ({@code "finishConnect(..) failed with error(-111): "}, {@code "bind(..) failed with error(-98): "}): for lines
   * that name what failed already (also those of {@code StartFailure}).
   */
  public static String withoutSystemCall(String message) {
    return SYSTEM_CALL.matcher(message).replaceFirst("");
  }

  private static String oneLine(String message) {
    if (message == null) {
      return "";
    }
    String line = message.replaceAll("[\\r\\n\\t]+", " ");
    return line.length() > 300 ? line.substring(0, 300) + "..." : line;
  }
}
