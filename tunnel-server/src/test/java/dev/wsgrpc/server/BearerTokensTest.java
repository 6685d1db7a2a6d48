package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class BearerTokensTest {

  private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.1", 5000);
  private final BearerTokens tokens = BearerTokens.of(Map.of("t0k3n-alice", "alice", "t0k3n-bob", "bob"));

  private static UpgradeRequest request(HttpHeaders headers, List<String> subprotocols) {
    return new UpgradeRequest("/grpc", null, headers, CLIENT, CLIENT, null, subprotocols);
  }

  private static HttpHeaders authorization(String value) {
    return new DefaultHttpHeaders().add("Authorization", value);
  }

  @Test
  void authorizationBearerNamesThePrincipal() {
    AuthDecision d = tokens.authenticate(request(authorization("Bearer t0k3n-alice"), Collections.emptyList()));
    assertTrue(d.accepted());
    assertEquals("alice", d.principal());
    assertEquals("bob", tokens.authenticate(request(authorization("bearer t0k3n-bob"), List.of())).principal());
  }

  @Test
  void tokenOfferedAsSubprotocolWorksForClientsThatCannotSetHeaders() {
    AuthDecision d = tokens.authenticate(request(new DefaultHttpHeaders(),
        Arrays.asList("wsgrpc.v1", "bearer.t0k3n-bob")));
    assertEquals("bob", d.principal());
    assertTrue(BearerTokens.isCredential("bearer.x"));
    assertTrue(BearerTokens.isCredential("Bearer.x"));
    assertFalse(BearerTokens.isCredential("wsgrpc.v1"));
  }

  @Test
  void missingTokenIs401SayingWhatWasExpected() {
    AuthDecision d = tokens.authenticate(request(new DefaultHttpHeaders(), List.of("wsgrpc.v1")));
    assertFalse(d.accepted());
    assertNull(d.principal());
    assertEquals(401, d.status());
    assertEquals("Bearer realm=\"wsgrpc\"", d.challenge());
    assertEquals("expected a bearer token in Authorization or a bearer.<token> subprotocol", d.reason());
  }

  @Test
  void wrongTokenIs401WithoutRepeatingIt() {
    AuthDecision d = tokens.authenticate(request(authorization("Bearer guess"), List.of()));
    assertEquals(401, d.status());
    assertEquals("Bearer realm=\"wsgrpc\", error=\"invalid_token\"", d.challenge());
    assertFalse(d.reason().contains("guess"));
    assertFalse(d.challenge().contains("guess"));
  }

  @Test
  void otherSchemesAreNotBearerTokens() {
    assertEquals(401, tokens.authenticate(request(authorization("Basic YWxpY2U6eA=="), List.of())).status());
  }

  @Test
  void changedTokensApplyToTheNextUpgrade() {
    AtomicReference<Map<String, String>> current = new AtomicReference<>(Map.of("old", "carol"));
    BearerTokens reloading = BearerTokens.from(current::get);
    assertEquals("carol", reloading.authenticate(request(authorization("Bearer old"), List.of())).principal());
    Map<String, String> next = new HashMap<>();
    next.put("new", "dave");
    current.set(next);
    assertEquals(401, reloading.authenticate(request(authorization("Bearer old"), List.of())).status());
    assertEquals("dave", reloading.authenticate(request(authorization("Bearer new"), List.of())).principal());
  }

  @Test
  void clientCertificateAuthenticatorRefusesPlainConnections() {
    AuthDecision d = TunnelAuthenticator.CLIENT_CERTIFICATE.authenticate(request(new DefaultHttpHeaders(), List.of()));
    assertEquals(403, d.status());
    assertEquals("expected a TLS client certificate but the connection is not TLS", d.reason());
  }

  @Test
  void upgradeRequestToStringShowsHeaderNamesOnly() {
    String s = request(authorization("Bearer t0k3n-alice"), List.of()).toString();
    assertTrue(s.contains("Authorization"), s);
    assertFalse(s.contains("t0k3n"), s);
  }
}
