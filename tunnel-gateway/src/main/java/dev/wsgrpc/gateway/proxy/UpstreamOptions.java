package dev.wsgrpc.gateway.proxy;

import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.core.internal.InvalidValueException;
import dev.wsgrpc.core.internal.Preconditions;
import io.grpc.NameResolverRegistry;
import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Where proxy mode sends calls and how: an immutable value from a validating {@link Builder}; see
 * {@link UpstreamChannel#create}.
 */
public final class UpstreamOptions {

  /** Default {@link Builder#refreshInterval}: {@value} seconds. */
  public static final int DEFAULT_REFRESH_SECONDS = 30;
  /** Default {@link Builder#maxInboundMessageSize}: 4 MiB, as grpc-java's. */
  public static final int DEFAULT_MAX_INBOUND_MESSAGE = 4 * 1024 * 1024;
  /** Default {@link Builder#keepAlive} time: {@value} s, what grpc-java servers permit by default. */
  public static final int DEFAULT_KEEPALIVE_SECONDS = 300;
  /** Default {@link Builder#keepAlive} timeout: {@value} s. */
  public static final int DEFAULT_KEEPALIVE_TIMEOUT_SECONDS = 20;
  /** Default {@link Builder#maxInboundMetadataSize}: 16 KiB. */
  public static final int DEFAULT_MAX_INBOUND_METADATA = 16 * 1024;

  final String targetUri;
  final List<HostPort> list;
  final Path listFile;
  final Duration refreshInterval;
  final boolean tls;
  final File trustCertificates;
  final File clientCertificate;
  final File clientKey;
  final String authority;
  final String healthCheckService;
  final int maxInboundMessageSize;
  final int maxInboundMetadataSize;
  final Duration keepAliveTime;
  final Duration keepAliveTimeout;

  private UpstreamOptions(Builder b) {
    targetUri = b.targetUri;
    list = Collections.unmodifiableList(new ArrayList<>(b.list));
    listFile = b.listFile;
    refreshInterval = b.refreshInterval;
    tls = b.tls;
    trustCertificates = b.trustCertificates;
    clientCertificate = b.clientCertificate;
    clientKey = b.clientKey;
    authority = b.authority;
    healthCheckService = b.healthCheckService;
    maxInboundMessageSize = b.maxInboundMessageSize;
    maxInboundMetadataSize = b.maxInboundMetadataSize;
    keepAliveTime = b.keepAliveTime;
    keepAliveTimeout = b.keepAliveTimeout;
  }

  public static Builder newBuilder() {
    return new Builder();
  }

  /** Names the upstreams for log lines: the target, the list, or the file. */
  @Override
  public String toString() {
    String where = targetUri != null ? targetUri : listFile != null ? "file " + listFile : list.toString();
    return where + (tls ? " over TLS" : " over h2c");
  }

  public static final class Builder {
    private String targetUri;
    private final List<HostPort> list = new ArrayList<>();
    private Path listFile;
    private Duration refreshInterval = Duration.ofSeconds(DEFAULT_REFRESH_SECONDS);
    private boolean tls;
    private File trustCertificates;
    private File clientCertificate;
    private File clientKey;
    private String authority;
    private String healthCheckService = "";
    private int maxInboundMessageSize = DEFAULT_MAX_INBOUND_MESSAGE;
    private int maxInboundMetadataSize = DEFAULT_MAX_INBOUND_METADATA;
    private Duration keepAliveTime = Duration.ofSeconds(DEFAULT_KEEPALIVE_SECONDS);
    private Duration keepAliveTimeout = Duration.ofSeconds(DEFAULT_KEEPALIVE_TIMEOUT_SECONDS);

    private Builder() {}

    /**
     * The upstreams: either one gRPC target URI ({@code dns:///grpc.internal:50051}, resolved by grpc-java) or
     * {@code HOST:PORT} entries (each may also be a comma-separated list).
     *
     * @throws IllegalArgumentException "upstream: VALUE (expected: HOST:PORT)", or a URI mixed with others
     */
    public Builder upstreams(List<String> values) {
      for (String value : values) {
        for (String raw : value.split(",")) {
          String s = raw.trim();
          if (s.isEmpty()) {
            continue;
          }
          if (s.contains("://")) {
            if (targetUri != null || !list.isEmpty() || values.size() > 1 || value.contains(",")) {
              throw new InvalidValueException("upstream", s, "one target URI, or HOST:PORT entries");
            }
            checkScheme(s);
            targetUri = s;
          } else {
            if (targetUri != null) {
              throw new InvalidValueException("upstream", s, "one target URI, or HOST:PORT entries");
            }
            list.add(HostPort.parse("upstream", s));
          }
        }
      }
      return this;
    }

    /**
     * Refuses a target URI whose scheme grpc-java here cannot resolve ({@code dns} and {@code unix} can), saying
     * what to write instead of the likely mistake, a URL: {@code http://host:50051} is {@code host:50051}.
     */
    private static void checkScheme(String target) {
      String scheme = target.substring(0, target.indexOf("://"));
      if (NameResolverRegistry.getDefaultRegistry().getProviderForScheme(scheme) != null) {
        return;
      }
      String expected = "HOST:PORT, or one target URI such as dns:///HOST:PORT";
      // Never the user information (user:token@) of the URL, in the hint or the value.
      String authority = target.substring(target.indexOf("://") + 3).replaceFirst("/.*$", "")
          .replaceFirst("^[^@]*@", "");
      if (scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https")) {
        String hostPort = (authority.isEmpty() ? "HOST" : authority) + (authority.matches(".*:\\d+") ? "" : ":PORT");
        throw new InvalidValueException("upstream", target, expected + "; " + scheme + ":// is a URL, not a gRPC "
            + "target: write " + hostPort + (scheme.equalsIgnoreCase("https") ? " with --upstream-tls" : ""));
      }
      throw new InvalidValueException("upstream", target, expected + "; no name resolver reads " + scheme
          + ":// targets");
    }

    /** A file of {@code HOST:PORT} lines ({@code #} comments), read again every refresh. Default: none. */
    public Builder upstreamFile(Path file) {
      this.listFile = file;
      return this;
    }

    /**
     * How often names are looked up again and the list file re-read: 1 ms to
     * {@value TunnelSettings#MAX_DURATION_MILLIS} ms (about 24.8 days); others fail with
     * {@code "upstreamRefresh: 0s (expected: > 0)"}. Default: {@value #DEFAULT_REFRESH_SECONDS} s.
     */
    public Builder refreshInterval(Duration interval) {
      this.refreshInterval = Preconditions.checkDuration(interval, "upstreamRefresh");
      return this;
    }

    /** TLS to the upstreams (ALPN h2). Default: false (h2c). */
    public Builder tls(boolean tls) {
      this.tls = tls;
      return this;
    }

    /** PEM certificates to trust for TLS. Default: null, the JDK's trust store. */
    public Builder trustCertificates(File pem) {
      this.trustCertificates = pem;
      return this;
    }

    /** A client certificate chain and PKCS#8 key to present to upstreams (mutual TLS). Default: none. */
    public Builder clientCertificate(File certificateChain, File key) {
      this.clientCertificate = certificateChain;
      this.clientKey = key;
      return this;
    }

    /**
     * The {@code :authority} and TLS server name for every upstream. Default: null, each upstream's own host name
     * (for a target URI, its host).
     */
    public Builder authority(String authority) {
      this.authority = authority;
      return this;
    }

    /**
     * The service whose {@code grpc.health.v1} status decides whether an upstream gets calls; "" asks about the
     * whole server; null turns health checking off. An upstream that does not implement the health service counts
     * as healthy. Default: "".
     */
    public Builder healthCheckService(String service) {
      this.healthCheckService = service;
      return this;
    }

    /** Largest message accepted from an upstream. Default: 4 MiB. */
    public Builder maxInboundMessageSize(int bytes) {
      if (bytes <= 0) {
        throw new InvalidValueException("maxInboundMessage", bytes, "> 0");
      }
      this.maxInboundMessageSize = bytes;
      return this;
    }

    /** Largest header or trailer block accepted from an upstream. Default: 16 KiB. */
    public Builder maxInboundMetadataSize(int bytes) {
      if (bytes <= 0) {
        throw new InvalidValueException("maxInboundMetadata", bytes, "> 0");
      }
      this.maxInboundMetadataSize = bytes;
      return this;
    }

    /**
     * gRPC keepalive to the upstreams: a PING when a connection with a call open has received nothing for
     * {@code time}, and {@code timeout} for its answer, after which the connection's calls fail UNAVAILABLE and
     * grpc-java reconnects; {@code time} zero turns it off. grpc-java rounds a time below 10 s up to 10 s. Upstreams
     * must permit pings this often ({@code permitKeepAliveTime}, 5 min by default in grpc-java). {@code time} is 0 or
     * 1 ms to {@value TunnelSettings#MAX_DURATION_MILLIS} ms (about 24.8 days), {@code timeout} 1 ms to as much;
     * others fail with {@code "upstreamKeepAlive: 999999999999h (expected: at most 2147483647 ms, about 24.8
     * days)"}. Default: {@value #DEFAULT_KEEPALIVE_SECONDS} s and {@value #DEFAULT_KEEPALIVE_TIMEOUT_SECONDS} s.
     */
    public Builder keepAlive(Duration time, Duration timeout) {
      Preconditions.checkDurationOrZero(time, "upstreamKeepAlive");
      Preconditions.checkDuration(timeout, "upstreamKeepAliveTimeout");
      this.keepAliveTime = time;
      this.keepAliveTimeout = timeout;
      return this;
    }

    /**
     * @throws IllegalArgumentException when no upstream is named, or both a list and a file are, or TLS settings
     *     come without TLS
     */
    public UpstreamOptions build() {
      int sources = (targetUri != null ? 1 : 0) + (!list.isEmpty() ? 1 : 0) + (listFile != null ? 1 : 0);
      if (sources != 1) {
        throw new InvalidValueException("upstream", sources == 0 ? "none" : "both a list and a file",
            "--upstream or --upstream-file");
      }
      if (!tls && (trustCertificates != null || clientCertificate != null)) {
        throw new InvalidValueException("upstreamTls", false, "true with trust or client certificates");
      }
      if ((clientCertificate == null) != (clientKey == null)) {
        throw new InvalidValueException("upstreamClientKey", clientKey, "with a certificate");
      }
      return new UpstreamOptions(this);
    }
  }
}
