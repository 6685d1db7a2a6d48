package dev.wsgrpc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.InternalWebSocketClient;
import dev.wsgrpc.client.ProxyOptions;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.internal.RateLimitedLog;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.nio.NioIoHandler;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.helpers.NOPLogger;

/**
 * {@code forward}: a listener it cannot open is reported with its address, and the command ends; a bad --to too. Its
 * per-connection lines never hold up the event loops, and a local connection that fails is closed quietly.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ForwardCommandTest {

  /** Listening beyond loopback lends the command's credentials to whoever reaches the port: it says so. */
  @Test
  void aListenerBeyondLoopbackIsWarnedAbout() throws Exception {
    assertEquals(null, ForwardCommand.exposureWarning(new java.net.InetSocketAddress("127.0.0.1", 50051)));
    assertEquals(null, ForwardCommand.exposureWarning(new java.net.InetSocketAddress("::1", 50051)));
    String warning = ForwardCommand.exposureWarning(new java.net.InetSocketAddress("0.0.0.0", 50051));
    assertEquals("forward: warning: 0.0.0.0:50051 is not a loopback address: anyone who reaches it calls through "
        + "this tunnel with this command's credentials (--header, --proxy-credentials, a client certificate); "
        + "listen on 127.0.0.1 unless that is meant", warning);
    assertTrue(ForwardCommand.exposureWarning(new java.net.InetSocketAddress("10.1.2.3", 50051))
        .startsWith("forward: warning: 10.1.2.3:50051 is not a loopback address"));
  }

  /** Each local connection holds two sockets: past --max-connections one is closed at once, saying why. */
  @Test
  void connectionsPastTheLimitAreClosedAtOnceWithALineAndTheCountFollowsCloses() throws Exception {
    Blocked never = new Blocked();
    StringWriter err = new StringWriter();
    ForwardCommand.ConnectionLines lines = new ForwardCommand.ConnectionLines(new PrintWriter(never),
        new PrintWriter(err));
    java.util.concurrent.atomic.AtomicInteger carried = new java.util.concurrent.atomic.AtomicInteger();
    EmbeddedChannel first = new EmbeddedChannel();
    EmbeddedChannel second = new EmbeddedChannel();
    assertTrue(ForwardCommand.admit(first, carried, 2, lines));
    assertTrue(ForwardCommand.admit(second, carried, 2, lines));
    EmbeddedChannel third = new EmbeddedChannel();
    assertFalse(ForwardCommand.admit(third, carried, 2, lines));
    assertFalse(third.isOpen(), "closed at once");
    assertEquals(2, carried.get());
    first.close();
    assertEquals(1, carried.get());
    EmbeddedChannel fourth = new EmbeddedChannel();
    assertTrue(ForwardCommand.admit(fourth, carried, 2, lines), "a closed one frees its place");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!err.toString().contains("refused") && System.nanoTime() < deadline) {
      Thread.sleep(10); // printed by the lines' own thread
    }
    assertEquals("forward: embedded: refused: 2 connections carried already, the most --max-connections allows",
        err.toString().trim());
  }

  /** An accept that fails (no file descriptor left) is a rate-limited line, not Netty's WARN with a stack trace. */
  @Test
  void aFailedAcceptIsOneLineAndGoesNoFurther() throws Exception {
    StringWriter err = new StringWriter();
    ForwardCommand.ConnectionLines lines = new ForwardCommand.ConnectionLines(new PrintWriter(new Blocked()),
        new PrintWriter(err));
    EmbeddedChannel server = new EmbeddedChannel(new ForwardCommand.AcceptFailures(lines));
    server.pipeline().fireExceptionCaught(new IOException("Too many open files"));
    server.checkException(); // nothing reached the end of the pipeline
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!err.toString().contains("accept") && System.nanoTime() < deadline) {
      Thread.sleep(10); // printed by the lines' own thread
    }
    assertEquals("forward: cannot accept a connection: Too many open files (out of file descriptors? "
        + "--max-connections bounds what forward holds; ulimit -n what it may)", err.toString().trim());
  }

  @Test
  void maxConnectionsMustBePositive() {
    StringWriter err = new StringWriter();
    picocli.CommandLine cli = WsgrpcCli.commandLine();
    cli.setErr(new PrintWriter(err));
    int exit = cli.execute("forward", "--to", "ws://127.0.0.1:1/grpc", "--max-connections", "0");
    assertEquals("2 forward: --max-connections: 0 (expected: > 0)\n",
        exit + " " + err.toString().replace(System.lineSeparator(), "\n"));
  }

  @Test
  void aListenAddressInUseIsNamedInTheFailure() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      StringWriter err = new StringWriter();
      picocli.CommandLine cli = WsgrpcCli.commandLine(); // as the jar runs it
      cli.setErr(new PrintWriter(err));
      int exit = cli.execute("forward", "--listen", "127.0.0.1:" + taken.getLocalPort(), "--to",
          "ws://127.0.0.1:1/grpc");
      // It said "forward: Address already in use", without the address.
      assertEquals("1 forward: cannot listen on 127.0.0.1:" + taken.getLocalPort() + ": Address already in use\n",
          exit + " " + err.toString().replace(System.lineSeparator(), "\n"));
    }
  }

  @Test
  void aUrlThatIsNotAWebSocketOneIsRefusedUnderToItsFlag() {
    StringWriter err = new StringWriter();
    picocli.CommandLine cli = WsgrpcCli.commandLine(); // as the jar runs it
    cli.setErr(new PrintWriter(err));
    int exit = cli.execute("forward", "--to", "http://127.0.0.1:1/grpc");
    // It said "url: ...", a name forward has no option for.
    assertEquals("2 forward: --to: http://127.0.0.1:1/grpc (expected: a ws:// or wss:// URL)\n",
        exit + " " + err.toString().replace(System.lineSeparator(), "\n"));
  }

  /** An output nobody reads: every write blocks until {@link #release} (a full pipe, a paused terminal). */
  static final class Blocked extends OutputStream {
    final CountDownLatch release = new CountDownLatch(1);
    final StringBuffer written = new StringBuffer();

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      try {
        release.await();
      } catch (InterruptedException e) {
        throw new IOException(e);
      }
      synchronized (this) {
        written.append(new String(b, off, len, StandardCharsets.US_ASCII));
        notifyAll();
      }
    }

    /** Waits until what was written contains {@code text}; false after 30 s. */
    synchronized boolean awaitWritten(String text) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (written.indexOf(text) < 0) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          return false;
        }
        wait(left);
      }
      return true;
    }
  }

  /**
   * Lines are printed by a thread of their own: an output nobody reads holds that thread, not the event loop that
   * asked for the line (there, every relay would stop), and what does not fit in the queue is dropped and counted.
   */
  @Test
  void anOutputNobodyReadsHoldsUpNoCallerAndWhatIsDroppedIsCounted() throws Exception {
    Blocked blocked = new Blocked();
    PrintWriter to = new PrintWriter(blocked);
    ForwardCommand.ConnectionLines lines = new ForwardCommand.ConnectionLines(to, to);
    RateLimitedLog any = new RateLimitedLog(NOPLogger.NOP_LOGGER, RateLimitedLog.Level.INFO, 1_000,
        Duration.ofMinutes(1), System::nanoTime);
    for (int i = 0; i < 200; i++) {
      lines.print(to, any, "line " + i); // blocked for good on the old code
    }
    blocked.release.countDown();
    // One line taken by the printing thread, QUEUED waiting: 135 dropped, counted in what is printed next, once the
    // queue has room again.
    int printed = 1 + ForwardCommand.ConnectionLines.QUEUED;
    assertTrue(blocked.awaitWritten("line " + (printed - 1) + System.lineSeparator()), blocked.written.toString());
    lines.print(to, any, "after");
    assertTrue(blocked.awaitWritten("after"), blocked.written.toString());
    String text = blocked.written.toString();
    long reported = 0;
    Matcher m = Pattern.compile("\\((\\d+) lines dropped: the output was not read\\)").matcher(text);
    while (m.find()) {
      reported += Long.parseLong(m.group(1));
    }
    assertEquals(200 - printed, reported, text);
    for (int i = 0; i < printed; i++) {
      assertTrue(text.contains("line " + i + System.lineSeparator()) || text.contains("line " + i + " ("), text);
    }
    assertFalse(text.contains("line " + printed + System.lineSeparator()), text);
  }

  /** A local connection that fails before its relay is in place is closed, and the failure goes no further. */
  @Test
  void aLocalConnectionThatFailsWhileItsTunnelOpensIsClosedQuietly() throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      // A dial that never ends: its name lookup is never run.
      InternalWebSocketClient.Dialer dialer = InternalWebSocketClient.newDialer(
          WebSocketClientOptions.newBuilder("ws://127.0.0.1:1/grpc").proxy(ProxyOptions.DIRECT).build(), group,
          task -> { });
      StringWriter sink = new StringWriter();
      EmbeddedChannel local = new EmbeddedChannel(new ForwardCommand.Opener(dialer,
          new ForwardCommand.ConnectionLines(new PrintWriter(sink), new PrintWriter(sink))));
      local.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
      assertFalse(local.isOpen());
      local.checkException(); // on the old code the failure reached the pipeline's end (Netty's WARN, stack trace)
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
    }
  }
}
