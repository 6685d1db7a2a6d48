package dev.wsgrpc.examples.auth;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;

/**
 * The per-call check: every call must carry a known API key in its {@code x-api-key} metadata. The calling
 * application's name then travels with the call in {@link #API_CLIENT}; a call without a valid key ends with
 * UNAUTHENTICATED before the service sees it.
 *
 * <p>This is the second layer. The first, the bearer token on the upgrade, decided who may open the tunnel at all;
 * this one decides, call by call, which application inside it is calling. Each works without the other.
 */
final class ApiKeyInterceptor implements ServerInterceptor {

  static final Metadata.Key<String> API_KEY = Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER);

  /** The name of the application whose key the current call carries. */
  static final Context.Key<String> API_CLIENT = Context.key("api-client");

  private final Map<String, String> clientsByDigest = new HashMap<>();

  /** {@code keys}: API key to application name. */
  ApiKeyInterceptor(Map<String, String> keys) {
    // Keys are looked up by their SHA-256 digest, so the time a lookup takes says nothing about how close a guess
    // came, and the keys themselves need not stay in memory in this form.
    keys.forEach((key, client) -> clientsByDigest.put(digest(key), client));
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
      ServerCallHandler<ReqT, RespT> next) {
    String key = headers.get(API_KEY);
    String client = key == null ? null : clientsByDigest.get(digest(key));
    if (client == null) {
      // Never quote the key back: descriptions end up in client logs.
      call.close(Status.UNAUTHENTICATED.withDescription(
          key == null ? "expected an x-api-key header" : "the x-api-key is not valid"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return Contexts.interceptCall(Context.current().withValue(API_CLIENT, client), call, headers, next);
  }

  private static String digest(String key) {
    try {
      return HexFormat.of().formatHex(
          MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }
}
