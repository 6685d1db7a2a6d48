package dev.wsgrpc.server;

/**
 * Why an upgrade request was refused before the 101: what {@link TunnelListener#upgradeRejected} reports, and the
 * {@linkplain #label() label} of the gateway's {@code wsgrpc_handshake_failures_total{reason=...}} metric and logs.
 * The labels are stable: dashboards and alerts select on them.
 */
public enum RejectReason {
  /** 404: no WebSocket endpoint at the path (and no plain HTTP handler answered). Label {@code not_found}. */
  NOT_FOUND("not_found"),
  /** 405: not GET. Label {@code method}. */
  METHOD("method"),
  /** 400: missing or malformed WebSocket headers, not HTTP/1.1, a body, a second request. Label {@code bad_request}. */
  BAD_REQUEST("bad_request"),
  /**
   * 415: a gRPC-Web request in another format than protobuf's (e.g. {@code application/grpc-web+json}). Label
   * {@code media_type}.
   */
  MEDIA_TYPE("media_type"),
  /** 426: another WebSocket version than 13. Label {@code version}. */
  VERSION("version"),
  /** 400: the client offered subprotocols, none of them ours. Label {@code subprotocol}. */
  SUBPROTOCOL("subprotocol"),
  /** 408: the request was not complete within the handshake timeout. Label {@code timeout}; a limit. */
  TIMEOUT("timeout", true),
  /** 414 or 431: the request line or headers exceed their limit. Label {@code too_large}; a limit. */
  TOO_LARGE("too_large", true),
  /** 403: an Origin outside the allowed origins. Label {@code origin}. */
  ORIGIN("origin"),
  /** 401: the authenticator wants (other) credentials. Label {@code unauthorized}. */
  UNAUTHORIZED("unauthorized"),
  /** 403: the authenticator refused the credentials. Label {@code forbidden}. */
  FORBIDDEN("forbidden"),
  /**
   * 500 (UNKNOWN for a call, as gRPC maps a 500): the authenticator threw or returned no decision, the server's fault
   * rather than the client's. Label {@code authenticator}.
   */
  AUTHENTICATOR("authenticator"),
  /** The {@link TunnelAdmission} refused (e.g. 503 while draining). Label {@code rejected}. */
  REJECTED("rejected"),
  /** 503: the most tunnels open at once. Label {@code too_many_tunnels}; a limit. */
  TOO_MANY_TUNNELS("too_many_tunnels", true),
  /** 503: the most tunnels open at once from one client address. Label {@code too_many_tunnels_per_client}; a limit. */
  TOO_MANY_TUNNELS_PER_CLIENT("too_many_tunnels_per_client", true),
  /**
   * 503 (a native call: {@code UNAVAILABLE}): the connection was accepted while its peer's address had the most
   * connections still in their handshake ({@link AccessPolicy#maxHandshakesPerClient()}); reported with status 0
   * when it closed before its request or call. Label {@code too_many_handshakes_per_client}; a limit.
   */
  TOO_MANY_HANDSHAKES_PER_CLIENT("too_many_handshakes_per_client", true),
  /**
   * No HTTP status (reported as 0): the TLS handshake failed (not TLS at all, no common protocol or cipher, the client
   * refused our certificate or sent none that mutual TLS accepts) or did not finish within the handshake timeout.
   * Label {@code tls}. For a connection past {@link AccessPolicy#maxHandshakesPerClient()}:
   * {@link #TOO_MANY_HANDSHAKES_PER_CLIENT} instead.
   */
  TLS("tls");

  private final String label;
  private final boolean limit;

  RejectReason(String label) {
    this(label, false);
  }

  RejectReason(String label, boolean limit) {
    this.label = label;
    this.limit = limit;
  }

  /** The metric label value and log word, e.g. {@code too_many_tunnels}. */
  public String label() {
    return label;
  }

  /** Whether a configured limit refused: an operator may want to raise it, or to know who hits it. */
  public boolean isLimit() {
    return limit;
  }

  @Override
  public String toString() {
    return label;
  }
}
