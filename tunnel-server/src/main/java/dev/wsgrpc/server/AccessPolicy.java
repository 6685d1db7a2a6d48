package dev.wsgrpc.server;

import static dev.wsgrpc.core.internal.Preconditions.checkArgument;
import static dev.wsgrpc.core.internal.Preconditions.checkInRange;
import static dev.wsgrpc.core.internal.Preconditions.checkNotNull;
import static dev.wsgrpc.core.internal.Preconditions.checkPositive;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Who may open a tunnel, decided before the 101, and how many tunnels anyone may hold: the authenticator, the
 * allowed origins, the trusted proxies that name the client, the admission hook and the tunnel limits. Immutable;
 * build one with {@link #newBuilder()}.
 *
 * <pre>{@code
 * AccessPolicy access = AccessPolicy.newBuilder()
 *     .authenticator(BearerTokens.of(Map.of(token, "alice")))   // services see TunnelPrincipal.current()
 *     .allowedOrigins(List.of("https://app.example.com"))
 *     .maxTunnels(10_000).maxTunnelsPerClient(100)
 *     .build();
 * }</pre>
 */
public final class AccessPolicy {

  /** The default prefix length that groups IPv6 clients for {@code maxTunnelsPerClient}: /{@value}. */
  public static final int DEFAULT_IPV6_CLIENT_PREFIX = 64;

  /** Everyone admitted, no limits: the default of server options. */
  public static final AccessPolicy OPEN = newBuilder().build();

  private final TunnelAuthenticator authenticator;
  private final List<String> allowedOrigins;
  private final TrustedProxies trustedProxies;
  private final TunnelAdmission admission;
  private final int maxTunnels;
  private final int maxTunnelsPerClient;
  private final int maxHandshakesPerClient;
  private final int ipv6ClientPrefix;
  private final boolean crossSiteCredentialsAllowed;

  private AccessPolicy(Builder b) {
    this.authenticator = b.authenticator;
    this.allowedOrigins = Collections.unmodifiableList(new ArrayList<>(b.allowedOrigins));
    this.trustedProxies = b.trustedProxies;
    this.admission = b.admission;
    this.maxTunnels = b.maxTunnels;
    this.maxTunnelsPerClient = b.maxTunnelsPerClient;
    this.maxHandshakesPerClient = b.maxHandshakesPerClient;
    this.ipv6ClientPrefix = b.ipv6ClientPrefix;
    this.crossSiteCredentialsAllowed = b.crossSiteCredentialsAllowed;
  }

  /**
   * Whether pages of any origin may open tunnels, and (with {@link BrowserOptions} for {@code *}) call over
   * connections that carry credentials a browser sends by itself, when no origins are listed; see
   * {@link Builder#crossSiteCredentialsAllowed(boolean)}.
   */
  public boolean crossSiteCredentialsAllowed() {
    return crossSiteCredentialsAllowed;
  }

  /** The IPv6 prefix length that counts as one client for {@link #maxTunnelsPerClient()}; IPv4 counts by /32. */
  public int ipv6ClientPrefix() {
    return ipv6ClientPrefix;
  }

  /** Starts from {@link #OPEN}. */
  public static Builder newBuilder() {
    return new Builder();
  }

  /** A builder that starts from this policy. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** Decides who each tunnel belongs to before the 101, or {@code null} for no authentication. */
  public TunnelAuthenticator authenticator() {
    return authenticator;
  }

  /**
   * Origins allowed to open tunnels; empty allows the Host's own origin only (and requests without Origin), see
   * {@link Builder#allowedOrigins(List)}.
   */
  public List<String> allowedOrigins() {
    return allowedOrigins;
  }

  /** The proxies whose {@code Forwarded}/{@code X-Forwarded-For} headers decide the client's address. */
  public TrustedProxies trustedProxies() {
    return trustedProxies;
  }

  /** Decides each valid upgrade before the 101; never null. */
  public TunnelAdmission admission() {
    return admission;
  }

  /** The most tunnels open at once; more get 503. */
  public int maxTunnels() {
    return maxTunnels;
  }

  /** The most tunnels open at once from one client address; more get 503. */
  public int maxTunnelsPerClient() {
    return maxTunnelsPerClient;
  }

  /**
   * The most connections from one peer address still in their handshake, before their admission; see
   * {@link Builder#maxHandshakesPerClient(int)}.
   */
  public int maxHandshakesPerClient() {
    return maxHandshakesPerClient;
  }

  @Override
  public String toString() {
    return "AccessPolicy{authenticator=" + (authenticator != null) + ", allowedOrigins=" + allowedOrigins
        + ", trustedProxies=" + trustedProxies + ", admission=" + (admission != TunnelAdmission.ALL)
        + ", maxTunnels=" + maxTunnels + ", maxTunnelsPerClient=" + maxTunnelsPerClient
        + ", maxHandshakesPerClient=" + maxHandshakesPerClient
        + ", ipv6ClientPrefix=" + ipv6ClientPrefix + ", crossSiteCredentialsAllowed=" + crossSiteCredentialsAllowed
        + "}";
  }

  /** A validating builder; every setter fails fast with the offending value. Not thread-safe. */
  public static final class Builder {
    private TunnelAuthenticator authenticator;
    private List<String> allowedOrigins = Collections.emptyList();
    private TrustedProxies trustedProxies = TrustedProxies.NONE;
    private TunnelAdmission admission = TunnelAdmission.ALL;
    private int maxTunnels = Integer.MAX_VALUE;
    private int maxTunnelsPerClient = Integer.MAX_VALUE;
    private int maxHandshakesPerClient = Integer.MAX_VALUE;
    private int ipv6ClientPrefix = DEFAULT_IPV6_CLIENT_PREFIX;
    private boolean crossSiteCredentialsAllowed;

    private Builder() {}

    private Builder(AccessPolicy p) {
      authenticator = p.authenticator;
      allowedOrigins = p.allowedOrigins;
      trustedProxies = p.trustedProxies;
      admission = p.admission;
      maxTunnels = p.maxTunnels;
      maxTunnelsPerClient = p.maxTunnelsPerClient;
      maxHandshakesPerClient = p.maxHandshakesPerClient;
      ipv6ClientPrefix = p.ipv6ClientPrefix;
      crossSiteCredentialsAllowed = p.crossSiteCredentialsAllowed;
    }

    /**
     * Authenticates each upgrade before the 101: a principal for {@link TunnelPrincipal}, or 401/403. Built in:
     * {@link BearerTokens}, {@link TunnelAuthenticator#CLIENT_CERTIFICATE}. Default: none, every client admitted.
     */
    public Builder authenticator(TunnelAuthenticator authenticator) {
      this.authenticator = authenticator;
      return this;
    }

    /**
     * The only {@code Origin} values allowed to open tunnels (e.g. {@code https://app.example.com}, without a
     * path: browsers send none), kept as browsers send them (no default port: {@code https://app.example.com:443}
     * is {@code https://app.example.com}) and compared ignoring case; a request with another Origin gets 403. Requests without
     * Origin (non-browser clients: the wsgrpc clients send none unless given one) are allowed. A browser sends Origin
     * with every WebSocket upgrade, and a page's script can speak HTTP/2 inside binary messages, so a tunnel upgrade
     * with an Origin comes from a web page. Default: empty, the Host's own origin only (same host and port, any
     * scheme): a page of another site gets 403, whether or not the server asks for credentials, unless
     * {@link #crossSiteCredentialsAllowed(boolean)}. Browser calls ({@link BrowserOptions}) have their own list.
     */
    public Builder allowedOrigins(List<String> origins) {
      checkNotNull(origins, "allowedOrigins");
      for (String origin : origins) {
        // "null" is what sandboxed frames and files send; "*" would match no Origin here, unlike in BrowserOptions.
        checkArgument(!"*".equals(origin), "allowedOrigins", origin,
            "listed origins; for pages of any origin, crossSiteCredentialsAllowed(true)");
        checkArgument("null".equals(origin) || Origins.isOrigin(origin), "allowedOrigins", origin, Origins.EXPECTED);
      }
      this.allowedOrigins = new ArrayList<>();
      for (String origin : origins) {
        allowedOrigins.add(Origins.comparable(origin)); // "null" is no origin: kept as it is
      }
      return this;
    }

    /**
     * The proxies (CIDR blocks such as {@code 10.0.0.0/8} or single addresses) whose {@code X-Forwarded-For}
     * header decides the client's address, which services then see as {@code Grpc.TRANSPORT_ATTR_REMOTE_ADDR} and
     * {@link #maxTunnelsPerClient} counts by: the chain is walked from the right past these proxies, and the first
     * other hop is the client. A tunnel's header is read from its upgrade request; a native gRPC call's (a proxy
     * such as nginx {@code grpc_pass} in front) from the call's own headers. From anyone else the header is ignored,
     * and {@code Forwarded} is never read (see {@link #trustedProxies(List, TrustedProxies.Header)} for proxies that
     * set {@code Forwarded}). Default: none.
     */
    public Builder trustedProxies(List<String> cidrs) {
      return trustedProxies(cidrs, TrustedProxies.Header.X_FORWARDED_FOR);
    }

    /**
     * Like {@link #trustedProxies(List)}, reading the client's address from {@code header} only: the one these
     * proxies append to. Reading a header that the proxy passes on from the client unchanged would let the client
     * choose its address. Default: none, {@link TrustedProxies.Header#X_FORWARDED_FOR}.
     */
    public Builder trustedProxies(List<String> cidrs, TrustedProxies.Header header) {
      checkNotNull(cidrs, "trustedProxies");
      this.trustedProxies = TrustedProxies.parse(cidrs, checkNotNull(header, "forwardedHeader"));
      return this;
    }

    /** Decides each valid upgrade before the 101 (draining, limits). Default: admit all. */
    public Builder admission(TunnelAdmission admission) {
      this.admission = checkNotNull(admission, "admission");
      return this;
    }

    /** The most tunnels open at once; more get 503 with {@code Retry-After}. Default: no limit. */
    public Builder maxTunnels(int max) {
      this.maxTunnels = checkPositive(max, "maxTunnels");
      return this;
    }

    /**
     * The most tunnels open at once from one client address (after {@link #trustedProxies}); more get 503 with
     * {@code Retry-After}. IPv6 clients count by network ({@link #ipv6ClientPrefix}), IPv4 clients by address.
     * Default: no limit.
     */
    public Builder maxTunnelsPerClient(int max) {
      this.maxTunnelsPerClient = checkPositive(max, "maxTunnelsPerClient");
      return this;
    }

    /**
     * The most connections from one peer address (an IPv6 network of {@link #ipv6ClientPrefix} bits) that may be in
     * their handshake at once: accepted, and not yet admitted as a tunnel, a browser call or a native gRPC connection
     * (TLS, the upgrade request, authentication; a native connection until its preface is admitted, or its first
     * accepted call where calls are authenticated one by one; a refused one until it closes), so that one address
     * cannot hold connections without credentials in any number, each for a handshake timeout or more. A connection
     * accepted past the limit is refused before its credentials are checked, 503 {@code too many connections from
     * your address are still in their handshake; retry later} with {@code Retry-After} (a native call:
     * {@code UNAVAILABLE} with that description), and closed at the latest 2 s after its accept. The peer is the
     * TCP peer: connections from {@link #trustedProxies} are not counted (their clients are known only from their
     * requests; limit them at the proxy). Default: no limit.
     */
    public Builder maxHandshakesPerClient(int max) {
      this.maxHandshakesPerClient = checkPositive(max, "maxHandshakesPerClient");
      return this;
    }

    /**
     * The IPv6 prefix length that counts as one client for {@link #maxTunnelsPerClient}: every address in one /64
     * shares the limit, since a single host or subscriber usually gets a whole /64 and could otherwise take every
     * slot with addresses of its own. 128 counts each address alone. IPv4 clients count by address (/32).
     * Default: {@value #DEFAULT_IPV6_CLIENT_PREFIX}.
     */
    public Builder ipv6ClientPrefix(int prefixLength) {
      this.ipv6ClientPrefix = checkInRange(prefixLength, 1, 128, "ipv6ClientPrefix");
      return this;
    }

    /**
     * Lets pages of any origin open tunnels, and use credentials their browser sends by itself. With no origins
     * listed ({@link #allowedOrigins} empty), a tunnel upgrade whose {@code Origin} is not the same site as its
     * {@code Host} gets 403: otherwise any page the user visits could open a tunnel from the user's browser, and
     * call this server's services with what the user's network position or credentials grant (cross-site WebSocket
     * hijacking). Browser calls for any origin ({@link BrowserOptions} of {@code *}) get the same 403 when the
     * connection carries a credential a browser attaches by itself to a request from any page: a TLS client
     * certificate (mutual TLS), or what an authenticator that
     * {@linkplain TunnelAuthenticator#readsAmbientCredentials() reads ambient credentials} reads (cookies). Listing
     * the allowed origins is the better fix; this turns both checks off. Requests without {@code Origin}
     * (non-browser clients) are never affected. Default: false, refused.
     */
    public Builder crossSiteCredentialsAllowed(boolean allowed) {
      this.crossSiteCredentialsAllowed = allowed;
      return this;
    }

    /** Returns the policy. */
    public AccessPolicy build() {
      return new AccessPolicy(this);
    }
  }
}
