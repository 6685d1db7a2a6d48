package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.Preconditions;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A {@link TunnelAuthenticator} for bearer tokens, presented either as {@code Authorization: Bearer <token>} or,
 * by clients that cannot set headers (browsers), as a subprotocol {@code bearer.<token>} offered next to
 * {@code wsgrpc.v1}. A token offered as a subprotocol is never echoed back. Tokens are compared by their SHA-256
 * digests, so lookups take the same time whatever the token's content; no token ever reaches a log or an answer.
 */
public final class BearerTokens implements TunnelAuthenticator {

  /** The prefix of subprotocols that carry a token. */
  public static final String SUBPROTOCOL_PREFIX = "bearer.";

  private final Supplier<Map<String, String>> tokens;
  private Map<String, String> hashedFrom;
  private Map<String, String> hashed = new HashMap<>();

  private BearerTokens(Supplier<Map<String, String>> tokens) {
    this.tokens = tokens;
  }

  /** Tokens that never change: token to principal name. */
  public static BearerTokens of(Map<String, String> tokenToPrincipal) {
    Map<String, String> copy = new HashMap<>(Preconditions.checkNotNull(tokenToPrincipal, "tokenToPrincipal"));
    return new BearerTokens(() -> copy);
  }

  /**
   * Tokens that may change (a file re-read when it changes): asked at each upgrade, so it must be quick. Returns the
   * same map instance until the tokens change.
   */
  public static BearerTokens from(Supplier<Map<String, String>> tokenToPrincipal) {
    return new BearerTokens(Preconditions.checkNotNull(tokenToPrincipal, "tokenToPrincipal"));
  }

  @Override
  public AuthDecision authenticate(UpgradeRequest request) {
    String token = presented(request);
    if (token == null) {
      return AuthDecision.unauthorized(
          "expected a bearer token in Authorization or a " + SUBPROTOCOL_PREFIX + "<token> subprotocol");
    }
    String principal = table().get(digest(token));
    return principal == null
        ? AuthDecision.unauthorized("Bearer realm=\"wsgrpc\", error=\"invalid_token\"", "the bearer token is not valid")
        : AuthDecision.accept(principal);
  }

  private static String presented(UpgradeRequest request) {
    String authorization = request.header("Authorization");
    if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return authorization.substring(7).trim();
    }
    for (String offered : request.offeredSubprotocols()) {
      if (offered.toLowerCase(Locale.ROOT).startsWith(SUBPROTOCOL_PREFIX)) {
        return offered.substring(SUBPROTOCOL_PREFIX.length());
      }
    }
    return null;
  }

  /** The digest table, rebuilt when the supplier hands out a new map. */
  private synchronized Map<String, String> table() {
    Map<String, String> current = tokens.get();
    if (current != hashedFrom) {
      Map<String, String> fresh = new HashMap<>();
      for (Map.Entry<String, String> e : current.entrySet()) {
        fresh.put(digest(e.getKey()), e.getValue());
      }
      hashed = fresh;
      hashedFrom = current;
    }
    return hashed;
  }

  private static String digest(String token) {
    try {
      return Base64.getEncoder().encodeToString(
          MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /** Whether {@code subprotocol} carries a credential (and so is never chosen or echoed). */
  static boolean isCredential(String subprotocol) {
    return subprotocol.toLowerCase(Locale.ROOT).startsWith(SUBPROTOCOL_PREFIX);
  }
}
