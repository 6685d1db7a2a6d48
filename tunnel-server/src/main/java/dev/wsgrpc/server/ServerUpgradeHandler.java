package dev.wsgrpc.server;

import dev.wsgrpc.core.TunnelEstablishedEvent;
import dev.wsgrpc.core.internal.FramePipeline;
import dev.wsgrpc.core.internal.Http11Tokens;
import dev.wsgrpc.core.internal.Http2PrefaceCheck;
import dev.wsgrpc.core.internal.RateLimitedLog;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2FrameWriter;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameWriter;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The upgrade step on the server: reads one HTTP/1.1 request, answers it, and on success installs the frame
 * handlers ({@link FramePipeline}), announces a {@link TunnelEstablishedEvent} to the handler after it (gRPC's
 * handoff, or a gateway's relay), and removes itself and its HTTP codec. Bytes the client sent right after its
 * request then flow to whoever took over. With {@link WebSocketServerOptions#nativeGrpc()}, a connection that starts
 * with the HTTP/2 preface is announced as a {@link NativeHttp2Event} instead, once admitted as a tunnel is (the
 * {@link TunnelAdmission} and a slot of the tunnel limits, at its preface) and once its SETTINGS arrived within the
 * handshake timeout; else a {@link NativeCallRefuser} ends its first call with the reason (or, past the timeout,
 * GOAWAY NO_ERROR says why), and it is closed. (Its calls are authenticated one by one,
 * {@link NativeCallAuthenticator}, on servers that apply {@link TunnelPrincipal#interceptor()} to every call; on
 * others, with an authenticator, the connection is authenticated as a whole at its preface from what it shows without
 * headers, its TLS session and address, and refused unless accepted: fail closed, see
 * {@link WebSocketServerCredentials}.)
 *
 * <p>Plain requests for other paths go to the {@link PlainHttpHandler}, if any.
 *
 * <p>Anything but a valid upgrade on the configured path gets a plain-text answer that says what was expected, then
 * the connection is closed: 404 unknown path, 405 not GET, 400 missing or malformed WebSocket headers, 426 (with
 * {@code Sec-WebSocket-Version: 13}) another version, 400 a client offering only other subprotocols, 408 a request
 * not complete within the handshake timeout, 431/414 oversized headers or request line.
 */
final class ServerUpgradeHandler extends ChannelInboundHandlerAdapter {

  private static final Logger logger = LoggerFactory.getLogger(ServerUpgradeHandler.class);
  /** A handler that fails on a request fails again on the next: a few lines, then counts. */
  private static final RateLimitedLog HANDLER_FAILED = new RateLimitedLog(logger, RateLimitedLog.Level.WARN);
  /** Native connections refused because nothing checks their calls one by one: the operator's to fix. */
  private static final RateLimitedLog NATIVE_UNCHECKED = new RateLimitedLog(logger, RateLimitedLog.Level.WARN);
  /** The principal of a native connection authenticated as a whole, for {@link GrpcHandoffHandler}. */
  static final io.netty.util.AttributeKey<Object> NATIVE_PRINCIPAL =
      io.netty.util.AttributeKey.valueOf("wsgrpc.nativePrincipal");
  static final String HTTP_CODEC = "wsgrpc-http-codec";
  static final String PREFACE_DETECTOR = "wsgrpc-h2-preface-detector";
  static final String CORS = "wsgrpc-cors";

  private final WebSocketServerOptions options;
  private final TunnelCounter counter;
  /** Whether the server authenticates each native call ({@link TunnelPrincipal#interceptor()} on every call). */
  private final boolean nativeCallsChecked;
  private ScheduledFuture<?> timeout;
  private Http2PrefaceDetector prefaceDetector;
  private Object principal;
  private HttpResponse accept;
  private String subprotocol;
  private SocketAddress clientAddress;
  private boolean finished;
  /** A {@link PlainHttpHandler}'s answer is on its way: reads are dropped, and the answer is written when it comes. */
  private boolean plainPending;
  /** The request being read declared a body that has not ended yet: answering early means a lingering close. */
  private boolean bodyUnread;
  /** The browser protocol of the request being answered, or null for a tunnel's upgrade. */
  private BrowserProtocol browserProtocol;
  private String browserContentType;
  /** For a grpc-websockets call: its path and query, the upgrade's headers, its key, and a refusal to send. */
  private String callPath;
  private String callQuery;
  private HttpHeaders upgradeHeaders;
  private String webSocketKey;
  private io.grpc.Status webSocketRefusal;
  /**
   * The subprotocols the upgrade offered, for the authenticator ({@code bearer.<token>} among them: browsers cannot
   * set Authorization on a WebSocket); the 101 names only the protocol's own.
   */
  private List<String> offeredSubprotocols = List.of();
  /** A JSON call's upgrade alone was accepted by the authenticator ({@link #upgradeAdmits}): its decision. */
  private AuthDecision upgradeDecision;
  /** For a gRPC-Web connection on a server that checks every call: each request's identity, for its call. */
  private GrpcWebAdmissions grpcWebAdmissions;

  ServerUpgradeHandler(WebSocketServerOptions options, TunnelCounter counter, boolean nativeCallsChecked) {
    this.options = options;
    this.counter = counter;
    this.nativeCallsChecked = nativeCallsChecked;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    ctx.pipeline().addBefore(ctx.name(), HTTP_CODEC,
        new HttpServerCodec(options.maxRequestLineBytes(), options.maxRequestHeaderBytes(), 8192));
    FramePipeline.addFlushConsolidation(ctx.pipeline(), HTTP_CODEC);
    if (options.nativeGrpc()) {
      prefaceDetector = new Http2PrefaceDetector(() -> admitNative(ctx));
      ctx.pipeline().addBefore(HTTP_CODEC, PREFACE_DETECTOR, prefaceDetector);
    }
    if (options.browser() != null) {
      // Answers CORS preflights and lets pages read the answers; a tunnel's upgrade removes it.
      ctx.pipeline().addAfter(HTTP_CODEC, CORS, new CorsPreflightHandler(options.browser().cors()));
    }
    // From the start HandshakeBackstop marked (where there is one), so that this answer comes before its close.
    Long start = ctx.channel().attr(HandshakeBackstop.START).get();
    long now = ctx.executor().ticker().nanoTime();
    long left = options.settings().handshakeTimeout().toNanos() - (start != null ? now - start : 0);
    timeout = ctx.executor().schedule(() -> {
      long millis = options.settings().handshakeTimeout().toMillis();
      if (plainPending) {
        // The request came in time; its answer did not (the connection would close without a word at the deadline).
        reject(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, RejectReason.TIMEOUT,
            "expected the answer within " + millis + " ms but it was not ready");
      } else if (prefaceDetector != null && prefaceDetector.prefaceSeen()) {
        refuseNative(ctx, RejectReason.TIMEOUT, HttpResponseStatus.REQUEST_TIMEOUT.code(),
            "expected the HTTP/2 preface and SETTINGS within " + millis + " ms but SETTINGS did not arrive");
      } else {
        reject(ctx, HttpResponseStatus.REQUEST_TIMEOUT, RejectReason.TIMEOUT,
            "expected a complete upgrade request within " + millis + " ms");
      }
    }, Math.max(0, left), TimeUnit.NANOSECONDS);
  }

  /**
   * A native gRPC connection sent the whole HTTP/2 preface: refused at once if it was accepted past
   * {@link AccessPolicy#maxHandshakesPerClient()}, else admitted as a tunnel is (admission, so not while
   * draining, and a slot of the tunnel limits, given back when it closes), or refused with GOAWAY. Its SETTINGS must
   * still arrive within the handshake timeout. Where its calls are authenticated one by one, the slot comes with its
   * first accepted call ({@link NativeConnectionSlot}), as a tunnel's comes once its upgrade is authenticated.
   */
  private void admitNative(ChannelHandlerContext ctx) {
    clientAddress = ctx.channel().remoteAddress();
    if (TunnelCounter.pastHandshakeLimit(ctx.channel())) {
      RejectReason limit = RejectReason.TOO_MANY_HANDSHAKES_PER_CLIENT;
      refuseNative(ctx, limit, HttpResponseStatus.SERVICE_UNAVAILABLE.code(), TunnelCounter.refusal(limit));
      return;
    }
    InetAddress peer = clientAddress instanceof InetSocketAddress ? ((InetSocketAddress) clientAddress).getAddress()
        : null;
    // A trusted proxy's connection carries many clients, each named only in its calls: it counts in the total only.
    boolean viaProxy = peer != null && options.access().trustedProxies().contains(peer);
    TunnelAuthenticator authenticator = options.access().authenticator();
    if (authenticator != null && nativeCallsChecked) {
      Refusal refusal = admissionPolicy(null);
      if (refusal != null) {
        refuseNative(ctx, refusal.why, refusal.status, refusal.reason);
        return;
      }
      ctx.channel().attr(NativeConnectionSlot.ATTRIBUTE).set(new NativeConnectionSlot(ctx.channel(), counter,
          viaProxy ? null : clientAddress, clientAddress, options.listener(),
          options.settings().handshakeTimeout().toMillis()));
      return;
    }
    Refusal refusal = admission(ctx, null, !viaProxy);
    if (refusal != null) {
      refuseNative(ctx, refusal.why, refusal.status, refusal.reason);
      return;
    }
    if (authenticator != null) {
      authenticateNativeConnection(ctx, authenticator);
    }
  }

  /**
   * Fail closed where nothing authenticates native calls one by one: the connection is authenticated as a whole,
   * from what it shows without any header (TLS session, address), as a tunnel on the configured path with no
   * credentials in its request would be; refused unless the authenticator accepts that.
   */
  private void authenticateNativeConnection(ChannelHandlerContext ctx, TunnelAuthenticator authenticator) {
    AuthDecision decision = AuthDecision.ask(authenticator, new UpgradeRequest(options.path(), null,
        new io.netty.handler.codec.http.DefaultHttpHeaders(false), clientAddress, ctx.channel().remoteAddress(),
        sslSession(ctx), java.util.Collections.emptyList(), ctx.channel()));
    if (decision.accepted()) {
      ctx.channel().attr(NATIVE_PRINCIPAL).set(decision.principal());
      return;
    }
    NATIVE_UNCHECKED.log("Refused a native gRPC connection from {}: {}. This server authenticates native gRPC "
        + "connections only as a whole (it was not built with WebSocketServers, which checks each call's "
        + "metadata); build it with WebSocketServers.newServerBuilder(...), or turn native gRPC off",
        clientAddress, decision.reason());
    refuseNative(ctx, decision.rejectReason(),
        decision.status(), decision.reason() + "; native gRPC connections to this server are authenticated as a "
            + "whole, without headers: send the credentials through a WebSocket tunnel");
  }

  /**
   * Refuses a connection that sent the HTTP/2 preface. Refused by the admission or a limit, a
   * {@link NativeCallRefuser} takes over: its client's first call ends with the reason as gRPC status, then GOAWAY.
   * Past the handshake timeout: SETTINGS, then GOAWAY NO_ERROR whose debug data says why, then close.
   */
  private void refuseNative(ChannelHandlerContext ctx, RejectReason why, int status, String reason) {
    if (finished) {
      return;
    }
    finished = true;
    // A refused connection waits for its call only until the handshake deadline, as every connection does.
    long left = Math.max(0, timeout.getDelay(TimeUnit.MILLISECONDS));
    timeout.cancel(false);
    SocketAddress client = clientAddress != null ? clientAddress : ctx.channel().remoteAddress();
    logger.debug("Refused a native gRPC connection from {}: {} ({})", client, reason, why);
    TunnelCounter.reported(ctx.channel());
    options.listener().upgradeRejected(client, status, why);
    ChannelPipeline pipeline = ctx.pipeline();
    removeCors(pipeline);
    if (why != RejectReason.TIMEOUT) {
      pipeline.replace(HTTP_CODEC, NativeCallRefuser.NAME, new NativeCallRefuser(status, reason, left));
    } else {
      pipeline.remove(HTTP_CODEC);
      Http2FrameWriter frames = new DefaultHttp2FrameWriter();
      frames.writeSettings(ctx, new Http2Settings(), ctx.newPromise());
      ChannelPromise sent = ctx.newPromise();
      frames.writeGoAway(ctx, 0, Http2Error.NO_ERROR.code(), ByteBufUtil.writeUtf8(ctx.alloc(), reason), sent);
      ctx.flush();
      sent.addListener(ChannelFutureListener.CLOSE);
    }
    if (pipeline.get(PREFACE_DETECTOR) != null) {
      pipeline.remove(PREFACE_DETECTOR); // what it held goes to the refuser (or to this finished handler, dropped)
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof NativeHttp2Event) {
      if (finished) {
        return; // refused (GOAWAY sent): nobody takes over
      }
      // Plain gRPC on the same port, admitted at its preface: no HTTP/1.1 here, hand the connection over as it is.
      finished = true;
      timeout.cancel(false);
      ChannelPipeline pipeline = ctx.pipeline();
      removeCors(pipeline);
      pipeline.remove(HTTP_CODEC);
      ctx.fireUserEventTriggered(evt);
      pipeline.remove(this);
      FramePipeline.removeFlushConsolidation(pipeline);
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (finished || plainPending) {
        if (msg instanceof LastHttpContent) {
          bodyUnread = false;
          LingeringClose.bodyEnded(ctx.channel());
        }
        return;
      }
      if (msg instanceof HttpRequest) {
        if (accept != null) {
          reject(ctx, HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST,
              "expected one upgrade request but a second one arrived");
          return;
        }
        HttpRequest request = (HttpRequest) msg;
        bodyUnread = LingeringClose.bodyFollows(request);
        if (!check(ctx, request)) {
          return;
        }
      }
      if (msg instanceof LastHttpContent) {
        bodyUnread = false;
        ByteBuf body = ((LastHttpContent) msg).content();
        if (accept == null) {
          return;
        }
        if (body.isReadable() || ((LastHttpContent) msg).decoderResult().isFailure()) {
          reject(ctx, HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST, "expected an upgrade request without a body");
          return;
        }
        complete(ctx);
      } else if (msg instanceof io.netty.handler.codec.http.HttpContent && accept != null) {
        if (((io.netty.handler.codec.http.HttpContent) msg).content().isReadable()) {
          reject(ctx, HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST, "expected an upgrade request without a body");
        }
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  /** Answers everything but a valid upgrade and returns false; else prepares the 101 and returns true. */
  private boolean check(ChannelHandlerContext ctx, HttpRequest request) {
    UndecodableRequest refusal = UndecodableRequest.check(request, options);
    if (refusal != null) {
      reject(ctx, refusal.status, refusal.why, refusal.reason);
      return false;
    }
    String target = request.uri();
    int query = target.indexOf('?');
    String path = query < 0 ? target : target.substring(0, query);
    if (options.browser() != null && !path.equals(options.path()) && GrpcWebTranslator.isGrpcWeb(request)) {
      startGrpcWeb(ctx, request, path, query < 0 ? null : target.substring(query + 1));
      return false;
    }
    BrowserProtocol perCall = options.browser() == null || path.equals(options.path()) ? null
        : webSocketCallProtocol(request);
    if (perCall != null) {
      browserProtocol = perCall;
      callPath = path;
      callQuery = query < 0 ? null : target.substring(query + 1);
      upgradeHeaders = request.headers();
    } else if (!path.equals(options.path())) {
      answerPlain(ctx, request, path);
      return false;
    }
    if (!HttpMethod.GET.equals(request.method())) {
      reject(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, RejectReason.METHOD,
          "expected GET but was " + Http11Tokens.printable(request.method().name()));
      return false;
    }
    if (!HttpVersion.HTTP_1_1.equals(request.protocolVersion())) {
      reject(ctx, HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST,
          "expected HTTP/1.1 but was " + Http11Tokens.printable(request.protocolVersion().text()));
      return false;
    }
    HttpHeaders h = request.headers();
    String repeated = repeatedHeaderRefusal(h);
    if (repeated != null) {
      reject(ctx, HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST, repeated);
      return false;
    }
    if (!Http11Tokens.containsToken(h.getAll(HttpHeaderNames.UPGRADE), "websocket")) {
      reject(ctx, HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST,
          "expected 'Upgrade: websocket' but was " + quoted(h.get(HttpHeaderNames.UPGRADE)));
      return false;
    }
    if (!Http11Tokens.containsToken(h.getAll(HttpHeaderNames.CONNECTION), "upgrade")) {
      reject(ctx, HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST,
          "expected 'Connection: Upgrade' but was " + quoted(h.get(HttpHeaderNames.CONNECTION)));
      return false;
    }
    List<String> versions = h.getAll(HttpHeaderNames.SEC_WEBSOCKET_VERSION);
    if (versions.isEmpty()) {
      reject(ctx, HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST,
          "expected 'Sec-WebSocket-Version: 13' but it was missing");
      return false;
    }
    if (versions.size() != 1 || !versions.get(0).trim().equals("13")) {
      reject(ctx, HttpResponseStatus.UPGRADE_REQUIRED, RejectReason.VERSION,
          "expected 'Sec-WebSocket-Version: 13' but was " + quoted(String.join(", ", versions)));
      return false;
    }
    List<String> keys = h.getAll(HttpHeaderNames.SEC_WEBSOCKET_KEY);
    if (keys.size() != 1 || !Http11Tokens.isValidKey(keys.get(0).trim())) {
      reject(ctx, HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST, keys.size() > 1
          ? "expected one Sec-WebSocket-Key but was " + keys.size()
          : "expected a Sec-WebSocket-Key of 16 base64-encoded bytes but was " + quoted(h.get(
              HttpHeaderNames.SEC_WEBSOCKET_KEY)));
      return false;
    }
    webSocketKey = keys.get(0).trim();
    List<String> offered = Http11Tokens.elements(h.getAll(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL));
    offeredSubprotocols = offered;
    // Offers of the form bearer.<token> are credentials: never chosen, never echoed, not counted as protocols.
    List<String> protocols = new java.util.ArrayList<>(offered);
    protocols.removeIf(BearerTokens::isCredential);
    if (isWebSocketCall()) {
      protocols = List.of(browserProtocol.subprotocol());
    } else if (!protocols.isEmpty() && !protocols.contains(options.subprotocol())) {
      reject(ctx, HttpResponseStatus.BAD_REQUEST, RejectReason.SUBPROTOCOL, "expected subprotocol " + options.subprotocol()
          + " among those offered but it was not one of the " + protocols.size() + " offered");
      return false;
    }
    subprotocol = protocols.isEmpty() ? null : protocols.contains(options.subprotocol()) ? options.subprotocol()
        : browserProtocol.subprotocol();
    AccessPolicy access = options.access();
    clientAddress = access.trustedProxies().clientAddress(ctx.channel().remoteAddress(), h);
    String originRefusal = originRefusal(ctx, h, isWebSocketCall());
    if (originRefusal != null) {
      reject(ctx, HttpResponseStatus.FORBIDDEN, RejectReason.ORIGIN, originRefusal);
      return false;
    }
    // A grpc-websockets call is authenticated once its first message (which may carry credentials) arrived.
    if (!admit(ctx, h, path, query < 0 ? null : target.substring(query + 1), offered,
        !isWebSocketCall())) {
      return false;
    }
    accept = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
    accept.headers()
        .set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET)
        .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE)
        .set(HttpHeaderNames.SEC_WEBSOCKET_ACCEPT, Http11Tokens.acceptFor(keys.get(0).trim()));
    if (subprotocol != null) {
      accept.headers().set(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL, subprotocol);
    }
    return true;
  }

  /**
   * The checks every request that opens a connection to gRPC passes, tunnel or browser: the handshake limit
   * (first, before the authenticator is asked), the authenticator (which names the principal), admission and the
   * tunnel limits. Answers a refusal and returns false. Without {@code authenticate} (a browser call over a WebSocket
   * of its own, whose first message brings the credentials) and with an authenticator, the tunnel limits are left
   * to {@link #admitCall}: a slot goes to a caller the authenticator admitted, and until then the connection counts
   * as one in its handshake, so that callers without credentials cannot hold the slots of those with them.
   */
  private boolean admit(ChannelHandlerContext ctx, HttpHeaders h, String path, String query, List<String> offered,
      boolean authenticate) {
    AccessPolicy access = options.access();
    if (TunnelCounter.pastHandshakeLimit(ctx.channel())) {
      // Before the authenticator: a connection refused anyway costs it nothing (a remote check, a one-time ticket).
      RejectReason limit = RejectReason.TOO_MANY_HANDSHAKES_PER_CLIENT;
      reject(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, limit, TunnelCounter.refusal(limit), 5);
      return false;
    }
    if (authenticate && access.authenticator() != null) {
      AuthDecision decision = AuthDecision.ask(access.authenticator(), new UpgradeRequest(path, query, h, clientAddress,
          ctx.channel().remoteAddress(), sslSession(ctx), offered, ctx.channel()));
      if (!decision.accepted()) {
        reject(ctx, HttpResponseStatus.valueOf(decision.status()),
            decision.rejectReason(), decision.reason(), -1,
            decision.challenge());
        return false;
      }
      principal = decision.principal();
    }
    Refusal refusal = authenticate || access.authenticator() == null ? admission(ctx, path, true)
        : admissionPolicy(path);
    if (refusal != null) {
      reject(ctx, HttpResponseStatus.valueOf(refusal.status), refusal.why, refusal.reason, refusal.retryAfterSeconds);
      return false;
    }
    return true;
  }

  /**
   * What every connection to gRPC passes after authentication, tunnel, browser call or native: the
   * {@link TunnelAdmission} (e.g. refused while draining) and a slot of the tunnel limits, taken for the connection
   * until it closes. Returns null, or why not.
   *
   * @param path the upgrade's or browser request's path, null for a native connection
   * @param perClient whether the connection also counts against the client's own limit
   */
  private Refusal admission(ChannelHandlerContext ctx, String path, boolean perClient) {
    Refusal refused = admissionPolicy(path);
    return refused != null ? refused : slot(ctx, perClient);
  }

  /** A slot of the tunnel limits for the connection until it closes (ending its handshake count): null, or why not. */
  private Refusal slot(ChannelHandlerContext ctx, boolean perClient) {
    AccessPolicy access = options.access();
    RejectReason limit = counter.tryAcquire(ctx.channel(), perClient ? clientAddress : null);
    if (limit != null) {
      logger.debug("Refused a tunnel from {}: {} (limit {})", clientAddress, limit,
          limit == RejectReason.TOO_MANY_TUNNELS ? access.maxTunnels()
              : limit == RejectReason.TOO_MANY_HANDSHAKES_PER_CLIENT ? access.maxHandshakesPerClient()
              : access.maxTunnelsPerClient());
      return new Refusal(HttpResponseStatus.SERVICE_UNAVAILABLE.code(), limit, TunnelCounter.refusal(limit), 5);
    }
    return null;
  }

  /** The {@link TunnelAdmission}'s answer alone (no slot taken): null, or why not. */
  private Refusal admissionPolicy(String path) {
    TunnelAdmission.Refusal refusal = options.access().admission().admit(clientAddress, path);
    return refusal == null ? null
        : new Refusal(refusal.status(), RejectReason.REJECTED, refusal.reason(), refusal.retryAfterSeconds());
  }

  /** Why {@link #admission} refused: the HTTP status to answer, the reason reported, its text, Retry-After. */
  private static final class Refusal {
    final int status;
    final RejectReason why;
    final String reason;
    final int retryAfterSeconds;

    Refusal(int status, RejectReason why, String reason, int retryAfterSeconds) {
      this.status = status;
      this.why = why;
      this.reason = reason;
      this.retryAfterSeconds = retryAfterSeconds;
    }
  }

  /**
   * Returns null, or the reason of a 400 for a request without exactly one Host, or with more than one Authorization
   * or Origin. Those fields come at most once in a request (RFC 9110 11.6.2, RFC 6454 7.3): two of them mean a broken
   * client, or an attempt to have a proxy check one value while this server reads the other. Every request is held
   * to it: upgrades, each gRPC-Web request of a connection, and a browser WebSocket call's upgrade together with its
   * first message's headers (the authenticator sees both).
   */
  private static String repeatedHeaderRefusal(HttpHeaders h) {
    int hosts = h.getAll(HttpHeaderNames.HOST).size();
    if (hosts != 1) {
      return "expected one Host header but was " + hosts;
    }
    return repeatedCredentialRefusal(h);
  }

  /**
   * Returns null, or the reason of a 400 for headers with more than one Authorization or Origin: what an
   * authenticator is shown must have one value that it and the service both read (an authenticator reads the first,
   * grpc-java's {@code Metadata.get} the last). Besides requests ({@link #repeatedHeaderRefusal}), a native call's
   * metadata is held to it ({@link NativeCallAuthenticator}).
   */
  static String repeatedCredentialRefusal(HttpHeaders h) {
    for (String singleton : new String[] {"Authorization", "Origin"}) {
      int n = h.getAll(singleton).size();
      if (n > 1) {
        return "expected at most one " + singleton + " header but was " + n;
      }
    }
    return null;
  }

  /**
   * A gRPC-Web request: one in a format other than protobuf's gets 415 at once; else, after the same checks as a
   * tunnel (and the browser Origin allow-list), a
   * {@link GrpcWebTranslator} takes this handler's place in front of gRPC, and the request, whose body follows. On a
   * server that applies {@link TunnelPrincipal#interceptor()} to every call, the request's identity (principal,
   * client address) goes with its call ({@link GrpcWebAdmissions}), as that of each request that follows.
   */
  private void startGrpcWeb(ChannelHandlerContext ctx, HttpRequest request, String path, String query) {
    if (GrpcWebTranslator.mediaType(request) == null) {
      // As grpc-java answers a content type it does not serve: before anything is admitted or counted.
      reject(ctx, HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, RejectReason.MEDIA_TYPE,
          GrpcWebTranslator.unsupportedContentType(request));
      return;
    }
    browserProtocol = BrowserProtocol.GRPC_WEB;
    browserContentType = GrpcWebTranslator.responseContentType(request);
    HttpHeaders h = request.headers();
    GrpcWebAdmissions.strip(h);
    String repeated = repeatedHeaderRefusal(h);
    if (repeated != null) {
      reject(ctx, HttpResponseStatus.BAD_REQUEST, RejectReason.BAD_REQUEST, repeated);
      return;
    }
    clientAddress = options.access().trustedProxies().clientAddress(ctx.channel().remoteAddress(), h);
    String originRefusal = originRefusal(ctx, h, true);
    if (originRefusal != null) {
      reject(ctx, HttpResponseStatus.FORBIDDEN, RejectReason.ORIGIN, originRefusal);
      return;
    }
    if (!admit(ctx, h, path, query, java.util.Collections.emptyList(), true)) {
      return;
    }
    finished = true;
    timeout.cancel(false);
    if (nativeCallsChecked) {
      GrpcWebAdmissions admissions = new GrpcWebAdmissions();
      admissions.admit(h, principal, clientAddress);
      ctx.channel().attr(GrpcWebAdmissions.CHANNEL_ATTRIBUTE).set(admissions);
      grpcWebAdmissions = admissions;
    }
    ChannelPipeline pipeline = ctx.pipeline();
    GrpcWebTranslator translator = new GrpcWebTranslator(sslSession(ctx) != null ? "https" : "http",
        next -> checkFollowing(ctx, next), options, options.settings().handshakeTimeout(), options.browser());
    pipeline.addBefore(ctx.name(), GrpcWebTranslator.NAME, translator);
    logger.debug("gRPC-Web connection from {}", clientAddress);
    ctx.fireUserEventTriggered(new TunnelEstablishedEvent(path, BrowserProtocol.GRPC_WEB.label(), clientAddress,
        principal));
    pipeline.remove(this);
    translator.start(request);
  }

  /**
   * A request that follows the first on a gRPC-Web connection, admitted on its own as the first was: the same
   * headers at most once, the same Origin rule, its own client address (from its own forwarding headers, when the
   * connection comes from a trusted proxy) and its own authentication. A proxy that pools its connections to this
   * server sends requests of different clients on one connection; each call gets its request's identity
   * ({@link GrpcWebAdmissions}), never an earlier request's. Each request is admitted as a tunnel is
   * ({@link TunnelAdmission}: refused during a drain, say), and one from another client (another host; ports do not
   * count) than the one before moves the connection's slot of the per-client limit to that client
   * ({@link TunnelCounter#moveTo}). On a server that does not apply
   * {@link TunnelPrincipal#interceptor()}, calls see the identity the connection was opened with: a request with
   * another is refused.
   */
  private io.grpc.Status checkFollowing(ChannelHandlerContext ctx, HttpRequest request) {
    HttpHeaders h = request.headers();
    GrpcWebAdmissions.strip(h);
    String repeated = repeatedHeaderRefusal(h);
    if (repeated != null) {
      return BrowserCalls.statusForHttp(HttpResponseStatus.BAD_REQUEST.code(), repeated);
    }
    String originRefusal = originRefusal(ctx, h, true);
    if (originRefusal != null) {
      return io.grpc.Status.PERMISSION_DENIED.withDescription(originRefusal);
    }
    AccessPolicy access = options.access();
    SocketAddress client = access.trustedProxies().clientAddress(ctx.channel().remoteAddress(), h);
    String target = request.uri();
    int query = target.indexOf('?');
    String path = query < 0 ? target : target.substring(0, query);
    Object admitted = null;
    TunnelAuthenticator authenticator = access.authenticator();
    if (authenticator != null) {
      AuthDecision decision = AuthDecision.ask(authenticator, new UpgradeRequest(path,
          query < 0 ? null : target.substring(query + 1), h, client, ctx.channel().remoteAddress(),
          sslSession(ctx), java.util.Collections.emptyList(), ctx.channel()));
      if (!decision.accepted()) {
        logger.debug("Refused a gRPC-Web request from {}: {} {}", client, decision.status(), decision.reason());
        options.listener().upgradeRejected(client, decision.status(),
            decision.rejectReason());
        return BrowserCalls.statusForHttp(decision.status(), decision.reason());
      }
      admitted = decision.principal();
    }
    // Admitted as every tunnel and first request is (a drain, a policy on the path), each request on its own.
    TunnelAdmission.Refusal refusal = access.admission().admit(client, path);
    if (refusal != null) {
      options.listener().upgradeRejected(client, refusal.status(), RejectReason.REJECTED);
      return BrowserCalls.statusForHttp(refusal.status(), refusal.reason());
    }
    // One client is one host: a forwarding header may name its port too, which differs per front connection.
    boolean sameClient = TunnelCounter.clientKey(client, 128).equals(TunnelCounter.clientKey(clientAddress, 128));
    if (grpcWebAdmissions == null) {
      if (!java.util.Objects.equals(admitted, principal)) {
        return io.grpc.Status.UNAUTHENTICATED.withDescription("expected the credentials this connection was opened "
            + "with but the request's name another principal (this server gives each call its own only with "
            + "TunnelPrincipal.interceptor(), as WebSocketServers builds it)");
      }
      if (!sameClient) {
        return io.grpc.Status.UNAUTHENTICATED.withDescription("expected a request from the client this connection "
            + "was opened for but it came from " + client + " (this server gives each call its own only with "
            + "TunnelPrincipal.interceptor(), as WebSocketServers builds it)");
      }
      return null;
    }
    if (!sameClient) {
      RejectReason limit = counter.moveTo(ctx.channel(), client);
      if (limit != null) {
        logger.debug("Refused a gRPC-Web request from {}: {} (limit {})", client, limit,
            access.maxTunnelsPerClient());
        options.listener().upgradeRejected(client, HttpResponseStatus.SERVICE_UNAVAILABLE.code(), limit);
        return BrowserCalls.statusForHttp(HttpResponseStatus.SERVICE_UNAVAILABLE.code(), TunnelCounter.refusal(limit));
      }
      clientAddress = client;
    }
    grpcWebAdmissions.admit(h, admitted, client);
    return null;
  }

  /** The browser protocol with one WebSocket per call that {@code request} offers, or null. */
  private BrowserProtocol webSocketCallProtocol(HttpRequest request) {
    List<String> offered = Http11Tokens.elements(request.headers().getAll(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL));
    if (offered.contains(GrpcWebSocketsTranslator.SUBPROTOCOL)) {
      return BrowserProtocol.GRPC_WEBSOCKETS;
    }
    if (options.browser().json() != null && offered.contains(JsonWebSocketTranslator.SUBPROTOCOL)) {
      return BrowserProtocol.JSON_WEBSOCKET;
    }
    return null;
  }

  /**
   * The one Origin rule of tunnels and browser calls; returns null, or the reason of the 403. A request without
   * {@code Origin} (not from a browser: our clients never send one unless told to) passes. An explicit list
   * ({@link AccessPolicy#allowedOrigins()} for tunnels, {@link BrowserOptions} other than {@code *} for browser
   * calls) decides alone. Without one, a tunnel is opened by the Host's own page only: a page's script can speak
   * HTTP/2 inside binary WebSocket messages, so a tunnel from any page would let every site the user visits call
   * the services this server's network position reaches (cross-site WebSocket hijacking). Browser calls for
   * {@code *} let any page in, unless the connection carries credentials a browser sends by itself (a TLS client
   * certificate, or what an authenticator that
   * {@linkplain TunnelAuthenticator#readsAmbientCredentials() reads ambient credentials} reads): then only the Host's
   * own page may use them. {@link AccessPolicy#crossSiteCredentialsAllowed()} turns both same-site checks off.
   */
  private String originRefusal(ChannelHandlerContext ctx, HttpHeaders h, boolean browserCall) {
    String origin = h.get(HttpHeaderNames.ORIGIN);
    if (origin == null) {
      return null;
    }
    AccessPolicy access = options.access();
    boolean listed;
    if (browserCall) {
      if (!options.browser().allows(origin)) {
        return "expected an allowed Origin but was " + quoted(origin);
      }
      listed = !options.browser().anyOrigin();
    } else {
      listed = !access.allowedOrigins().isEmpty();
      String comparable = Origins.comparable(origin);
      if (listed && access.allowedOrigins().stream().noneMatch(comparable::equalsIgnoreCase)) {
        return "expected an allowed Origin but was " + quoted(origin);
      }
    }
    if (listed || access.crossSiteCredentialsAllowed()) {
      return null;
    }
    String host = h.get(HttpHeaderNames.HOST);
    if (Origins.sameOrigin(origin, host)) {
      return null;
    }
    String ambient = ambientCredential(ctx);
    if (ambient == null) {
      if (browserCall) {
        return null;
      }
      ambient = "a web page may open tunnels on its own site only";
    }
    return "expected an Origin of the same site as Host " + quoted(host) + " (" + ambient
        + "; list the origins allowed to use them) but was " + quoted(origin);
  }

  /** What credentials a browser sent by itself on this connection, or null. */
  private String ambientCredential(ChannelHandlerContext ctx) {
    javax.net.ssl.SSLSession session = sslSession(ctx);
    if (session != null) {
      try {
        session.getPeerCertificates();
        return "the connection carries a TLS client certificate, which browsers send by themselves";
      } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
        // no client certificate
      }
    }
    TunnelAuthenticator authenticator = options.access().authenticator();
    if (authenticator != null && authenticator.readsAmbientCredentials()) {
      return "the authenticator reads credentials browsers send by themselves";
    }
    return null;
  }

  /** Whether the request being answered opens a WebSocket for one call (grpc-websockets, wsgrpc-json). */
  private boolean isWebSocketCall() {
    return browserProtocol != null && browserProtocol.webSocketPerCall();
  }

  private static void removeCors(ChannelPipeline pipeline) {
    if (pipeline.get(CORS) != null) {
      pipeline.remove(CORS);
    }
  }

  private void complete(ChannelHandlerContext ctx) {
    if (isWebSocketCall()) {
      completeWebSocketCall(ctx);
      return;
    }
    finished = true;
    timeout.cancel(false);
    ChannelPipeline pipeline = ctx.pipeline();
    ctx.writeAndFlush(accept);
    removeCors(pipeline);
    logger.debug("Tunnel opened with {} on {} (subprotocol {})", clientAddress, options.path(), subprotocol);
    // The next handler takes over on the event (gRPC's handoff replaces itself with the HTTP/2 handler, a gateway's
    // relay opens its upstream); the client's first bytes reach it once they are known to begin HTTP/2.
    FramePipeline.switchToFrames(ctx, HTTP_CODEC, FramePipeline.Role.SERVER, options.settings(),
        "client " + clientAddress, new TunnelEstablishedEvent(options.path(), subprotocol, clientAddress,
            principal), () -> {
          pipeline.addAfter(FramePipeline.BYTE_STREAM, Http2PrefaceCheck.NAME, Http2PrefaceCheck.clientPreface());
          pipeline.remove(this);
        });
  }

  /**
   * A grpc-websockets call after the 101: the frame handlers, then a {@link GrpcWebSocketsTranslator} in place of
   * the byte-stream step. It admits the call (and hands the connection to gRPC) once the first message arrived, or
   * sends the refusal decided before the 101.
   */
  private void completeWebSocketCall(ChannelHandlerContext ctx) {
    finished = true;
    timeout.cancel(false);
    ChannelPipeline pipeline = ctx.pipeline();
    ctx.writeAndFlush(accept);
    removeCors(pipeline);
    String scheme = sslSession(ctx) != null ? "https" : "http";
    String authority = upgradeHeaders.get(HttpHeaderNames.HOST);
    long firstMessageTimeout = options.settings().handshakeTimeout().toMillis();
    if (webSocketRefusal == null && options.access().authenticator() != null) {
      // The limits are full already: refused now, as the status a page's client reads, rather than after a first
      // message that a limit meant for unknown callers might refuse in other words.
      RejectReason full = counter.wouldRefuse(clientAddress);
      if (full != null) {
        options.listener().upgradeRejected(clientAddress, HttpResponseStatus.SERVICE_UNAVAILABLE.code(), full);
        webSocketRefusal = BrowserCalls.statusForHttp(HttpResponseStatus.SERVICE_UNAVAILABLE.code(),
            TunnelCounter.refusal(full));
      }
    }
    WebSocketCallTranslator.Admission admission = headers -> admitCall(ctx, headers);
    WebSocketCallTranslator translator;
    String name;
    if (browserProtocol == BrowserProtocol.JSON_WEBSOCKET) {
      int maxMessage = options.browser().maxJsonMessageBytes();
      JsonWebSocketTranslator json = new JsonWebSocketTranslator(callPath, scheme, authority, clientAddress,
          options.browser().json(), maxMessage,
          // A call refused already (origin, drain, limits) spends no question of the authenticator's.
          webSocketRefusal == null && upgradeAdmits(ctx) ? maxMessage : options.maxRequestHeaderBytes(),
          firstMessageTimeout, admission);
      translator = json;
      name = JsonWebSocketTranslator.NAME;
    } else {
      GrpcWebSocketsTranslator grpc = new GrpcWebSocketsTranslator(callPath, scheme, authority, clientAddress,
          options.maxRequestHeaderBytes(), firstMessageTimeout, admission);
      translator = grpc;
      name = GrpcWebSocketsTranslator.NAME;
    }
    logger.debug("{} call from {} on {}", browserProtocol.label(), clientAddress,
        Http11Tokens.printable(callPath));
    // The translator takes the byte-stream step's place; the call's event comes once it is admitted.
    FramePipeline.switchToFrames(ctx, HTTP_CODEC, FramePipeline.Role.SERVER, options.settings(),
        "client " + clientAddress, null, () -> {
          pipeline.replace(FramePipeline.BYTE_STREAM, name, translator);
          if (browserProtocol == BrowserProtocol.JSON_WEBSOCKET) {
            pipeline.get(dev.wsgrpc.core.internal.ControlFrameHandler.class).passTextFrames();
          }
          pipeline.remove(this);
        });
    if (webSocketRefusal != null) {
      translator.refuse(webSocketRefusal);
    }
  }

  /**
   * Whether the upgrade alone (its headers and cookies, the offered {@code bearer.<token>}, the TLS session) would
   * have the call admitted: then its first message may be as large as any message, since a caller the authenticator
   * already knows may send one after the next anyway. Otherwise the first message, which arrives before anyone knows
   * who sent it, is held to the request-header limit, as grpc-websockets' is: its credentials fit in that, and a
   * first message without them could only be refused. The authenticator is asked only when the upgrade offers
   * credentials ({@link #upgradeOffersCredentials}), and nothing is reported; its acceptance stands for the call when
   * the first message brings no metadata, else {@link #admitCall} asks again with the first message's metadata.
   */
  private boolean upgradeAdmits(ChannelHandlerContext ctx) {
    TunnelAuthenticator authenticator = options.access().authenticator();
    if (authenticator == null) {
      return true;
    }
    if (!upgradeOffersCredentials(ctx, authenticator) || counter.wouldRefuse(clientAddress) != null) {
      return false; // nothing to ask the authenticator about, or a call the limits refuse anyway
    }
    // With the channel, as admitCall asks: an accepted decision is kept and stands for the call unless its first
    // message brings metadata, so the authenticator is asked once (a one-time ticket stays usable).
    AuthDecision decision = AuthDecision.ask(authenticator, new UpgradeRequest(callPath, callQuery, upgradeHeaders,
        clientAddress, ctx.channel().remoteAddress(), sslSession(ctx), offeredSubprotocols, ctx.channel()));
    upgradeDecision = decision.accepted() ? decision : null;
    return upgradeDecision != null;
  }

  /**
   * Whether the upgrade carries anything an authenticator reads: an {@code Authorization} or {@code Cookie} header,
   * a {@code bearer.<token>} subprotocol, a client certificate, or a query for an authenticator that reads one
   * ({@link TunnelAuthenticator#readsQueryCredentials()}).
   */
  private boolean upgradeOffersCredentials(ChannelHandlerContext ctx, TunnelAuthenticator authenticator) {
    if (upgradeHeaders.contains(HttpHeaderNames.AUTHORIZATION) || upgradeHeaders.contains(HttpHeaderNames.COOKIE)) {
      return true;
    }
    if (callQuery != null && !callQuery.isEmpty() && authenticator.readsQueryCredentials()) {
      return true;
    }
    for (String offered : offeredSubprotocols) {
      if (offered.regionMatches(true, 0, BearerTokens.SUBPROTOCOL_PREFIX, 0,
          BearerTokens.SUBPROTOCOL_PREFIX.length())) {
        return true;
      }
    }
    javax.net.ssl.SSLSession session = sslSession(ctx);
    if (session != null) {
      try {
        return session.getPeerCertificates().length > 0;
      } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
        return false;
      }
    }
    return false;
  }

  /**
   * The authenticator's decision on a grpc-websockets call, given the upgrade's headers and the first message's;
   * null without an authenticator; a 400 without asking it when the two together repeat a header that comes once.
   */
  private AuthDecision admitCall(ChannelHandlerContext ctx, HttpHeaders messageHeaders) {
    TunnelAuthenticator authenticator = options.access().authenticator();
    if (authenticator == null) {
      return null;
    }
    RejectReason full = counter.wouldRefuse(clientAddress);
    if (full != null) {
      // Before the authenticator, as for a tunnel: a call refused anyway costs it nothing (a one-time ticket).
      options.listener().upgradeRejected(clientAddress, HttpResponseStatus.SERVICE_UNAVAILABLE.code(), full);
      return AuthDecision.refused(HttpResponseStatus.SERVICE_UNAVAILABLE.code(), TunnelCounter.refusal(full));
    }
    if (upgradeDecision != null && messageHeaders.isEmpty()) {
      return withSlot(ctx, upgradeDecision); // asked already, about the same request (upgradeAdmits)
    }
    HttpHeaders merged = new io.netty.handler.codec.http.DefaultHttpHeaders().add(upgradeHeaders)
        .add(messageHeaders);
    String repeated = repeatedHeaderRefusal(merged);
    if (repeated != null) {
      options.listener().upgradeRejected(clientAddress, HttpResponseStatus.BAD_REQUEST.code(),
          RejectReason.BAD_REQUEST);
      return AuthDecision.badRequest(repeated);
    }
    AuthDecision decision = AuthDecision.ask(authenticator, new UpgradeRequest(callPath, callQuery, merged,
        clientAddress, ctx.channel().remoteAddress(), sslSession(ctx), offeredSubprotocols, ctx.channel()));
    if (!decision.accepted()) {
      options.listener().upgradeRejected(clientAddress, decision.status(),
          decision.rejectReason());
      return decision;
    }
    return withSlot(ctx, decision);
  }

  /** An admitted call takes its slot of the tunnel limits now ({@link #admit}): {@code decision}, or a 503. */
  private AuthDecision withSlot(ChannelHandlerContext ctx, AuthDecision decision) {
    Refusal refusal = slot(ctx, true);
    if (refusal == null) {
      return decision;
    }
    options.listener().upgradeRejected(clientAddress, refusal.status, refusal.why);
    return AuthDecision.refused(refusal.status, refusal.reason);
  }

  /**
   * A plain request for another path: the {@link PlainHttpHandler} answers (without CORS headers: browser origins
   * are for browser calls), else 404.
   */
  private void answerPlain(ChannelHandlerContext ctx, HttpRequest request, String path) {
    PlainHttpHandler handler = options.plainHttpHandler();
    if (handler == null) {
      reject(ctx, HttpResponseStatus.NOT_FOUND, RejectReason.NOT_FOUND, notFound(request, path));
      return;
    }
    AccessPolicy access = options.access();
    SocketAddress client = access.trustedProxies().clientAddress(ctx.channel().remoteAddress(), request.headers());
    if (access.authenticator() != null && handler.requiresAuthentication(request)) {
      // The gate of the tunnels, asked about this request (no connection to revoke later: it closes after the answer),
      // and the handshake limit before it, as for an upgrade: a connection refused anyway costs the authenticator
      // nothing.
      if (TunnelCounter.pastHandshakeLimit(ctx.channel())) {
        RejectReason limit = RejectReason.TOO_MANY_HANDSHAKES_PER_CLIENT;
        clientAddress = client;
        reject(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, limit, TunnelCounter.refusal(limit), 5);
        return;
      }
      String target = request.uri();
      int query = target.indexOf('?');
      AuthDecision decision = AuthDecision.ask(access.authenticator(), new UpgradeRequest(path,
          query < 0 ? null : target.substring(query + 1), request.headers(), client, ctx.channel().remoteAddress(),
          sslSession(ctx), List.of(), null));
      if (!decision.accepted()) {
        clientAddress = client;
        reject(ctx, HttpResponseStatus.valueOf(decision.status()), decision.rejectReason(), decision.reason(), -1,
            decision.challenge());
        return;
      }
    }
    CompletionStage<FullHttpResponse> answer;
    try {
      answer = handler.answer(request, client, ctx.alloc());
    } catch (RuntimeException e) {
      answer = CompletableFuture.failedFuture(e);
    }
    plainPending = true; // until answered, reads are dropped: nothing pipelined is answered before this
    answer.whenComplete((response, failure) -> {
      if (ctx.executor().inEventLoop()) {
        plainAnswered(ctx, request, path, response, failure);
        return;
      }
      try {
        ctx.executor().execute(() -> plainAnswered(ctx, request, path, response, failure));
      } catch (RejectedExecutionException e) {
        ReferenceCountUtil.release(response); // the event loop is gone, and the connection with it
      }
    });
    if (plainPending) {
      // Not ready at once: nothing may answer a pipelined request (a CORS preflight) before this answer.
      removeCors(ctx.pipeline());
    }
  }

  /** The {@link PlainHttpHandler}'s answer is ready (on the event loop): written, unless the connection moved on. */
  private void plainAnswered(ChannelHandlerContext ctx, HttpRequest request, String path, FullHttpResponse response,
      Throwable failure) {
    if (!plainPending) {
      ReferenceCountUtil.release(response); // closed, or timed out, meanwhile
      return;
    }
    plainPending = false;
    TunnelCounter.reported(ctx.channel()); // answered, not refused: not reported at its close
    if (failure != null) {
      ReferenceCountUtil.release(response);
      HANDLER_FAILED.log("PlainHttpHandler failed on {}; answering 500: {}", Http11Tokens.printable(path),
          failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure);
      response = textResponse(ctx, HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error");
    }
    if (response == null) {
      reject(ctx, HttpResponseStatus.NOT_FOUND, RejectReason.NOT_FOUND, notFound(request, path));
      return;
    }
    finished = true;
    timeout.cancel(false);
    // The browser origins may call gRPC, not read these answers (/metrics, say): no CORS headers, so a page of
    // another site cannot read them through a visitor's browser, whatever the browser can reach that it cannot.
    removeCors(ctx.pipeline());
    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    HttpUtil.setContentLength(response, response.content().readableBytes());
    LingeringClose.closeAfter(ctx, ctx.writeAndFlush(response), bodyUnread);
  }

  private void reject(ChannelHandlerContext ctx, HttpResponseStatus status, RejectReason why, String reason) {
    reject(ctx, status, why, reason, -1);
  }

  /**
   * Why a request for another path than the tunnels' gets 404. With browser calls on, every other path is a method's:
   * a request that meant to be one is told what a browser call needs of it (offered subprotocols are counted, not
   * quoted: a {@code bearer.<token>} offer is a credential).
   */
  private String notFound(HttpRequest request, String path) {
    String reason = "no WebSocket endpoint at " + Http11Tokens.printable(path);
    if (options.browser() == null) {
      return reason;
    }
    HttpHeaders h = request.headers();
    if (HttpMethod.POST.equals(request.method())) {
      return reason + " (a gRPC-Web call expected Content-Type application/grpc-web but was "
          + quoted(h.get(HttpHeaderNames.CONTENT_TYPE)) + ")";
    }
    if (HttpMethod.GET.equals(request.method())
        && Http11Tokens.containsToken(h.getAll(HttpHeaderNames.UPGRADE), "websocket")) {
      List<String> offered = Http11Tokens.elements(h.getAll(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL));
      return reason + " (a WebSocket call expected subprotocol " + GrpcWebSocketsTranslator.SUBPROTOCOL
          + (options.browser().json() == null ? "" : " or " + JsonWebSocketTranslator.SUBPROTOCOL)
          + " among those offered but it was not one of the " + offered.size() + " offered)";
    }
    return reason;
  }

  private void reject(ChannelHandlerContext ctx, HttpResponseStatus status, RejectReason why, String reason,
      int retryAfterSeconds) {
    reject(ctx, status, why, reason, retryAfterSeconds, null);
  }

  /** Answers with {@code status} and a plain-text {@code reason}, then closes; reported as {@code why}. */
  private void reject(ChannelHandlerContext ctx, HttpResponseStatus status, RejectReason why, String reason,
      int retryAfterSeconds, String challenge) {
    if (finished) {
      return;
    }
    if (isWebSocketCall() && webSocketKey != null && accept == null) {
      // The page's client can only read a status after a 101: it gets one, then the refusal as trailers.
      SocketAddress client = clientAddress != null ? clientAddress : ctx.channel().remoteAddress();
      logger.debug("Refused a {} call from {}: {} {} ({})", browserProtocol.label(), client, status.code(), reason,
          why);
      TunnelCounter.reported(ctx.channel());
      options.listener().upgradeRejected(client, status.code(), why);
      webSocketRefusal = BrowserCalls.statusForHttp(status.code(), reason);
      accept = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
      accept.headers()
          .set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET)
          .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE)
          .set(HttpHeaderNames.SEC_WEBSOCKET_ACCEPT, Http11Tokens.acceptFor(webSocketKey))
          .set(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL, browserProtocol.subprotocol());
      return;
    }
    finished = true;
    plainPending = false;
    if (timeout != null) {
      timeout.cancel(false);
    }
    SocketAddress client = clientAddress != null ? clientAddress : ctx.channel().remoteAddress();
    logger.debug("Refused upgrade from {}: {} {} ({})", client, status.code(), reason, why);
    TunnelCounter.answered(ctx.channel());
    options.listener().upgradeRejected(client, status.code(), why);
    if (browserProtocol == BrowserProtocol.GRPC_WEB) {
      // A page's client reads the refusal as a gRPC status (CORS lets it read the answer if its Origin is allowed).
      LingeringClose.closeAfter(ctx, ctx.writeAndFlush(GrpcWebTranslator.trailersOnly(browserContentType,
          BrowserCalls.statusForHttp(status.code(), reason), true)), bodyUnread);
      return;
    }
    FullHttpResponse response = textResponse(ctx, status, reason);
    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    HttpUtil.setContentLength(response, response.content().readableBytes());
    if (retryAfterSeconds >= 0) {
      response.headers().set(HttpHeaderNames.RETRY_AFTER, retryAfterSeconds);
    }
    if (challenge != null) {
      response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, challenge);
    }
    if (status.code() == HttpResponseStatus.UPGRADE_REQUIRED.code()) {
      response.headers().set(HttpHeaderNames.SEC_WEBSOCKET_VERSION, "13");
      response.headers().set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET);
    } else if (status.code() == HttpResponseStatus.METHOD_NOT_ALLOWED.code()) {
      response.headers().set(HttpHeaderNames.ALLOW, "GET");
    }
    LingeringClose.closeAfter(ctx, ctx.writeAndFlush(response), bodyUnread);
  }

  private static FullHttpResponse textResponse(ChannelHandlerContext ctx, HttpResponseStatus status, String text) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        ByteBufUtil.writeUtf8(ctx.alloc(), text + "\n"));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    return response;
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    finished = true;
    plainPending = false; // an answer still to come is released, not written
    if (timeout != null) {
      timeout.cancel(false);
    }
    super.channelInactive(ctx);
  }

  private static javax.net.ssl.SSLSession sslSession(ChannelHandlerContext ctx) {
    io.netty.handler.ssl.SslHandler tls = ctx.pipeline().get(io.netty.handler.ssl.SslHandler.class);
    return tls == null ? null : tls.engine().getSession();
  }

  private static String quoted(String value) {
    return value == null ? "missing" : "'" + Http11Tokens.printable(value) + "'";
  }
}
