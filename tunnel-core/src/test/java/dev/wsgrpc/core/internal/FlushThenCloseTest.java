package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link FlushThenClose} on real loopback sockets, with small socket buffers on both ends so that the kernel holds
 * only a few KiB of what is queued: the rest waits in the channel's outbound buffer until the peer reads it.
 */
class FlushThenCloseTest {

  private static final long STALL_MILLIS = 2_000;
  private static final int QUEUED = 1024 * 1024;
  private static final int SOCKET_BUFFER = 4 * 1024;

  private EventLoopGroup group;
  private ServerSocket listener;
  private Socket peer;
  private Channel channel;
  private ScheduledExecutorService reader;

  @BeforeEach
  void connect() throws Exception {
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    listener = new ServerSocket();
    listener.setReceiveBufferSize(SOCKET_BUFFER); // before bind: it is the window the peer offers
    listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
        .option(ChannelOption.SO_SNDBUF, SOCKET_BUFFER)
        .handler(new ChannelInboundHandlerAdapter())
        .connect(listener.getLocalSocketAddress()).sync().channel();
    peer = listener.accept();
    peer.setSoTimeout(60_000); // a read that gets nothing fails the test instead of hanging it
    reader = Executors.newSingleThreadScheduledExecutor();
  }

  @AfterEach
  void stop() throws Exception {
    reader.shutdownNow();
    peer.close();
    listener.close();
    channel.close().sync();
    group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
  }

  @Test
  void aPeerThatKeepsReadingGetsEveryByteAndThenTheEndHoweverLongItTakes() throws Exception {
    // 32 KiB every 100 ms: 1 MiB takes over 3 s, longer than the stall timeout, with progress all along.
    CompletableFuture<byte[]> received = readPaced(32 * 1024, 100);
    long start = System.nanoTime();
    writeQueuedThenClose();

    byte[] bytes = received.get(60, TimeUnit.SECONDS);
    assertTrue(System.nanoTime() - start > TimeUnit.MILLISECONDS.toNanos(STALL_MILLIS),
        "the peer took longer than the stall timeout to read everything");
    assertEquals(QUEUED, bytes.length, "every byte queued before the close reached the peer, then EOF");
    assertArrayEquals(pattern(), bytes);
    assertTrue(channel.closeFuture().await(10, TimeUnit.SECONDS));
  }

  @Test
  void aPeerThatStopsReadingIsClosedOnceNothingHasLeftForTheStallTimeout() throws Exception {
    long start = System.nanoTime();
    writeQueuedThenClose();
    assertEquals(64 * 1024, peer.getInputStream().readNBytes(64 * 1024).length); // then nothing more

    assertTrue(channel.closeFuture().await(60, TimeUnit.SECONDS), "closed although its bytes never left");
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertTrue(millis >= STALL_MILLIS, "closed after " + millis + " ms, before the stall timeout");
  }

  @Test
  void aTunnelPeerThatKeepsReadingGetsEveryByteAndThenTheCloseFrame() throws Exception {
    // As in the gateway's relay mode when an upstream ends: what it sent last has been flushed (the codec holds
    // nothing), and the tunnel's Close goes out behind it, once FlushThenClose closes the channel.
    channel.pipeline().addLast(new FrameEncoder(false),
        new ControlFrameHandler("client", WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, false, STALL_MILLIS),
        new ByteStreamFrameCodec(64 * 1024));
    CompletableFuture<byte[]> received = readPaced(32 * 1024, 100);
    channel.eventLoop().submit(() -> {
      channel.writeAndFlush(Unpooled.wrappedBuffer(pattern()));
      FlushThenClose.close(channel, channel, STALL_MILLIS);
    }).sync();

    ByteBuf wire = Unpooled.wrappedBuffer(received.get(60, TimeUnit.SECONDS));
    ByteArrayOutputStream payload = new ByteArrayOutputStream();
    int opcode;
    do {
      assertTrue(wire.isReadable(), "the connection ended after " + payload.size() + " bytes, without a Close");
      opcode = wire.readUnsignedByte() & 0x0f;
      int length = wire.readUnsignedByte(); // a server's frames are not masked
      long size = length == 126 ? wire.readUnsignedShort() : length == 127 ? wire.readLong() : length;
      assertTrue(wire.readableBytes() >= size,
          "the connection ended in a frame, after " + payload.size() + " bytes, without a Close");
      byte[] bytes = new byte[(int) size];
      wire.readBytes(bytes);
      if (opcode == 0x2) {
        payload.write(bytes);
      } else {
        assertEquals(0x8, opcode, "binary frames, then Close");
        assertEquals(1001, ((bytes[0] & 0xff) << 8) | (bytes[1] & 0xff));
      }
    } while (opcode != 0x8);
    assertEquals(0, wire.readableBytes(), "nothing after the Close, then EOF");
    wire.release();
    assertEquals(QUEUED, payload.size(), "every byte queued before the close reached the peer");
    assertArrayEquals(pattern(), payload.toByteArray());
  }

