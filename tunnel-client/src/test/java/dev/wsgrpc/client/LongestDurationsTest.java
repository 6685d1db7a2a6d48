package dev.wsgrpc.client;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.core.TunnelSettings;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every consumer of the settings' durations takes the longest ones the builder accepts ({@link
 * TunnelSettings#MAX_DURATION_MILLIS}): the channel's handshake deadline and keepalive, and the command-line tool's
 * dialer, whose connect timeout is an int of milliseconds.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LongestDurationsTest {

  private static final Duration LONGEST = Duration.ofMillis(TunnelSettings.MAX_DURATION_MILLIS);
  private static final TunnelSettings SETTINGS = TunnelSettings.newBuilder().handshakeTimeout(LONGEST)
      .pingInterval(LONGEST).pingTimeout(LONGEST).build();

  private static final String FORBIDDEN = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

  @Test
  void aChannelWithTheLongestSettingsConnects() throws Exception {
    try (DialerTest.Scripted server = new DialerTest.Scripted((self, in, out) -> {
      self.readHead(in);
      out.write(FORBIDDEN.getBytes(US_ASCII));
    })) {
      String url = "ws://127.0.0.1:" + server.port() + "/grpc";
      ManagedChannel channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
          .proxy(ProxyOptions.DIRECT).settings(SETTINGS).build()).build();
      try {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(
            channel, AnyUnary.METHOD, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), new byte[0]));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
        assertEquals("expected HTTP 101 but was 403 Forbidden from " + url, e.getStatus().getDescription());
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void theDialerWithTheLongestSettingsConnects() throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    ExecutorService dns = Executors.newSingleThreadExecutor();
    try (DialerTest.Scripted server = new DialerTest.Scripted((self, in, out) -> {
      self.readHead(in);
      out.write(FORBIDDEN.getBytes(US_ASCII));
    })) {
      Future<Channel> f = InternalWebSocketClient.newDialer(WebSocketClientOptions.newBuilder(
          "ws://127.0.0.1:" + server.port() + "/grpc").proxy(ProxyOptions.DIRECT).settings(SETTINGS).build(),
          group, dns).dial(new ChannelInboundHandlerAdapter(), (step, nanos, detail) -> { });
      assertTrue(f.await(30, TimeUnit.SECONDS), "the dial finished");
      InternalWebSocketClient.StepFailure failure = assertInstanceOf(InternalWebSocketClient.StepFailure.class,
          f.cause());
      assertEquals(InternalWebSocketClient.Step.UPGRADE, failure.step(), failure.oneLine());
      assertTrue(failure.getMessage().startsWith("expected HTTP 101 but was 403 Forbidden"), failure.oneLine());
    } finally {
      dns.shutdownNow();
      group.shutdownGracefully(0, 5, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
    }
  }
}
