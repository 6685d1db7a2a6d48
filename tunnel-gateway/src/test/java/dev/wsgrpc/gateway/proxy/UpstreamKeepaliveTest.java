package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.FaultInjectingRelay;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Proxy mode's upstream channel notices an upstream whose path has become a black hole. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class UpstreamKeepaliveTest {

  @Test
  void aCallToABlackHoledUpstreamFailsUnavailableInsteadOfHangingUntilItsDeadline() throws Exception {
    Server upstream = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new HealthStatusManager().getHealthService())
        .permitKeepAliveTime(1, TimeUnit.SECONDS)
        .build().start();
    ManagedChannel channel = null;
    try (FaultInjectingRelay path = new FaultInjectingRelay((InetSocketAddress) upstream.getListenSockets().get(0))) {
      channel = UpstreamChannel.create(UpstreamOptions.newBuilder()
          .upstreams(List.of("127.0.0.1:" + path.port()))
          .healthCheckService(null)
          .keepAlive(Duration.ofSeconds(10), Duration.ofSeconds(1)) // grpc-java's shortest keepalive time
          .build());
      CountDownLatch serving = new CountDownLatch(1);
      CompletableFuture<Status> ended = new CompletableFuture<>();
      HealthGrpc.newStub(channel).watch(HealthCheckRequest.getDefaultInstance(),
          new StreamObserver<HealthCheckResponse>() {
            @Override
            public void onNext(HealthCheckResponse value) {
              serving.countDown();
            }

            @Override
            public void onError(Throwable t) {
              ended.complete(Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {
              ended.complete(Status.OK);
            }
          });
      assertTrue(serving.await(60, TimeUnit.SECONDS), "the watch answered");
      path.stallCurrentConnections();
      long stalled = System.nanoTime();
      Status status = ended.get(90, TimeUnit.SECONDS);
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
      long tookSeconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - stalled);
      assertTrue(tookSeconds < 60, "noticed after " + tookSeconds + " s");
    } finally {
      if (channel != null) {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
      upstream.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void keepaliveIsValidatedAndOnByDefault() {
    UpstreamOptions o = UpstreamOptions.newBuilder().upstreams(List.of("h:1")).build();
    assertEquals(Duration.ofMinutes(5), o.keepAliveTime);
    assertEquals(Duration.ofSeconds(20), o.keepAliveTimeout);
    assertEquals("upstreamKeepAliveTimeout: PT0S (expected: > 0)", org.junit.jupiter.api.Assertions.assertThrows(
        IllegalArgumentException.class,
        () -> UpstreamOptions.newBuilder().keepAlive(Duration.ofSeconds(1), Duration.ZERO)).getMessage());
  }
}
