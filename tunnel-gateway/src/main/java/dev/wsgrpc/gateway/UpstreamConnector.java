package dev.wsgrpc.gateway;

import dev.wsgrpc.core.internal.Http11Tokens;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;

/** Opens relay mode's connection to one upstream, for one client connection. */
interface UpstreamConnector {

  /**
   * Connects to {@code target} on {@code client}'s event loop, with {@code handler} last in the new pipeline. The
   * future succeeds once the connection can carry HTTP/2 (after the TLS handshake, with TLS), and fails otherwise;
   * the connection is not read until the caller asks.
   */
  ChannelFuture connect(Upstreams.Resolved target, Channel client, ChannelHandler handler);

  /**
   * TCP sockets of the client's transport (epoll or NIO) with TCP keepalive, with TLS when {@code tls} is not null:
   * a failed TLS handshake fails the connect, like a refusal, and so does one that did not agree on {@code h2} by
   * ALPN.
   */
  static UpstreamConnector sockets(SslContext tls) {
    return (target, client, handler) -> {
      ChannelFuture connect = new Bootstrap()
          .group(client.eventLoop())
          .channel(GatewayTransport.clientChannelType(client))
          .option(ChannelOption.TCP_NODELAY, true)
          .option(ChannelOption.RCVBUF_ALLOCATOR, UpstreamGateway.RELAY_READS)
          .option(ChannelOption.SO_KEEPALIVE, true)
          .option(ChannelOption.AUTO_READ, false)
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
          .handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              if (tls != null) {
                SSLEngine engine = tls.newEngine(ch.alloc(), target.hostName, target.address.getPort());
                SSLParameters params = engine.getSSLParameters();
                params.setEndpointIdentificationAlgorithm("HTTPS");
                engine.setSSLParameters(params);
                ch.pipeline().addLast(new SslHandler(engine));
              }
              ch.pipeline().addLast(handler);
            }
          })
          .connect(target.address);
      if (tls == null || (connect.isDone() && !connect.isSuccess())) {
        return connect; // failed already: a channel that could not be made has no event loop for a promise
      }
      ChannelPromise ready = connect.channel().newPromise();
      connect.addListener(f -> {
        if (!f.isSuccess()) {
          ready.tryFailure(f.cause());
          return;
        }
        // SslHandler reads the handshake itself, although the connection is not read otherwise yet.
        SslHandler ssl = connect.channel().pipeline().get(SslHandler.class);
        ssl.handshakeFuture().addListener(h -> {
          if (h.isSuccess() && "h2".equals(ssl.applicationProtocol())) {
            ready.trySuccess();
            return;
          }
          connect.channel().close();
          // gRPC over TLS agrees on h2 by ALPN: a server that does not (an HTTP/1.1 endpoint) must not get the
          // tunnel's HTTP/2, nor send its own answer into the tunnel.
          ready.tryFailure(h.isSuccess() ? new SSLHandshakeException("expected ALPN h2 from the upstream's TLS but "
              + (ssl.applicationProtocol() == null ? "it agreed on none" : "it agreed on "
              + Http11Tokens.printable(ssl.applicationProtocol()))) : h.cause());
        });
      });
      return ready;
    };
  }
}
