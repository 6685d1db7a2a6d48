package dev.wsgrpc.server;

import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.SocketAddress;
import java.util.Collections;
import java.util.List;
import javax.net.ssl.SSLSession;

/**
 * A WebSocket upgrade request as a {@link TunnelAuthenticator} sees it, before the 101. Header values may be secrets:
 * {@link #toString()} shows header names only.
 */
public final class UpgradeRequest {

  private final String path;
  private final String query;
  private final HttpHeaders headers;
  private final SocketAddress clientAddress;
  private final SocketAddress peerAddress;
  private final SSLSession sslSession;
  private final List<String> offeredSubprotocols;
  private final Channel channel;
  private final Revocable call;

  UpgradeRequest(String path, String query, HttpHeaders headers, SocketAddress clientAddress,
      SocketAddress peerAddress, SSLSession sslSession, List<String> offeredSubprotocols, Channel channel) {
    this(path, query, headers, clientAddress, peerAddress, sslSession, offeredSubprotocols, channel, null);
  }

  UpgradeRequest(String path, String query, HttpHeaders headers, SocketAddress clientAddress,
      SocketAddress peerAddress, SSLSession sslSession, List<String> offeredSubprotocols, Channel channel,
      Revocable call) {
    this.path = path;
    this.query = query;
    this.headers = headers;
    this.clientAddress = clientAddress;
    this.peerAddress = peerAddress;
    this.sslSession = sslSession;
    this.offeredSubprotocols = Collections.unmodifiableList(offeredSubprotocols);
    this.channel = channel;
    this.call = call;
  }

  /** The connection that asked, for authenticators of this package that close tunnels later; null in unit tests. */
  Channel channel() {
    return channel;
  }

  /**
   * The native gRPC call that asked (its metadata as the headers), for authenticators of this package that end calls
   * later; null for an upgrade or a connection.
   */
  Revocable call() {
    return call;
  }

  /** The request's path, e.g. {@code /grpc}. */
  public String path() {
    return path;
  }

  /** The raw query string without {@code ?}, or {@code null}. */
  public String query() {
    return query;
  }

  /** The first value of header {@code name} (case-insensitive), or {@code null}. */
  public String header(String name) {
    return headers.get(name);
  }

  /** Every value of header {@code name} (case-insensitive), in order. */
  public List<String> headers(String name) {
    return headers.getAll(name);
  }

  /** The client's address: the socket's peer, or what a trusted proxy said it was. */
  public SocketAddress clientAddress() {
    return clientAddress;
  }

  /** The socket's peer (a proxy, when there is one). */
  public SocketAddress peerAddress() {
    return peerAddress;
  }

  /** The TLS session of a wss connection (client certificates: {@code getPeerCertificates()}), or {@code null}. */
  public SSLSession sslSession() {
    return sslSession;
  }

  /** The subprotocols the client offered, in order (credentials among them included). */
  public List<String> offeredSubprotocols() {
    return offeredSubprotocols;
  }

  @Override
  public String toString() {
    return "UpgradeRequest{path=" + path + ", client=" + clientAddress + ", headers=" + headers.names() + "}";
  }
}
