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
    assertEquals("upstreamKeepAliveTimeout: 0s (expected: > 0)", org.junit.jupiter.api.Assertions.assertThrows(
        IllegalArgumentException.class,
        () -> UpstreamOptions.newBuilder().keepAlive(Duration.ofSeconds(1), Duration.ZERO)).getMessage());
  }

  /**
   * grpc-java takes them in milliseconds here: below 1 ms was 0, which it refuses when the channel is made, not when
   * the options are; the longest are refused with every other duration's bound.
   */
  @Test
  void keepaliveIsZeroOrOneMillisecondToAbout25Days() {
    UpstreamOptions.Builder b = UpstreamOptions.newBuilder();
    Duration second = Duration.ofSeconds(1);
    Duration huge = Duration.ofHours(999_999_999_999L);
    String atMost = " (expected: at most 2147483647 ms, about 24.8 days)";
    assertEquals("upstreamKeepAlive: 999999999999h" + atMost, refusal(() -> b.keepAlive(huge, second)));
    assertEquals("upstreamKeepAliveTimeout: 999999999999h" + atMost, refusal(() -> b.keepAlive(second, huge)));
    assertEquals("upstreamKeepAlive: 0.0005s (expected: 0, or at least 1 ms)",
        refusal(() -> b.keepAlive(Duration.ofNanos(500_000), second)));
    assertEquals("upstreamKeepAliveTimeout: 0.0005s (expected: at least 1 ms)",
        refusal(() -> b.keepAlive(second, Duration.ofNanos(500_000))));
    Duration longest = Duration.ofMillis(Integer.MAX_VALUE);
    UpstreamOptions o = b.upstreams(List.of("h:1")).keepAlive(longest, longest).build();
    assertEquals(longest, o.keepAliveTime);
    assertEquals(longest, o.keepAliveTimeout);
  }

  private static String refusal(org.junit.jupiter.api.function.Executable e) {
    return org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, e).getMessage();
  }
}
