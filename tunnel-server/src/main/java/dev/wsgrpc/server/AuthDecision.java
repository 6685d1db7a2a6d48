package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.Preconditions;

/** What a {@link TunnelAuthenticator} decided: a principal, or the HTTP refusal to answer before any 101. */
public final class AuthDecision {

  private final Object principal;
  private final int status;
  private final String challenge;
  private final String reason;

  private AuthDecision(Object principal, int status, String challenge, String reason) {
    this.principal = principal;
    this.status = status;
    this.challenge = challenge;
    this.reason = reason;
  }

  /**
   * Admits the tunnel. Services see {@code principal} through {@link TunnelPrincipal}: as
   * {@code TunnelPrincipal.current()} and as the call attribute {@link TunnelPrincipal#ATTRIBUTE}.
   */
  public static AuthDecision accept(Object principal) {
    return new AuthDecision(Preconditions.checkNotNull(principal, "principal"), 101, null, null);
  }

  /** Refuses with 401 and {@code WWW-Authenticate: Bearer realm="wsgrpc"}: credentials missing or not valid. */
  public static AuthDecision unauthorized(String reason) {
    return unauthorized("Bearer realm=\"wsgrpc\"", reason);
  }

  /** Refuses with 401 and the given {@code WWW-Authenticate} challenge. */
  public static AuthDecision unauthorized(String challenge, String reason) {
    return new AuthDecision(null, 401, Preconditions.checkNotNull(challenge, "challenge"),
        Preconditions.checkNotNull(reason, "reason"));
  }

  /** Refuses with 403: the credentials are valid but this client may not open a tunnel. */
  public static AuthDecision forbidden(String reason) {
    return new AuthDecision(null, 403, null, Preconditions.checkNotNull(reason, "reason"));
  }

  /**
   * Refuses with 400 a request the server does not put to the authenticator (two Authorization headers, say): the
   * server's own answer, never an authenticator's.
   */
  static AuthDecision badRequest(String reason) {
    return new AuthDecision(null, 400, null, Preconditions.checkNotNull(reason, "reason"));
  }

  /** Whether the tunnel is admitted. */
  public boolean accepted() {
    return principal != null;
  }

  /** The principal of an admitted tunnel, else {@code null}. */
  public Object principal() {
    return principal;
  }

  /** 401 or 403 for an authenticator's refusal. */
  public int status() {
    return status;
  }

  /** The {@code WWW-Authenticate} value of a 401, else {@code null}. */
  public String challenge() {
    return challenge;
  }

  /** Why the tunnel was refused (sent to the client: never put a secret here). */
  public String reason() {
    return reason;
  }
}
