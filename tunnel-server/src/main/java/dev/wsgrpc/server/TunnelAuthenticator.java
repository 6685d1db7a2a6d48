package dev.wsgrpc.server;

import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * Decides, from the upgrade request alone and before the 101, who a tunnel belongs to, or refuses it (401 or 403).
 * The principal then reaches every call in the tunnel ({@link TunnelPrincipal}). Per-call gRPC credentials inside
 * the tunnel keep working as usual on top.
 *
 * <p>Called on the connection's event loop: it must be quick and must not block (look tokens up in memory).
 */
@FunctionalInterface
public interface TunnelAuthenticator {

  /**
   * Admits clients that presented a TLS certificate the server verified (mutual TLS: a server context that requires
   * client certificates from a trusted CA); the principal is the certificate's subject, an
   * {@link javax.security.auth.x500.X500Principal}.
   */
  TunnelAuthenticator CLIENT_CERTIFICATE = new TunnelAuthenticator() {
    @Override
    public AuthDecision authenticate(UpgradeRequest request) {
      if (request.sslSession() == null) {
        return AuthDecision.forbidden("expected a TLS client certificate but the connection is not TLS");
      }
      try {
        Certificate[] chain = request.sslSession().getPeerCertificates();
        return AuthDecision.accept(((X509Certificate) chain[0]).getSubjectX500Principal());
      } catch (SSLPeerUnverifiedException e) {
        return AuthDecision.forbidden("expected a TLS client certificate but none was presented");
      }
    }

    @Override
    public boolean readsAmbientCredentials() {
      return true;
    }

    @Override
    public String toString() {
      return "CLIENT_CERTIFICATE";
    }
  };

  /** Returns the decision for {@code request}. */
  AuthDecision authenticate(UpgradeRequest request);

  /**
   * Whether this authenticator reads credentials a browser sends by itself with a request from any web page:
   * cookies, HTTP authentication it remembers, the TLS client certificate. Then browser calls for any origin
   * ({@link BrowserOptions} of {@code *}) from pages of other sites are refused too, as tunnels from them always are
   * unless their origins are listed ({@link AccessPolicy.Builder#crossSiteCredentialsAllowed(boolean)}). Bearer
   * tokens are not ambient: a page's script must add them. Default: false; {@link #CLIENT_CERTIFICATE}: true.
   */
  default boolean readsAmbientCredentials() {
    return false;
  }

  /**
   * Whether this authenticator reads credentials from the upgrade's query ({@link UpgradeRequest#query()}), where
   * pages that cannot set a WebSocket's headers often put a token. Then a {@code wsgrpc-json} upgrade with a query is
   * asked about before its first message, as one with an {@code Authorization} header is, and once admitted its first
   * message may be as large as any (otherwise it is held to the request-header limit until the call is admitted). As
   * for a header, a first message that brings metadata has the authenticator asked again, with it: a one-time ticket
   * in the URL suits calls whose first message has none. Default: false (a query is not asked about).
   */
  default boolean readsQueryCredentials() {
    return false;
  }
}
