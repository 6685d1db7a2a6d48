package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The server accepts gRPC's HTTP/2 bytes split at any point: message and frame boundaries mean nothing. A plain h2c
 * grpc-java client talks through {@link SplittingRelay}, which re-cuts every byte it sends.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SplitMessagesTest {

  @ParameterizedTest
  @EnumSource(SplittingRelay.Split.class)
  void serverAcceptsTheByteStreamSplitAnywhere(SplittingRelay.Split split) throws Exception {
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0),
        WebSocketServerOptions.DEFAULT).addService(new EchoService()).build().start();
    InetSocketAddress address = (InetSocketAddress) server.getListenSockets().get(0);
    try (SplittingRelay relay = new SplittingRelay(address, "/grpc", split)) {
      ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", relay.port()).usePlaintext().build();
      try {
        EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
        EchoRequest request = EchoService.payload(split == SplittingRelay.Split.ONE_BYTE_MESSAGES ? 5_000 : 200_000);
        assertEquals(request.getPayload(), stub.unary(request).getPayload());
        Iterator<EchoResponse> it = stub.serverStream(EchoService.payload(100).toBuilder().setCount(50).build());
        int n = 0;
        while (it.hasNext()) {
          it.next();
          n++;
        }
        assertEquals(50, n);
        assertNull(relay.failure.get());
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    } finally {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
