package dev.wsgrpc.gateway.proxy;

import dev.wsgrpc.server.TunnelPrincipal;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.Attributes;
import io.grpc.Grpc;
import io.grpc.InternalMetadata;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Tells the upstream who called, in request metadata under names that a trusted upstream can rely on:
 *
 * <ul>
 *   <li>{@value #CLIENT_ADDRESS_NAME}: the client's IP address, as the gateway established it (for a tunnel behind
 *       {@code --trusted-proxies}, the address the trusted proxy named; else the socket's peer);
 *   <li>{@value #PRINCIPAL_NAME}: who the tunnel was authenticated as (bearer token or client certificate), absent
 *       without authentication; bytes outside printable ASCII, and {@code %}, are percent-encoded (UTF-8);
 *   <li>{@value #TRANSPORT_NAME}: how the call arrived: {@code ws}, {@code wss} (a tunnel without or with TLS) or
 *       {@code native} (plain gRPC on the same port, h2c or TLS h2), or for a browser's call the protocol it came
 *       by: {@code grpc-web} (text included), {@code grpc-websockets} or {@code json-ws}.
 * </ul>
 *
 * <p>Every incoming header whose name starts with {@value #RESERVED_PREFIX} is removed first, so a client cannot
 * forge any of them (nor a future one).
 *
 * <p>Upstreams written for the common proxies read the caller from other headers: trusting the gateway as their
 * proxy, they take the right-most {@code x-forwarded-for} entry, the last {@code for=} of {@code forwarded}
 * (RFC 7239) or {@code x-real-ip}. A call's metadata is the client's to write (inside a tunnel entirely, over
 * native gRPC and from browsers too), so the forwarded call gets them as nginx and Envoy make them, naming the
 * same address as {@value #CLIENT_ADDRESS_NAME} ({@link #appendClient}):
 *
 * <ul>
 *   <li>{@code x-forwarded-for}: the client's entries, every line joined into one ({@code , }), then the address
 *       as the last entry; made with the address alone when the call had none;
 *   <li>{@code forwarded}: when the call carries it, its lines joined, then {@code for=ADDRESS} as the last element
 *       (an IPv6 address quoted and bracketed: {@code for="[2001:db8::7]"}); not added to a call without it. A value
 *       that leaves a quoted-string open ({@code for="x}) would swallow the appended element for a parser reading
 *       from the left, so it is replaced by that element alone;
 *   <li>{@code x-real-ip}: set to the address, whatever the call carried. It names one address, not a chain, so
 *       there is nothing to append to; the gateway's value replaces the client's (as nginx's {@code proxy_set_header
 *       X-Real-IP $remote_addr} does) rather than just dropping it, so an upstream that reads it learns the client.
 * </ul>
 *
 * <p>The client's own entries stay in front, for the upstream's logs; an upstream that trusts the gateway must never
 * believe more than the gateway's entry. Behind {@code --trusted-proxies} the address is the client the trusted
 * proxy named, which on a native call may already end the chain (nginx {@code grpc_pass} appends it): it is then
 * named twice, and the right-most entry is still the client.
 *
 * <p>When the gateway authenticates with bearer tokens of its own, a call authenticated one by one (native gRPC, a
 * browser protocol) carries the gateway's token in {@code authorization}; that header is removed too, once it has
 * been checked, so that upstreams never hold a credential that opens the gateway (as Envoy's JWT filter drops a
 * verified token unless told to forward it). The upstream learns who called from {@value #PRINCIPAL_NAME}. A
 * tunnel's token travels in its upgrade request, never in its calls: a tunnel call's own {@code authorization}
 * (say, a token for the upstream) is forwarded as it came.
 */
public final class CallerMetadata implements ServerInterceptor {

  /** Every header with this prefix is the gateway's: dropped from what callers send. */
  public static final String RESERVED_PREFIX = "wsgrpc-";
  public static final String CLIENT_ADDRESS_NAME = "wsgrpc-client-address";
  public static final String PRINCIPAL_NAME = "wsgrpc-principal";
  public static final String TRANSPORT_NAME = "wsgrpc-transport";

  public static final Metadata.Key<String> CLIENT_ADDRESS =
      Metadata.Key.of(CLIENT_ADDRESS_NAME, Metadata.ASCII_STRING_MARSHALLER);
  public static final Metadata.Key<String> PRINCIPAL =
      Metadata.Key.of(PRINCIPAL_NAME, Metadata.ASCII_STRING_MARSHALLER);
  public static final Metadata.Key<String> TRANSPORT =
      Metadata.Key.of(TRANSPORT_NAME, Metadata.ASCII_STRING_MARSHALLER);

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> X_FORWARDED_FOR =
      Metadata.Key.of("x-forwarded-for", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> FORWARDED = Metadata.Key.of("forwarded", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> X_REAL_IP = Metadata.Key.of("x-real-ip", Metadata.ASCII_STRING_MARSHALLER);
  /** What an address may hold to stand in {@code forwarded}: IPv4, IPv6 (with a zone: {@code %eth0}), a token. */
  private static final Pattern NODE = Pattern.compile("[0-9A-Za-z.:%_-]+");

  private final boolean dropGatewayToken;

  /**
   * @param dropGatewayToken whether the server authenticates calls with bearer tokens of its own: then a call that
   *     did not arrive through a tunnel loses its {@code authorization} header, which carried that token
   */
  public CallerMetadata(boolean dropGatewayToken) {
    this.dropGatewayToken = dropGatewayToken;
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
      ServerCallHandler<ReqT, RespT> next) {
    headers = withoutReserved(headers);
    Attributes attributes = call.getAttributes();
    String address = hostAddress(attributes.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
    if (address != null) {
      headers.put(CLIENT_ADDRESS, address);
    }
    appendClient(headers, address);
    // The server's interceptors run first: the principal of the tunnel, or of the native call they authenticated.
    Object principal = TunnelPrincipal.current();
    if (principal == null) {
      principal = attributes.get(TunnelPrincipal.ATTRIBUTE);
    }
    if (principal != null) {
      headers.put(PRINCIPAL, percentEncode(principal.toString()));
    }
    String transport = transport(attributes);
    headers.put(TRANSPORT, transport);
    if (dropGatewayToken && !transport.equals("ws") && !transport.equals("wss")) {
      headers.discardAll(AUTHORIZATION);
    }
    return next.startCall(call, headers);
  }

  /**
   * {@code headers} without any entry whose name starts with {@value #RESERVED_PREFIX}: {@code headers} itself when
   * there is none, else a copy made from their wire form. A copy, because a caller may send names that grpc-java's
   * {@code Metadata.Key} refuses (HTTP/2 allows more characters in a name, such as {@code !} or {@code ~}, than
   * gRPC's {@code [a-z0-9-_.]}), and no key could name such an entry to remove it.
   */
  static Metadata withoutReserved(Metadata headers) {
    boolean reserved = false;
    for (String key : headers.keys()) {
      reserved |= key.startsWith(RESERVED_PREFIX);
    }
    if (!reserved) {
      return headers;
    }
    byte[][] wire = InternalMetadata.serialize(headers); // names and values, one after the other
    List<byte[]> kept = new ArrayList<>(wire.length);
    for (int i = 0; i < wire.length; i += 2) {
      if (!new String(wire[i], StandardCharsets.US_ASCII).startsWith(RESERVED_PREFIX)) {
        kept.add(wire[i]);
        kept.add(wire[i + 1]);
      }
    }
    return InternalMetadata.newMetadata(kept.toArray(new byte[0][]));
  }

  /**
   * Ends {@code x-forwarded-for} and {@code forwarded} with {@code address} and sets {@code x-real-ip} to it, as the
   * class comment describes; with no address (never so for a TCP connection), removes all three, since none of the
   * client's entries may be the last one an upstream sees.
   */
  static void appendClient(Metadata headers, String address) {
    String chain = joined(headers.getAll(X_FORWARDED_FOR));
    String forwarded = joined(headers.getAll(FORWARDED));
    headers.discardAll(X_FORWARDED_FOR);
    headers.discardAll(FORWARDED);
    headers.discardAll(X_REAL_IP);
    if (address == null) {
      return;
    }
    headers.put(X_FORWARDED_FOR, chain == null || chain.isEmpty() ? address : chain + ", " + address);
    if (forwarded != null) {
      String element = "for=" + forwardedNode(address);
      headers.put(FORWARDED, forwarded.isEmpty() || !quotesClosed(forwarded) ? element : forwarded + ", " + element);
    }
    headers.put(X_REAL_IP, address);
  }

  /** The lines, trimmed, the blank ones left out, joined by {@code ", "}; null when there is no line. */
  private static String joined(Iterable<String> lines) {
    if (lines == null) {
      return null;
    }
    StringBuilder out = new StringBuilder();
    for (String line : lines) {
      String trimmed = line.trim();
      if (!trimmed.isEmpty()) {
        out.append(out.length() == 0 ? "" : ", ").append(trimmed);
      }
    }
    return out.toString();
  }

  /**
   * {@code address} as an RFC 7239 node: an IPv6 address quoted and bracketed ({@code "[2001:db8::7]"}), an IPv4
   * address (or another token) as it is, anything else {@code unknown}.
   */
  static String forwardedNode(String address) {
    if (!NODE.matcher(address).matches()) {
      return "unknown";
    }
    return address.indexOf(':') >= 0 ? "\"[" + address + "]\"" : address;
  }

  /**
   * Whether {@code value}, read from the left, ends outside any quoted-string ({@code "..."} with {@code \}
   * escapes, RFC 7230 3.2.6): only then does an element appended after a comma stand on its own.
   */
  static boolean quotesClosed(String value) {
    boolean quoted = false;
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (quoted && c == '\\') {
        if (++i == value.length()) {
          return false;
        }
      } else if (c == '"') {
        quoted = !quoted;
      }
    }
    return !quoted;
  }

  /** {@code ws}, {@code wss}, {@code native}, or a browser protocol's name ({@code grpc-web}, ...). */
  static String transport(Attributes attributes) {
    String browser = attributes.get(WebSocketServers.BROWSER_PROTOCOL);
    if (browser != null) {
      return browser;
    }
    if (attributes.get(WebSocketServers.TUNNEL_PATH) == null) {
      return "native";
    }
    return attributes.get(Grpc.TRANSPORT_ATTR_SSL_SESSION) != null ? "wss" : "ws";
  }

  private static String hostAddress(SocketAddress address) {
    if (address instanceof InetSocketAddress) {
      InetSocketAddress inet = (InetSocketAddress) address;
      return inet.getAddress() != null ? inet.getAddress().getHostAddress() : inet.getHostString();
    }
    return address == null ? null : address.toString();
  }

  /** Printable ASCII stays as it is (but {@code %}); every other UTF-8 byte becomes {@code %XX}. */
  static String percentEncode(String value) {
    StringBuilder out = new StringBuilder(value.length());
    for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (c >= 0x20 && c < 0x7f && c != '%') {
        out.append((char) c);
      } else {
        out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
      }
    }
    return out.toString();
  }
}
