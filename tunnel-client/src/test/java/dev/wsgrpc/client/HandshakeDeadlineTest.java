package dev.wsgrpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.InboundRecorder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class HandshakeDeadlineTest {

  private static final String URL = "wss://example.com/grpc";

  private final InboundRecorder recorder = new InboundRecorder();
  private final EmbeddedChannel ch = new EmbeddedChannel(recorder);

  {
    ch.freezeTime();
  }

  private void advance(long millis) {
    ch.advanceTimeBy(millis, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
  }

  @Test
  void expiryFiresUnavailableNamingUrlTimeoutAndPendingStep() {
    HandshakeDeadline deadline = new HandshakeDeadline(500, URL);
    deadline.start(ch, () -> "waiting for the TLS handshake");

    advance(499);
    assertTrue(recorder.exceptions.isEmpty());
    advance(1);
    assertEquals(1, recorder.exceptions.size());
    StatusRuntimeException e = assertInstanceOf(StatusRuntimeException.class, recorder.exceptions.get(0));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("WebSocket handshake with wss://example.com/grpc timed out after 500 ms while waiting for the TLS "
        + "handshake", e.getStatus().getDescription());
    assertNull(e.getCause());
    assertTrue(ch.isOpen(), "the transport closes the connection, not the deadline");
    assertFalse(ch.finish());
  }

  @Test
  void finishStopsTheClock() {
    HandshakeDeadline deadline = new HandshakeDeadline(500, URL);
    deadline.start(ch, () -> "step");
    advance(200);
    deadline.finish();
    advance(10_000);
    assertTrue(recorder.exceptions.isEmpty());
    assertFalse(ch.finish());
  }

  @Test
  void startAfterFinishDoesNothing() {
    HandshakeDeadline deadline = new HandshakeDeadline(500, URL);
    deadline.finish();
    deadline.start(ch, () -> "step");
    advance(10_000);
    assertTrue(recorder.exceptions.isEmpty());
    assertFalse(ch.finish());
  }

  @Test
  void oneDeadlineCoversEverySetupStep() {
    HandshakeDeadline deadline = new HandshakeDeadline(500, URL);
    deadline.start(ch, () -> "first step");
    advance(300);
    deadline.start(ch, () -> "second step");
    advance(200);
    assertEquals(1, recorder.exceptions.size(), "the clock is not restarted by the second step");
    advance(10_000);
    assertEquals(1, recorder.exceptions.size(), "it fires once");
    assertFalse(ch.finish());
  }

  @Test
  void pendingStepIsAskedWhenTheDeadlinePasses() {
    AtomicReference<String> step = new AtomicReference<>("connecting");
    HandshakeDeadline deadline = new HandshakeDeadline(500, URL);
    deadline.start(ch, step::get);
    step.set("waiting for the 101");
    advance(500);
    StatusRuntimeException e = (StatusRuntimeException) recorder.exceptions.get(0);
    assertTrue(e.getStatus().getDescription().endsWith(" while waiting for the 101"), e.getStatus().getDescription());
    assertFalse(ch.finish());
  }

  @Test
  void finishAfterExpiryIsHarmless() {
    HandshakeDeadline deadline = new HandshakeDeadline(500, URL);
    deadline.start(ch, () -> "step");
    advance(500);
    deadline.finish();
    assertEquals(1, recorder.exceptions.size());
    assertFalse(ch.finish());
  }
}
