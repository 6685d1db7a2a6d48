package dev.wsgrpc.benchmarks;

import dev.wsgrpc.okhttp.ClientTls;
import dev.wsgrpc.okhttp.OkHttpWebSocketChannels;
import dev.wsgrpc.okhttp.OkHttpWebSocketOptions;
import dev.wsgrpc.okhttp.internal.CallbacksAfterStartInterceptor;
import dev.wsgrpc.okhttp.internal.TransportThreadSocketFactory;
import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.okhttp.OkHttpChannelBuilder;
import java.net.InetSocketAddress;

/**
 * The OkHttp client for Android ({@code tunnel-client-okhttp}) against the same servers as the Netty client's rows:
 * grpc-okhttp direct over h2c (its baseline), and grpc-okhttp over an OkHttp WebSocket, ws or wss. The client runs
 * on grpc-okhttp's and OkHttp's own threads (they have no event loop to share) and, as the Netty rows, runs its
 * callbacks directly ({@code directExecutor()}). Both OkHttp rows and their baseline use the tunnel client's 1 MiB
 * HTTP/2 flow-control window and its {@link CallbacksAfterStartInterceptor} (the baseline's sockets mark
 * grpc-okhttp's reader thread for it, {@link TransportThreadSocketFactory}, as the tunnel's do), so the ratio is the
 * WebSocket's cost alone. Without that interceptor, grpc-okhttp (1.85) with a direct executor can strand a message the upload's
 * onReady handler writes while its stream starts, and the upload stalls: the baseline did so in run 16.
 */
final class OkHttpSetup extends LocalServerSetup {

  private final boolean tunnel;
  private OkHttpWebSocketOptions options;

  private OkHttpSetup(boolean tunnel, boolean tls) {
    super(tls);
    this.tunnel = tunnel;
  }

  static OkHttpSetup h2c() {
    return new OkHttpSetup(false, false);
  }

  static OkHttpSetup ws() {
    return new OkHttpSetup(true, false);
  }

  static OkHttpSetup wss() {
    return new OkHttpSetup(true, true);
  }

  @Override
  public String name() {
    return !tunnel ? "okhttp_h2c" : tls ? "okhttp_wss" : "okhttp_ws";
  }

  @Override
  public String description() {
    return !tunnel ? "direct gRPC over h2c with the grpc-okhttp client"
        : "the OkHttp client (tunnel-client-okhttp) over " + (tls ? "wss, JDK TLS provider" : "ws");
  }

  @Override
  public String baseline() {
    return tunnel ? "okhttp_h2c" : null;
  }

  @Override
  public void start(Transports transports, BindableService service, TestCertificates certs) throws Exception {
    if (!tunnel) {
      serve(transports, NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)), service);
      return;
    }
    WebSocketServerOptions.Builder server = WebSocketServerOptions.newBuilder();
    if (tls) {
      server.tls(ServerTls.pemFiles(certs.serverCertPem(), certs.serverKeyPem()));
    }
    serve(transports, WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), server.build()),
        service);
    OkHttpWebSocketOptions.Builder client = OkHttpWebSocketOptions.newBuilder(
        (tls ? "wss://localhost:" : "ws://127.0.0.1:") + port() + "/grpc");
    if (tls) {
      client.tls(ClientTls.trusting(certs.caPem()));
    }
    options = client.build();
  }

  @Override
  public ManagedChannel newChannel() {
    if (!tunnel) {
      return OkHttpChannelBuilder.forAddress("127.0.0.1", port()).usePlaintext()
          .flowControlWindow(1024 * 1024).maxInboundMessageSize(MAX_MESSAGE).directExecutor()
          .socketFactory(new TransportThreadSocketFactory()) // the interceptor then knows grpc-okhttp's reader
          .intercept(new CallbacksAfterStartInterceptor()).build();
    }
    return OkHttpWebSocketChannels.newChannelBuilder(options).maxInboundMessageSize(MAX_MESSAGE).directExecutor()
        .build();
  }
}
