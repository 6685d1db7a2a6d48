package dev.wsgrpc.examples.auth;

import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.AuthDecision;
import dev.wsgrpc.server.BearerTokens;
import dev.wsgrpc.server.TunnelAuthenticator;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A server that checks callers twice: a bearer token on the WebSocket upgrade (who may open a tunnel) and an API
 * key on every call (which application is calling). Clients dial {@code ws://localhost:PORT/grpc}.
 *
 * <p>Usage: {@code AuthServer [port]} (default 8080; 0 picks a free port). It prints the URL and the demo
 * credentials, then serves until interrupted.
 */
public final class AuthServer {

  /**
   * Demo credentials: bearer token to principal. A real server loads them from a secret store; with
   * {@code BearerTokens.from(supplier)} it picks up new and revoked tokens without a restart.
   */
  static final Map<String, String> TOKENS = Map.of("alice-token-3f9a", "alice", "bob-token-77c1", "bob");
  /** Principals whose token is valid but who may not open tunnels. */
  static final Set<String> SUSPENDED = Set.of("bob");
  /** Demo API keys: key to application name. */
  static final Map<String, String> API_KEYS = Map.of("billing-key-5e2d", "billing-app");

  /** Starts the server on {@code port} (0 for a free one) with the demo credentials. */
  public static Server start(int port) throws IOException {
    WebSocketServerOptions options = WebSocketServerOptions.newBuilder()
        .access(AccessPolicy.newBuilder().authenticator(suspending(BearerTokens.of(TOKENS), SUSPENDED)).build())
        .build();
    return WebSocketServers.newServerBuilder(port, options)
        // The interceptor wraps this service only; services that need no API key are added without it.
        .addService(ServerInterceptors.intercept(new IdentityService(), new ApiKeyInterceptor(API_KEYS)))
        .build()
        .start();
  }

  /**
   * Bearer tokens, and 403 for suspended principals: a {@link TunnelAuthenticator} is one function, so adding a
   * rule is wrapping one. It runs on the connection's event loop before the 101, so it only looks at memory.
   *
   * <ul>
   *   <li>no token, or one that is not valid: 401 with {@code WWW-Authenticate: Bearer} (from {@link BearerTokens});
   *   <li>a valid token of a suspended principal: 403;
   *   <li>otherwise the tunnel opens, and every call in it sees the principal ({@code TunnelPrincipal.current()}).
   * </ul>
   */
  static TunnelAuthenticator suspending(TunnelAuthenticator tokens, Set<String> suspended) {
    return request -> {
      AuthDecision decision = tokens.authenticate(request);
      if (decision.accepted() && suspended.contains(decision.principal())) {
        // The reason goes to the client in the 403's body: name the rule, never a secret.
        return AuthDecision.forbidden(decision.principal() + " is suspended");
      }
      return decision;
    };
  }

  public static void main(String[] args) throws Exception {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : 8080;
    Server server = start(port);
    int bound = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    System.out.println("AuthServer listening on ws://localhost:" + bound + "/grpc");
    System.out.println("bearer tokens: alice-token-3f9a (alice), bob-token-77c1 (bob, suspended); "
        + "API key: billing-key-5e2d (billing-app)");
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.shutdown();
      try {
        server.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }));
    server.awaitTermination();
  }

  private AuthServer() {}
}
