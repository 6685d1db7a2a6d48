package dev.wsgrpc.client;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.wsgrpc.core.internal.GrpcLogLimit;
import io.grpc.ManagedChannel;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/**
 * A tunnel server reaches grpc-java's HTTP/2 client through every channel: a channel made by this library limits
 * what it makes grpc-java log (GrpcLogLimitTest in tunnel-core tests the filter itself; PeerTriggeredLogsTest in
 * integration-tests the same filter in the gateway's proxy mode, with a real upstream answering GOAWAY).
 */
class GrpcClientLogLimitTest {

  @Test
  void aChannelLimitsGrpcJavasClientHandlerLog() throws InterruptedException {
    ManagedChannel channel = WebSocketChannels.newChannel("ws://127.0.0.1:9/grpc"); // never connects: no call
    try {
      for (String name : GrpcLogLimit.NETTY_CLIENT_LOGGERS) {
        assertInstanceOf(GrpcLogLimit.class, Logger.getLogger(name).getFilter(), name);
      }
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
