package dev.wsgrpc.examples.auth;

import io.grpc.CallCredentials;
import io.grpc.Metadata;
import io.grpc.SecurityLevel;
import io.grpc.Status;
import java.util.concurrent.Executor;

/**
 * A per-call credential: puts an API key in each call's {@code x-api-key} metadata. Attach it to a stub with
 * {@code stub.withCallCredentials(new ApiKeyCredentials(key))}, or to a single call's options.
 *
 * <p>It refuses to send the key where others could read it: over {@code ws://} (no TLS) to anything but this
 * machine. The call then fails UNAUTHENTICATED without leaving the client.
 */
public final class ApiKeyCredentials extends CallCredentials {

  private static final Metadata.Key<String> API_KEY = Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER);

  private final String key;

  public ApiKeyCredentials(String key) {
    this.key = key;
  }

  @Override
  public void applyRequestMetadata(RequestInfo info, Executor appExecutor, MetadataApplier applier) {
    // Called for every call, on a transport thread: it must not block. A credential that needs I/O (fetching a
    // token) would do that work on appExecutor and call the applier from there.
    if (info.getSecurityLevel() != SecurityLevel.PRIVACY_AND_INTEGRITY && !isLoopback(info.getAuthority())) {
      applier.fail(Status.UNAUTHENTICATED.withDescription(
          "refusing to send the API key in clear text to " + info.getAuthority() + "; use wss://"));
      return;
    }
    Metadata headers = new Metadata();
    headers.put(API_KEY, key);
    applier.apply(headers);
  }

  /** Whether {@code authority} ({@code host:port}) names this machine, judging by the text alone (no DNS). */
  private static boolean isLoopback(String authority) {
    String host = authority.startsWith("[")
        ? authority.substring(1, authority.indexOf(']'))
        : authority.replaceFirst(":\\d+$", "");
    return host.equals("localhost") || host.startsWith("127.") || host.equals("::1");
  }
}
