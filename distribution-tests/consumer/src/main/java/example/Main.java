package example;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.protobuf.services.HealthStatusManager;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/** One health check through a WebSocket tunnel, with nothing but the published artifacts on the class path. */
public final class Main {

  public static void main(String[] args) throws Exception {
    HealthStatusManager health = new HealthStatusManager();
    Server server = WebSocketServers.newServerBuilder(0).addService(health.getHealthService()).build().start();
    int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    ManagedChannel channel = WebSocketChannels.newChannel("ws://127.0.0.1:" + port + "/grpc");
    try {
      HealthCheckResponse response = HealthGrpc.newBlockingStub(channel)
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance());
      System.out.println("consumer: health " + response.getStatus() + " over ws://127.0.0.1:" + port + "/grpc");
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private Main() {}
}
