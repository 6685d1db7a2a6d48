package dev.wsgrpc.server;

/**
 * What an authenticator of this package ({@link BearerTokens}) may keep of a native gRPC call it admitted, to end it
 * when its credentials are revoked ({@link UpgradeRequest#call()}); implemented by {@link RevocableCall}. Not an SPI.
 */
interface Revocable {

  /** Ends the call with {@code UNAUTHENTICATED} and {@code reason}, unless it has ended already. Any thread. */
  void revoke(String reason);

  /** Runs {@code action} once, when the call ends (closed, cancelled or revoked), or now if it has ended. */
  void whenEnded(Runnable action);
}
