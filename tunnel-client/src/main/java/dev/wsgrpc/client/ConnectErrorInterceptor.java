package dev.wsgrpc.client;

import dev.wsgrpc.core.internal.Http11Tokens;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.proxy.HttpProxyHandler;
import io.netty.handler.proxy.ProxyConnectException;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.channels.UnresolvedAddressException;

/**
 * Rewrites the descriptions grpc-netty gives connection failures ({@code "io exception"}) into sentences that name
 * the hop: the CONNECT proxy and what it answered, or the address that could not be reached; and grpc-java's
 * {@code "Unable to resolve host <target>"} for a proxy setting that cannot be used or a proxy host that does not
 * resolve into what is wrong with the proxy. Only UNAVAILABLE statuses with such a cause change; the cause is kept.
 * The list of handler names grpc-netty appends to every negotiation failure ({@code "Channel Pipeline: [...]"}) is
 * dropped.
 *
 * <pre>
 * HTTP proxy 127.0.0.1:3128 (from HTTPS_PROXY) answered CONNECT edge.example.com:443 with 407 Proxy
 *     Authentication Required (Server: tinyproxy/1.11.1): the proxy credentials are missing or wrong
 * cannot connect to wss://edge.example.com/grpc: Connection refused: edge.example.com/192.0.2.7:443
 * cannot resolve the host of HTTP proxy proxy.corp:3128 (from HTTPS_PROXY)
 * </pre>
 */
final class ConnectErrorInterceptor implements ClientInterceptor {

  private final WebSocketClientOptions options;
  private final WebSocketProxyDetector proxies;

  ConnectErrorInterceptor(WebSocketClientOptions options, WebSocketProxyDetector proxies) {
    this.options = options;
    this.proxies = proxies;
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions callOptions,
      Channel next) {
    return new ForwardingClientCall.SimpleForwardingClientCall<Q, R>(next.newCall(method, callOptions)) {
      @Override
      public void start(Listener<R> listener, Metadata headers) {
        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<R>(listener) {
          @Override
          public void onClose(Status status, Metadata trailers) {
            super.onClose(describe(status), trailers);
          }
        }, headers);
      }
    };
  }

  /** grpc-netty appends the pipeline's handler names to negotiation failures: noise for users. */
  private static final String PIPELINE_SUFFIX = "\nChannel Pipeline: ";

  /** The same status with a description that names the failed hop, when the cause allows it. */
  Status describe(Status status) {
    String original = status.getDescription();
    if (original != null && original.contains(PIPELINE_SUFFIX)) {
      status = status.withDescription(original.substring(0, original.indexOf(PIPELINE_SUFFIX)));
    }
    if (status.getCode() != Status.Code.UNAVAILABLE || status.getCause() == null) {
      return status;
    }
    // grpc-java's name resolution words a failure of the proxy detector "Unable to resolve host <target>".
    WebSocketProxyDetector.UnusableProxyException unusable =
        find(status.getCause(), WebSocketProxyDetector.UnusableProxyException.class);
    if (unusable != null) {
      return status.withDescription(unusable.getMessage());
    }
    ProxyConnectException refused = find(status.getCause(), ProxyConnectException.class);
    if (refused != null) {
      return status.withDescription(describeProxyFailure(refused, proxyInUse()));
    }
    String description = status.getDescription() == null ? "" : status.getDescription();
    if (!description.startsWith("io exception") && !description.startsWith("unresolved address")) {
      return status;
    }
    Throwable cause = find(status.getCause(), ConnectException.class);
    if (cause == null) {
      cause = find(status.getCause(), UnresolvedAddressException.class);
    }
    if (cause == null) {
      cause = find(status.getCause(), IOException.class);
    }
    if (cause == null) {
      return status;
    }
    String reason = cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
    WebSocketProxyDetector.Choice proxy = proxyInUse();
    String where = proxy != null ? proxy.describe() + " for " + options.safeUrl()
        : options.safeUrl() + (options.connectToHost() != null
            ? " (dialing " + options.connectToHost() + ":" + options.connectToPort() + ")" : "");
    String verb = cause instanceof ConnectException || cause instanceof UnresolvedAddressException
        ? "cannot connect to " : "connection to ";
    return status.withDescription(verb + where + (verb.startsWith("connection") ? " failed" : "") + ": " + reason);
  }

  /**
   * A refused or failed CONNECT in the words channels use for it, naming {@code proxy} (or "the HTTP proxy" when
   * null), the target, the proxy's answer and its {@code Server}. The command-line tool's dialer says the same.
   */
  static String describeProxyFailure(ProxyConnectException e, WebSocketProxyDetector.Choice proxy) {
    String message = e.getMessage() == null ? "" : e.getMessage();
    // Netty: "<protocol>, <auth>, <proxy address> => <destination>[, <what happened>]".
    int arrow = message.indexOf(" => ");
    String destination = "";
    String what = "";
    if (arrow >= 0) {
      String rest = message.substring(arrow + 4);
      int comma = rest.indexOf(", ");
      // An unresolved target prints as "host/<unresolved>:port" on Java 14+.
      destination = (comma < 0 ? rest : rest.substring(0, comma)).replace("/<unresolved>", "");
      what = comma < 0 ? "" : rest.substring(comma + 2);
    }
    String named = proxy != null ? proxy.describe() : "the HTTP proxy";
    String server = "";
    if (e instanceof HttpProxyHandler.HttpProxyConnectException
        && ((HttpProxyHandler.HttpProxyConnectException) e).headers() != null) {
      String s = ((HttpProxyHandler.HttpProxyConnectException) e).headers().get(HttpHeaderNames.SERVER);
      server = s == null ? "" : " (Server: " + Http11Tokens.printable(s) + ")";
    }
    if (what.startsWith("status: ")) {
      // The proxy's reason phrase, which may carry anything but a line break.
      String statusLine = Http11Tokens.printable(what.substring("status: ".length()));
      String hint = "";
      // 407 asks for credentials; some proxies (tinyproxy) answer wrong ones with 401.
      if (statusLine.startsWith("407") || statusLine.startsWith("401")) {
        hint = proxy != null && proxy.username != null
            ? ": the proxy credentials were refused" : ": the proxy wants credentials and none were given";
      } else if (statusLine.startsWith("403")) {
        hint = ": the proxy does not allow CONNECT to this host or port";
      }
      return named + " answered CONNECT " + destination + " with " + statusLine + server + hint;
    }
    if (what.equals("timeout")) {
      return named + " did not answer CONNECT " + destination + " in time";
    }
    if (what.equals("disconnected")) {
      return named + " closed the connection before answering CONNECT " + destination;
    }
    return named + " failed CONNECT " + destination + (what.isEmpty() ? "" : ": " + what);
  }

  private WebSocketProxyDetector.Choice proxyInUse() {
    try {
      return proxies.choose();
    } catch (IOException e) {
      return null;
    }
  }

  private static <T extends Throwable> T find(Throwable t, Class<T> type) {
    for (int depth = 0; t != null && depth < 10; depth++, t = t.getCause()) {
      if (type.isInstance(t)) {
        return type.cast(t);
      }
    }
    return null;
  }
}
