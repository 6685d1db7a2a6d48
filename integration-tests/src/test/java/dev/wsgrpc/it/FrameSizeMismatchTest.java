package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.core.internal.RateLimitedLog;
import dev.wsgrpc.core.internal.ControlFrameHandler;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * Client and server whose frame limits disagree: the side that receives a frame over its limit closes with 1009
 * and logs a line saying which limit to change; the RPC fails RESOURCE_EXHAUSTED at once instead of hanging, and
 * smaller calls work again on a new tunnel.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FrameSizeMismatchTest {

  private static final int SMALL = 64 * 1024;
  private static final int LARGE = 256 * 1024;

  private final ListAppender<ILoggingEvent> log = new ListAppender<>();
  private final Logger controlLogger = (Logger) LoggerFactory.getLogger(ControlFrameHandler.class);
  private final EchoService service = new EchoService();
  private Server server;
  private ManagedChannel channel;

  @BeforeEach
  void captureLog() {
    RateLimitedLog.refillAll(); // earlier tests in this JVM may have used up the 1009 line's burst
    log.start();
    controlLogger.addAppender(log);
  }

  @AfterEach
  void stop() throws Exception {
    controlLogger.detachAppender(log);
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    service.shutdown();
  }

  private String start(WebSocketServerOptions serverOptions) throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), serverOptions)
        .addService(service).build().start();
    return "ws://127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort() + "/grpc";
  }

  private List<String> logLines() {
    return log.list.stream().map(ILoggingEvent::getFormattedMessage).collect(Collectors.toList());
  }

  private void smallCallsWorkAgain() {
    assertEquals(1000, EchoGrpc.newBlockingStub(channel).withWaitForReady().withDeadlineAfter(30, TimeUnit.SECONDS)
        .unary(EchoService.payload(1000)).getPayload().size());
  }

  @Test
  void clientFramesLargerThanTheServerAcceptsEndTheTunnelWith1009() throws Exception {
    String url = start(WebSocketServerOptions.newBuilder()
        .settings(TunnelSettings.newBuilder().maxInboundFramePayload(SMALL).build()).build());
    channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
        .settings(TunnelSettings.newBuilder().maxOutboundFramePayload(LARGE).build()).build()).build();

    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(1024 * 1024)));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
    assertEquals("WebSocket closed by " + url + " with 1009 (Message Too Big): Max frame length of 65536 has been "
        + "exceeded.", e.getStatus().getDescription());
    assertTrue(logLines().stream().anyMatch(line -> line.startsWith("Closing tunnel with client /127.0.0.1:")
        && line.endsWith(": Max frame length of 65536 has been exceeded. (1009 (Message Too Big)) - raise the frame "
            + "limit on this side or lower it on the other")), "the server says so: " + logLines());
    smallCallsWorkAgain();
  }

  @Test
  void serverFramesLargerThanTheClientAcceptsEndTheTunnelWith1009() throws Exception {
    String url = start(WebSocketServerOptions.newBuilder()
        .settings(TunnelSettings.newBuilder().maxOutboundFramePayload(LARGE).build()).build());
    channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
        .settings(TunnelSettings.newBuilder().maxInboundFramePayload(SMALL).build()).build()).build();

    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(1024 * 1024)));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
    assertEquals("Max frame length of 65536 has been exceeded. (from " + url + "; sent close 1009 (Message Too Big))",
        e.getStatus().getDescription());
    assertTrue(logLines().contains("Closing tunnel with " + url + ": Max frame length of 65536 has been exceeded. "
        + "(1009 (Message Too Big)) - raise the frame limit on this side or lower it on the other"),
        "the client says so: " + logLines());
    smallCallsWorkAgain();
  }

  @Test
  void agreeingLimitsCarryTheSameMessage() throws Exception {
    String url = start(WebSocketServerOptions.newBuilder()
        .settings(TunnelSettings.newBuilder().maxInboundFramePayload(LARGE).maxOutboundFramePayload(LARGE).build())
            .build());
    channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
        .settings(TunnelSettings.newBuilder().maxInboundFramePayload(LARGE).maxOutboundFramePayload(LARGE).build())
                .build()).build();
    assertEquals(1024 * 1024, EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .unary(EchoService.payload(1024 * 1024)).getPayload().size());
    assertTrue(logLines().isEmpty(), "nothing to say: " + logLines());
  }
}
