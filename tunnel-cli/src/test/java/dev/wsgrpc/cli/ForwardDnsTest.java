package dev.wsgrpc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.InternalWebSocketClient;
import dev.wsgrpc.client.ProxyOptions;
import dev.wsgrpc.client.WebSocketClientOptions;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.Future;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code forward}'s name lookups block a thread each for as long as DNS takes: a slow name server must not make it
 * start a thread per accepted connection. Lookups stuck on a slow server are stood in for by tasks that wait on a
 * latch (the executor is the seam; the JDK's resolver has none).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ForwardDnsTest {

  @Test
  void lookupsRunOnAFewThreadsAndADialPastTheQueueFailsAtOnceSayingWhy() throws Exception {
    ThreadPoolExecutor dns = ForwardCommand.dnsExecutor();
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    CountDownLatch slowDns = new CountDownLatch(1);
    try {
      for (int i = 0; i < ForwardCommand.DNS_THREADS + ForwardCommand.DNS_QUEUE; i++) {
        dns.execute(() -> {
          try {
            slowDns.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
      }
      WebSocketClientOptions options = WebSocketClientOptions.newBuilder("ws://127.0.0.1:1/grpc")
          .proxy(ProxyOptions.DIRECT).build();
      Future<Channel> dial = InternalWebSocketClient.newDialer(options, group, dns)
          .dial(new ChannelInboundHandlerAdapter(), (step, nanos, detail) -> { });

      assertTrue(dial.await(10, TimeUnit.SECONDS), "failed at once, not queued behind the slow lookups");
      InternalWebSocketClient.StepFailure failure =
          assertInstanceOf(InternalWebSocketClient.StepFailure.class, dial.cause());
      assertEquals("dns: cannot resolve 127.0.0.1 now: 4 name lookups under way and 64 waiting, the most forward "
          + "allows (is the name server slow?)", failure.oneLine());
      assertEquals(ForwardCommand.DNS_THREADS, dns.getLargestPoolSize(), "no thread per lookup");
    } finally {
      slowDns.countDown();
      dns.shutdownNow();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
    }
  }
}
