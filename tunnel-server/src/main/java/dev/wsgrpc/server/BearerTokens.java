package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.FramePipeline;
import dev.wsgrpc.core.internal.Preconditions;
import io.grpc.Status;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link TunnelAuthenticator} for bearer tokens, presented either as {@code Authorization: Bearer <token>} or,
 * by clients that cannot set headers (browsers), as a subprotocol {@code bearer.<token>} offered next to
 * {@code wsgrpc.v1}. A token offered as a subprotocol is never echoed back. Tokens are compared by their SHA-256
 * digests, so lookups take the same time whatever the token's content; no token ever reaches a log or an answer.
 *
 * <p>Tokens that change ({@link #from}) are revocable: when a token disappears from the map, or names another
 * principal, every tunnel it opened is closed with WebSocket close 1008 (Policy Violation), every native gRPC call
 * it admitted (h2c or h2 on the same port, {@link TunnelPrincipal#interceptor()}) that is still in flight ends with
 * {@code UNAUTHENTICATED} "the bearer token was revoked" (its handler sees it cancelled; other calls of the same
 * connection go on), and new upgrades and calls with it get 401 ({@code UNAUTHENTICATED}). The change is noticed at
 * the next upgrade or call, or at once with {@link #refresh()}. A new map is hashed by one thread outside the lock:
 * upgrades and calls meanwhile are checked against the tokens before it (so a token it adds is valid once its table is
 * in place), and what they admit with a token the new map lacks is ended then.
 */
public final class BearerTokens implements TunnelAuthenticator {

  /** The prefix of subprotocols that carry a token. */
  public static final String SUBPROTOCOL_PREFIX = "bearer.";
  /** The reason of close 1008 to a tunnel, and of {@code UNAUTHENTICATED} to a call, whose token was revoked. */
  static final String REVOKED_REASON = "the bearer token was revoked";

  private static final Logger logger = LoggerFactory.getLogger(BearerTokens.class);

  private final Supplier<Map<String, String>> tokens;
  /** The supplier's map the table was made from, and the table: token digest to principal. */
  private Map<String, String> hashedFrom;
  private Map<String, String> hashed = new HashMap<>();
  /** The map being hashed by a thread, outside the lock; the others use the table before it meanwhile. */
  private Map<String, String> building;
  /** Counts the maps whose hashing began; a table is installed only over an older one. */
  private long builds;
  private long installedBuild;
  /** Open tunnels (and upgrades about to become one) by the digest and principal that admitted them. */
  private final Map<Channel, Admitted> admitted = new ConcurrentHashMap<>();
  /** Native calls in flight by the digest and principal that admitted them; each forgotten when it ends. */
  private final Map<Revocable, Admitted> calls = new ConcurrentHashMap<>();

  private BearerTokens(Supplier<Map<String, String>> tokens) {
    this.tokens = tokens;
  }

  /** Tokens that never change: token to principal name. */
  public static BearerTokens of(Map<String, String> tokenToPrincipal) {
    Map<String, String> copy = new HashMap<>(Preconditions.checkNotNull(tokenToPrincipal, "tokenToPrincipal"));
    return new BearerTokens(() -> copy);
  }

  /**
   * Tokens that may change (a file re-read when it changes): asked at each upgrade, so it must be quick. Returns the
   * same map instance until the tokens change.
   */
  public static BearerTokens from(Supplier<Map<String, String>> tokenToPrincipal) {
    return new BearerTokens(Preconditions.checkNotNull(tokenToPrincipal, "tokenToPrincipal"));
  }

  @Override
  public AuthDecision authenticate(UpgradeRequest request) {
    String token = presented(request);
    if (token == null) {
      return AuthDecision.unauthorized(
          "expected a bearer token in Authorization or a " + SUBPROTOCOL_PREFIX + "<token> subprotocol");
    }
    String digest = digest(token);
    String principal = table().get(digest);
    if (principal == null) {
      return invalidToken();
    }
    Revocable call = request.call();
    if (call != null) {
      calls.put(call, new Admitted(digest, principal));
      call.whenEnded(() -> calls.remove(call));
      // A revocation between the lookup and the put would have missed this call: look again.
      synchronized (this) {
        if (!principal.equals(hashed.get(digest))) {
          calls.remove(call);
          return invalidToken();
        }
      }
    }
    Channel channel = request.channel();
    if (channel != null) {
      // One listener per connection: a browser's kept-alive connection is authenticated again at each request.
      if (admitted.put(channel, new Admitted(digest, principal)) == null) {
        channel.closeFuture().addListener(f -> admitted.remove(channel));
      }
      // A revocation between the lookup and the put would have missed this channel: look again.
      synchronized (this) {
        if (!principal.equals(hashed.get(digest))) {
          admitted.remove(channel);
          return invalidToken();
        }
      }
    }
    return AuthDecision.accept(principal);
  }

  /**
   * Reads the tokens now and closes, with WebSocket close 1008 (Policy Violation), every open tunnel admitted with a
   * token that is no longer valid or now names another principal, and ends every native gRPC call in flight admitted
   * with such a token ({@code UNAUTHENTICATED}, "the bearer token was revoked"). Call it when the tokens have changed
   * (the gateway does after each reload of its token file); otherwise the next upgrade or call notices the change.
   * Thread-safe: a tunnel's close happens on its event loop; a call is ended on the calling thread (grpc-java queues
   * its close on the transport), and its context's cancellation listeners run there, so they must not block.
   *
   * @return how many tunnels and native calls are being ended (not counting those that an upgrade or call checking
   *     the same new tokens at the same moment ended)
   */
  public int refresh() {
    return revokeIfChanged(true);
  }

  private static AuthDecision invalidToken() {
    return AuthDecision.unauthorized("Bearer realm=\"wsgrpc\", error=\"invalid_token\"", "the bearer token is not valid");
  }

  private static String presented(UpgradeRequest request) {
    String authorization = request.header("Authorization");
    if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return authorization.substring(7).trim();
    }
    for (String offered : request.offeredSubprotocols()) {
      if (offered.toLowerCase(Locale.ROOT).startsWith(SUBPROTOCOL_PREFIX)) {
        return offered.substring(SUBPROTOCOL_PREFIX.length());
      }
    }
    return null;
  }

  /** The digest table, rebuilt when the supplier hands out a new map (closing the tunnels of revoked tokens). */
  private Map<String, String> table() {
    revokeIfChanged(false);
    synchronized (this) {
      return hashed;
    }
  }

  /**
   * Rebuilds the table if the supplier hands out a new map; then closes tunnels whose token no longer admits them.
   * The tokens are hashed outside the lock, so a reload of many tokens holds up no upgrade or call on another event
   * loop: while one thread hashes a map, the others go on with the table before it (a token the reload adds is not
   * valid until its table is in place), except before the first table, when each hashes for itself; {@code always}:
   * hash it here too, for {@link #refresh}. What was admitted meanwhile with a token the new map lacks is ended with
   * the rest once the new table is in place (by whichever thread installs it).
   */
  private int revokeIfChanged(boolean always) {
    Map<String, String> current;
    long build;
    synchronized (this) {
      current = tokens.get();
      // Without a table yet (the first requests after a start), each thread hashes for itself rather than refuse
      // every token while another one hashes.
      if (current == hashedFrom || (current == building && !always && hashedFrom != null)) {
        return 0;
      }
      building = current;
      build = ++builds;
    }
    Map<String, String> fresh = new HashMap<>();
    try {
      for (Map.Entry<String, String> e : current.entrySet()) {
        fresh.put(digest(e.getKey()), e.getValue());
      }
    } finally {
      synchronized (this) {
        if (building == current) {
          building = null; // also when hashing failed: the next request tries again
        }
      }
    }
    Map<String, String> table;
    synchronized (this) {
      if (build < installedBuild || current == hashedFrom) {
        return 0; // a newer map's table, or this one's, is in place already
      }
      hashed = fresh;
      hashedFrom = current;
      installedBuild = build;
      table = fresh;
    }
    int closed = 0;
    // One failure (an event loop shutting down, say) must not spare the entries after it.
    RuntimeException failure = null;
    for (Map.Entry<Channel, Admitted> e : admitted.entrySet()) {
      if (!e.getValue().principal.equals(table.get(e.getValue().digest)) && admitted.remove(e.getKey()) != null) {
        try {
          closeRevoked(e.getKey());
        } catch (RuntimeException ex) {
          failure = ex;
        }
        closed++;
      }
    }
    if (closed > 0) {
      logger.info("Ending {} tunnel(s) and browser connection(s) opened with bearer tokens that are no longer valid",
          closed);
    }
    int ended = 0;
    for (Map.Entry<Revocable, Admitted> e : calls.entrySet()) {
      if (!e.getValue().principal.equals(table.get(e.getValue().digest)) && calls.remove(e.getKey()) != null) {
        try {
          e.getKey().revoke(REVOKED_REASON);
        } catch (RuntimeException ex) {
          failure = ex;
        }
        ended++;
      }
    }
    if (failure != null) {
      logger.warn("Ending a tunnel or call of a revoked bearer token failed (the others were ended): {}",
          failure.toString());
    }
    if (ended > 0) {
      logger.info("Ending {} native gRPC call(s) admitted with bearer tokens that are no longer valid "
          + "(UNAUTHENTICATED)", ended);
    }
    return closed + ended;
  }

  /**
   * Ends what a revoked token admitted on {@code channel}: a tunnel with close 1008; a browser call over a WebSocket
   * of its own (grpc-websockets, wsgrpc-json) as a native call ends (its handler cancelled, the client told
   * {@code UNAUTHENTICATED} with {@link #REVOKED_REASON} in its protocol's status, then Close 1000); a gRPC-Web
   * connection over HTTP/1.1 is closed at once, its call in flight cancelled; anything else is closed.
   */
  private static void closeRevoked(Channel channel) {
    channel.eventLoop().execute(() -> {
      if (!channel.isActive()) {
        channel.close();
        return;
      }
      ChannelHandlerContext frames = channel.pipeline().context(FramePipeline.BYTE_STREAM);
      if (frames != null) {
        frames.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.POLICY_VIOLATION.code(), REVOKED_REASON))
            .addListener(ChannelFutureListener.CLOSE);
        return;
      }
      WebSocketCallTranslator browserCall = channel.pipeline().get(WebSocketCallTranslator.class);
      if (browserCall != null) {
        browserCall.fail(Status.UNAUTHENTICATED.withDescription(REVOKED_REASON)); // its handler cancelled; Close 1000
        return;
      }
      GrpcWebTranslator grpcWeb = channel.pipeline().get(GrpcWebTranslator.class);
      if (grpcWeb != null) {
        grpcWeb.closeRevoked(); // toward the socket: the call in flight is cancelled, not waited for
        return;
      }
      channel.close();
    });
  }

  /** How many native calls are kept for revocation: those in flight admitted here (for tests). */
  int callsInFlight() {
    return calls.size();
  }

  /** What admitted a tunnel or a call: the token's digest and the principal it named then. */
  private static final class Admitted {
    final String digest;
    final String principal;

    Admitted(String digest, String principal) {
      this.digest = digest;
      this.principal = principal;
    }
  }

  private static String digest(String token) {
    try {
      return Base64.getEncoder().encodeToString(
          MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /** Whether {@code subprotocol} carries a credential (and so is never chosen or echoed). */
  static boolean isCredential(String subprotocol) {
    return subprotocol.toLowerCase(Locale.ROOT).startsWith(SUBPROTOCOL_PREFIX);
  }
}
