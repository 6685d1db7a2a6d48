package dev.wsgrpc.it;

import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.ProxyOptions;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.okhttp.OkHttpWebSocketChannels;
import dev.wsgrpc.okhttp.OkHttpWebSocketOptions;
import io.grpc.ManagedChannel;
import java.io.File;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The client dimension of the shared suites: which client library a setup's channels use. Each setup says where
 * the server is ({@link Target}); the client turns that into its own options, so every suite runs unchanged with
 * either client.
 */
enum TunnelClient {

  /** {@code tunnel-client}: grpc-netty with our WebSocket handlers. */
  NETTY {
    @Override
    ManagedChannel newChannel(Target t) {
      WebSocketClientOptions.Builder options = WebSocketClientOptions.newBuilder(t.url);
      if (t.trust != null) {
        options.tls(ClientTls.trusting(t.trust));
      }
      if (t.noSubprotocols) {
        options.subprotocols();
      }
      if (t.proxyHost != null) {
        ProxyOptions.Builder proxy = ProxyOptions.newBuilder().address(t.proxyHost, t.proxyPort);
        if (t.proxyUser != null) {
          proxy.credentials(t.proxyUser, t.proxyPassword);
        }
        options.proxy(proxy.build());
      }
      if (t.connectToHost != null) {
        options.connectTo(t.connectToHost, t.connectToPort);
      }
      if (t.pingInterval != null) {
        options.settings(TunnelSettings.newBuilder().pingInterval(t.pingInterval).pingTimeout(t.pingInterval)
            .build());
      }
      return WebSocketChannels.newChannelBuilder(options.build()).maxInboundMessageSize(t.maxInboundMessageSize)
          .build();
    }
  },

  /** {@code tunnel-client-okhttp}: grpc-okhttp over OkHttp's WebSocket, the Android client. */
  OKHTTP {
    @Override
    ManagedChannel newChannel(Target t) {
      OkHttpWebSocketOptions.Builder options = OkHttpWebSocketOptions.newBuilder(t.url);
      if (t.trust != null) {
        options.tls(dev.wsgrpc.okhttp.ClientTls.trusting(t.trust));
      }
      if (t.noSubprotocols) {
        options.subprotocols();
      }
      if (t.proxyHost != null) {
        dev.wsgrpc.okhttp.ProxyOptions.Builder proxy = dev.wsgrpc.okhttp.ProxyOptions.newBuilder()
            .address(t.proxyHost, t.proxyPort);
        if (t.proxyUser != null) {
          proxy.credentials(t.proxyUser, t.proxyPassword);
        }
        options.proxy(proxy.build());
      }
      if (t.connectToHost != null) {
        options.connectTo(t.connectToHost, t.connectToPort);
      }
      if (t.pingInterval != null) {
        options.settings(dev.wsgrpc.okhttp.TunnelSettings.newBuilder()
            .pingInterval(t.pingInterval.toMillis(), TimeUnit.MILLISECONDS).build());
      }
      return OkHttpWebSocketChannels.newChannelBuilder(options.build())
          .maxInboundMessageSize(t.maxInboundMessageSize).build();
    }
  };

  /** A channel to {@code target}. Callers shut it down. */
  abstract ManagedChannel newChannel(Target target);

  /** A channel to {@code url} with default options. */
  ManagedChannel newChannel(String url) {
    return newChannel(new Target(url));
  }

  /** The suffix setups add to their names: none for the Netty client, {@code "-okhttp"} for the other. */
  String suffix() {
    return this == NETTY ? "" : "-okhttp";
  }

  /** Where a server is and how to reach it, in terms both clients have. */
  static final class Target {
    final String url;
    File trust;
    boolean noSubprotocols;
    String proxyHost;
    int proxyPort;
    String proxyUser;
    String proxyPassword;
    String connectToHost;
    int connectToPort;
    Duration pingInterval;
    int maxInboundMessageSize = DirectTunnelSetup.MAX_MESSAGE;

    Target(String url) {
      this.url = url;
    }

    /** Trusts this PEM file for wss ({@code null}: the default trust store). */
    Target trust(File pem) {
      this.trust = pem;
      return this;
    }

    /** Offers no subprotocol (generic bridges such as websockify want none). */
    Target noSubprotocols() {
      this.noSubprotocols = true;
      return this;
    }

    /** Goes through this HTTP CONNECT proxy, with Basic credentials unless {@code user} is null. */
    Target proxy(String host, int port, String user, String password) {
      this.proxyHost = host;
      this.proxyPort = port;
      this.proxyUser = user;
      this.proxyPassword = password;
      return this;
    }

    /** Dials {@code host:port} instead of the URL's. */
    Target connectTo(String host, int port) {
      this.connectToHost = host;
      this.connectToPort = port;
      return this;
    }

    /** WebSocket Pings at this interval; a Pong missing for as long ends the tunnel. */
    Target pingInterval(Duration interval) {
      this.pingInterval = interval;
      return this;
    }
  }
}
