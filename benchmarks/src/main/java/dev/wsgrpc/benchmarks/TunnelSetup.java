package dev.wsgrpc.benchmarks;

import dev.wsgrpc.client.WebSocketChannelCredentials;
import dev.wsgrpc.client.ClientTls;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.BindableService;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.File;
import java.net.InetSocketAddress;

/** The tunnel, client straight to server: ws, or wss with the same certificate as the h2 baseline. */
final class TunnelSetup extends LocalServerSetup {

  private Client client;
  private File ca;
  /** Clients of other ports ({@link #newChannelTo}), made once each: a TLS context is costly. */
  private final java.util.Map<Integer, Client> others = new java.util.concurrent.ConcurrentHashMap<>();

  private TunnelSetup(boolean tls) {
    super(tls);
  }

  static TunnelSetup ws() {
    return new TunnelSetup(false);
  }

  static TunnelSetup wss() {
    return new TunnelSetup(true);
  }

  @Override
  public String name() {
    return tls ? "wss" : "ws";
  }

  @Override
  public String description() {
    return tls ? "the tunnel over wss (TLS, ALPN http/1.1), JDK TLS provider" : "the tunnel over ws";
  }

  @Override
  public String baseline() {
    return tls ? "h2" : "h2c";
  }

  @Override
  public void start(Transports transports, BindableService service, TestCertificates certs) throws Exception {
    WebSocketServerOptions.Builder options = WebSocketServerOptions.newBuilder();
    if (tls) {
      options.tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()));
    }
    serve(transports, WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), options.build()),
        service);
    ca = tls ? certs.caPem() : null;
    client = Client.of(url(), ca, true);
  }

  /** The URL clients dial. */
  String url() {
    return url(port());
  }

  private String url(int port) {
    return (tls ? "wss://localhost:" : "ws://127.0.0.1:") + port + "/grpc";
  }

  @Override
  ManagedChannel newChannelTo(int port) {
    return others.computeIfAbsent(port, p -> Client.of(url(p), ca, true)).newChannel(transports);
  }

  @Override
  public ManagedChannel newChannel() {
    return client.newChannel(transports);
  }

  /**
   * How clients reach a tunnel URL: options and credentials made once (a TLS context is costly), a channel per call.
   */
  record Client(WebSocketClientOptions options, ChannelCredentials credentials) {

    /** A client of {@code url}, trusting the CA certificates in {@code ca} when given (wss). */
    static Client of(String url, File ca, boolean subprotocol) {
      WebSocketClientOptions.Builder builder = WebSocketClientOptions.newBuilder(url);
      if (ca != null) {
        builder.tls(ClientTls.trusting(ca));
      }
      if (!subprotocol) {
        // Generic bridges such as websockify refuse subprotocols they do not know: offer none.
        builder.subprotocols();
      }
      WebSocketClientOptions options = builder.build();
      return new Client(options, WebSocketChannelCredentials.create(options));
    }

    ManagedChannel newChannel(Transports transports) {
      return newChannel(transports, null);
    }

    /** A channel that connects from the address {@code picker} gives (null: the system's choice). */
    ManagedChannel newChannel(Transports transports, NettyChannelBuilder.LocalSocketPicker picker) {
      NettyChannelBuilder builder = transports.configure(NettyChannelBuilder.forTarget(options.target(), credentials))
          .maxInboundMessageSize(MAX_MESSAGE);
      if (picker != null) {
        builder.localSocketPicker(picker);
      }
      return builder.build();
    }
  }
}
