package dev.wsgrpc.examples.auth;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.examples.auth.proto.IdentityGrpc;
import dev.wsgrpc.examples.auth.proto.WhoAmIReply;
import dev.wsgrpc.examples.auth.proto.WhoAmIRequest;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Asks {@link AuthServer} who we are, with a bearer token on the tunnel and an API key on the call, and prints the
 * answer or the error exactly as the client sees it.
 *
 * <p>Usage: {@code AuthClient [url] [token] [api-key]} (default {@code ws://localhost:8080/grpc}, the demo's
 * {@code alice-token-3f9a} and {@code billing-key-5e2d}); {@code -} for the token or key sends none.
 */
public final class AuthClient {

  /**
   * A channel whose tunnels carry {@code Authorization: Bearer <token>} in their upgrade request. The supplier is
   * asked at every connect, so a token refreshed in the meantime goes out with the next tunnel; it runs on the
   * event loop and must not block (return a token fetched elsewhere). A {@code null} token sends no header.
   */
  public static ManagedChannel newChannel(WebSocketClientOptions.Builder options, Supplier<String> token) {
    return WebSocketChannels.newChannelBuilder(options
            .headersSupplier(() -> {
              String current = token.get();
              return current == null ? Map.of() : Map.of("Authorization", "Bearer " + current);
            })
            .build())
        .build();
  }

  /**
   * Calls {@code WhoAmI} on {@code channel} with {@code apiKey} ({@code null} for none) and returns what the user
   * sees: who the server says we are, or the failed call's status.
   */
  public static String whoAmI(ManagedChannel channel, String apiKey) {
    IdentityGrpc.IdentityBlockingStub stub =
        IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    if (apiKey != null) {
      stub = stub.withCallCredentials(new ApiKeyCredentials(apiKey));
    }
    try {
      WhoAmIReply reply = stub.whoAmI(WhoAmIRequest.getDefaultInstance());
      return "tunnel opened by " + reply.getTunnelPrincipal() + "; call made by " + reply.getApiClient();
    } catch (StatusRuntimeException e) {
      // A refused upgrade is UNAVAILABLE (no tunnel, so no call): the description says what the server answered.
      // A refused call inside an open tunnel carries the server's own status, here UNAUTHENTICATED.
      return e.getStatus().getDescription() == null
          ? e.getStatus().getCode().toString()
          : e.getStatus().getCode() + ": " + e.getStatus().getDescription();
    }
  }

  public static void main(String[] args) throws Exception {
    String url = args.length > 0 ? args[0] : "ws://localhost:8080/grpc";
    String token = args.length > 1 ? args[1] : "alice-token-3f9a";
    String apiKey = args.length > 2 ? args[2] : "billing-key-5e2d";
    ManagedChannel channel =
        newChannel(WebSocketClientOptions.newBuilder(url), () -> token.equals("-") ? null : token);
    try {
      System.out.println(whoAmI(channel, apiKey.equals("-") ? null : apiKey));
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private AuthClient() {}
}