  /**
   * {@link OutboundStall} over a connection's whole life (as a gRPC-Web connection's send timeout runs): nothing
   * queued is no stall, however long it lasts; bytes queued that do not leave are.
   */
  @Test
  void aStallWatchFiresOnlyOnceQueuedBytesStopLeaving() throws Exception {
    java.util.concurrent.CountDownLatch stalled = new java.util.concurrent.CountDownLatch(1);
    channel.eventLoop().submit(() -> OutboundStall.whileQueued(channel, 500, stalled::countDown)).sync();
    assertFalse(stalled.await(2_000, TimeUnit.MILLISECONDS), "fired with nothing queued");
    long queued = System.nanoTime();
    channel.writeAndFlush(Unpooled.wrappedBuffer(pattern())); // the peer reads none of it
    assertTrue(stalled.await(60, TimeUnit.SECONDS), "did not fire although nothing left");
    // Timed from the last check that found nothing queued: a fifth of the timeout before the bytes came, or more if
    // the event loop ran that check late.
    assertTrue(System.nanoTime() - queued >= TimeUnit.MILLISECONDS.toNanos(300), "fired long before the stall timeout");
  }

  /**
   * Bytes leaving while more are queued behind them, faster than they leave (a stream topped up as it drains): what
   * is queued never goes down, yet the first of it moves on, and that is progress. A watch that counted only a fall in
   * what is queued cut such a peer though it read all along.
   */
  @Test
  void aStallWatchSeesProgressWhileMoreIsQueuedThanLeaves() throws Exception {
    java.util.concurrent.CountDownLatch stalled = new java.util.concurrent.CountDownLatch(1);
    channel.eventLoop().submit(() -> OutboundStall.whileQueued(channel, 1_000, stalled::countDown)).sync();
    // Every 100 ms 64 KiB more is queued and the peer reads 32 KiB: the queue grows all the time.
    java.util.concurrent.ScheduledFuture<?> writer = channel.eventLoop().scheduleAtFixedRate(
        () -> channel.writeAndFlush(Unpooled.wrappedBuffer(new byte[64 * 1024])), 0, 100, TimeUnit.MILLISECONDS);
    readPaced(32 * 1024, 100);
    try {
      assertFalse(stalled.await(3_000, TimeUnit.MILLISECONDS), "cut a peer that read all along");
    } finally {
      writer.cancel(false);
    }
  }

  /** Queues {@link #QUEUED} bytes for the peer, most of which cannot leave at once, then closes after the flush. */
  private void writeQueuedThenClose() throws Exception {
    channel.eventLoop().submit(() -> {
      channel.write(Unpooled.wrappedBuffer(pattern()));
      FlushThenClose.close(channel, channel, STALL_MILLIS);
    }).sync();
  }

  /** Reads {@code chunk} bytes every {@code intervalMillis} until EOF; completes with all that was read. */
  private CompletableFuture<byte[]> readPaced(int chunk, long intervalMillis) throws IOException {
    InputStream in = peer.getInputStream();
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    CompletableFuture<byte[]> done = new CompletableFuture<>();
    reader.scheduleAtFixedRate(() -> {
      try {
        byte[] read = in.readNBytes(chunk);
        all.write(read);
        if (read.length < chunk) {
          done.complete(all.toByteArray());
          throw new IllegalStateException("EOF: no more reads"); // ends the schedule
        }
      } catch (IOException e) {
        done.completeExceptionally(e);
        throw new IllegalStateException(e);
      }
    }, 0, intervalMillis, TimeUnit.MILLISECONDS);
    return done;
  }

  private static byte[] pattern() {
    byte[] bytes = new byte[QUEUED];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) (i * 31 + (i >>> 8));
    }
    return bytes;
  }
}
