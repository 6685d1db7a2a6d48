package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.RateLimitedLog;
import org.slf4j.LoggerFactory;

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

  /** A caller the authenticator admitted, refused by a limit after it: {@code status} (503) with the limit's text. */
  static AuthDecision refused(int status, String reason) {
    return new AuthDecision(null, status, null, Preconditions.checkNotNull(reason, "reason"));
  }

  /** The status of the refusal answered when the authenticator throws or returns null: the server's fault. */
  static final int AUTHENTICATOR_FAILED = 500;

  private static final RateLimitedLog FAILURES =
      new RateLimitedLog(LoggerFactory.getLogger(TunnelAuthenticator.class), RateLimitedLog.Level.WARN);

  /**
   * Asks {@code authenticator} about {@code request}, the one way the server asks: its decision, or a
   * {@value #AUTHENTICATOR_FAILED} refusal when it throws or returns null (for a call UNKNOWN, as gRPC maps a 500),
   * logged at most a few times a minute with the exception's class but not its message, which may quote the
   * credentials.
   */
  static AuthDecision ask(TunnelAuthenticator authenticator, UpgradeRequest request) {
    AuthDecision decision;
    try {
      decision = authenticator.authenticate(request);
    } catch (RuntimeException e) {
      FAILURES.log("The authenticator {} threw {} for a request from {}: answered {}", authenticator.getClass()
          .getName(), e.getClass().getName(), request.clientAddress(), AUTHENTICATOR_FAILED);
      return failed();
    }
    if (decision == null) {
      FAILURES.log("The authenticator {} returned no decision for a request from {}: answered {}",
          authenticator.getClass().getName(), request.clientAddress(), AUTHENTICATOR_FAILED);
      return failed();
    }
    return decision;
  }

  private static AuthDecision failed() {
    return new AuthDecision(null, AUTHENTICATOR_FAILED, null,
        "the server could not check the credentials: its authenticator failed");
  }

  /** Why a refusal is reported ({@link TunnelListener#upgradeRejected}): by its status. */
  RejectReason rejectReason() {
    switch (status) {
      case 400:
        return RejectReason.BAD_REQUEST;
      case 401:
        return RejectReason.UNAUTHORIZED;
      case AUTHENTICATOR_FAILED:
        return RejectReason.AUTHENTICATOR;
      default:
        return RejectReason.FORBIDDEN;
    }
  }

  /** Whether the tunnel is admitted. */
  public boolean accepted() {
    return principal != null;
  }

  /** The principal of an admitted tunnel, else {@code null}. */
  public Object principal() {
    return principal;
  }

  /**
   * 401 or 403 for an authenticator's refusal; 400 and 500 for the server's own (a request it does not ask about, an
   * authenticator that failed).
   */
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
