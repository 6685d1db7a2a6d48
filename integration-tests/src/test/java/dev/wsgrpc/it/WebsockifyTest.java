package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Standard framing, checked against code no one here wrote: our client reaches a plain grpc-java server (h2c on TCP,
 * no wsgrpc at all) through websockify, Debian's generic WebSocket-to-TCP bridge.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WebsockifyTest {

  private Server plainServer;
  private ExternalProgram websockify;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    String exe = ExternalProgram.requireInstalled("websockify", "websockify");
    plainServer = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new EchoService())
        .build()
        .start();
    int grpcPort = ((InetSocketAddress) plainServer.getListenSockets().get(0)).getPort();
    int wsPort = ExternalProgram.freePort();
    websockify = ExternalProgram.start("websockify", exe, "127.0.0.1:" + wsPort, "127.0.0.1:" + grpcPort)
        .awaitListening(wsPort, Duration.ofSeconds(30));
    // websockify 0.10 refuses clients that offer a subprotocol other than "binary": offer none.
    channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder("ws://127.0.0.1:" + wsPort + "/")
        .subprotocols()
        .build()).build();
  }

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (websockify != null) {
      websockify.close();
    }
    if (plainServer != null) {
      plainServer.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void unaryAndStreamingThroughAGenericBridge() {
    EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    EchoRequest request = EchoService.payload(300_000);
    assertEquals(request.getPayload(), stub.unary(request).getPayload());
    Iterator<EchoResponse> it = stub.serverStream(EchoService.payload(1000).toBuilder().setCount(200).build());
    int n = 0;
    while (it.hasNext()) {
      it.next();
      n++;
    }
    assertEquals(200, n);
  }
}
