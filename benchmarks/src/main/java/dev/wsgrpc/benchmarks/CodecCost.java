package dev.wsgrpc.benchmarks;

import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.core.internal.FramePipeline;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.FastThreadLocalThread;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The frame handlers alone, on one thread and without sockets, so that other load on the machine barely moves the
 * figures: a client pipeline writes what gRPC writes for 1 MiB messages (a 9-byte HTTP/2 frame header and a 16 KiB
 * slice, four times per flush), its output is cut into 64 KiB "reads" as a socket would, and a server pipeline
 * decodes them. CPU time per GiB with the tunnel's handlers (masked upload, unmasked download) and without them (the
 * same bytes moved and cut, no framing), and CPU time per small flush (four buffers of 9, 40, 9 and 107 bytes, as
 * in a unary call).
 */
final class CodecCost {

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final int MIB = 1 << 20;

  /**
   * Figures, each the median of {@code rounds} rounds after two rounds of warm-up, measured on a Netty thread (as
   * event loops are: thread-local buffer caches and recyclers behave as they do there).
   */
  static Map<String, Stats> measure(int rounds, int mibPerRound) throws InterruptedException {
    Map<String, Stats> out = new LinkedHashMap<>();
    Thread thread = new FastThreadLocalThread(() -> out.putAll(measureHere(rounds, mibPerRound)), "codec-cost");
    thread.start();
    thread.join();
    return out;
  }

  private static Map<String, Stats> measureHere(int rounds, int mibPerRound) {
    // Configured as grpc-java configures the allocator of its channels (2 MiB chunks).
    PooledByteBufAllocator alloc = new PooledByteBufAllocator(true, PooledByteBufAllocator.defaultNumHeapArena(),
        PooledByteBufAllocator.defaultNumDirectArena(), PooledByteBufAllocator.defaultPageSize(), 8,
        PooledByteBufAllocator.defaultSmallCacheSize(), PooledByteBufAllocator.defaultNormalCacheSize(),
        PooledByteBufAllocator.defaultUseCacheForAllThreads());
    Map<String, List<Double>> samples = new LinkedHashMap<>();
    for (int r = -2; r < rounds; r++) { // two rounds of warm-up for the compiler
      if (r == 0) {
        samples.clear();
      }
      for (String mode : List.of("plain", "masked", "unmasked")) {
        samples.computeIfAbsent(mode + " (CPU ms/GiB)", k -> new ArrayList<>()).add(bulk(alloc, mode, mibPerRound));
        samples.computeIfAbsent(mode + " small flush (CPU ns)", k -> new ArrayList<>())
            .add(small(alloc, mode, mibPerRound * 100));
      }
    }
    Map<String, Stats> out = new LinkedHashMap<>();
    samples.forEach((k, v) -> out.put(k, Stats.of(v)));
    return out;
  }

  /** A client and a server pipeline; {@code plain} has no frame handlers. */
  private static EmbeddedChannel[] pair(PooledByteBufAllocator alloc, String mode) {
    EmbeddedChannel client = new EmbeddedChannel();
    EmbeddedChannel server = new EmbeddedChannel();
    client.config().setAllocator(alloc);
    server.config().setAllocator(alloc);
    client.pipeline().addLast("tail", new ChannelInboundHandlerAdapter());
    server.pipeline().addLast("tail", new ChannelInboundHandlerAdapter() {
      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ((ByteBuf) msg).release();
      }
    });
    if (!mode.equals("plain")) {
      boolean masked = mode.equals("masked");
      // No pings: only the codec's cost is measured.
      TunnelSettings settings = TunnelSettings.newBuilder().maxInboundFramePayload(MIB)
          .maxOutboundFramePayload(64 * 1024).pingInterval(Duration.ZERO).build();
      FramePipeline.install(client.pipeline(), "tail", masked ? FramePipeline.Role.CLIENT : FramePipeline.Role.SERVER,
          settings, "bench");
      FramePipeline.install(server.pipeline(), "tail", masked ? FramePipeline.Role.SERVER : FramePipeline.Role.CLIENT,
          settings, "bench");
    }
    return new EmbeddedChannel[] {client, server};
  }

  private static double bulk(PooledByteBufAllocator alloc, String mode, int mib) {
    EmbeddedChannel[] pair = pair(alloc, mode);
    ChannelHandlerContext writer = pair[0].pipeline().context("tail");
    Socket socket = new Socket(alloc, pair, 64 * 1024);
    long start = THREADS.getCurrentThreadCpuTime();
    for (int m = 0; m < mib; m++) {
      ByteBuf message = alloc.directBuffer(MIB);
      message.writerIndex(MIB);
      while (message.isReadable()) {
        for (int k = 0; k < 4 && message.isReadable(); k++) {
          writer.write(alloc.directBuffer(9).writeZero(9));
          writer.write(message.readRetainedSlice(Math.min(16 * 1024, message.readableBytes())));
        }
        writer.flush();
        socket.transfer();
      }
      message.release();
    }
    double cpu = THREADS.getCurrentThreadCpuTime() - start;
    socket.close();
    return cpu / 1e6 / (socket.bytes / (1024.0 * MIB));
  }

  private static double small(PooledByteBufAllocator alloc, String mode, int flushes) {
    EmbeddedChannel[] pair = pair(alloc, mode);
    ChannelHandlerContext writer = pair[0].pipeline().context("tail");
    Socket socket = new Socket(alloc, pair, 64 * 1024);
    int[] sizes = {9, 40, 9, 107};
    long start = THREADS.getCurrentThreadCpuTime();
    for (int f = 0; f < flushes; f++) {
      for (int size : sizes) {
        ByteBuf b = alloc.directBuffer(size);
        writer.write(b.writerIndex(size));
      }
      writer.flush();
      socket.transfer();
      socket.deliver();
    }
    double cpu = THREADS.getCurrentThreadCpuTime() - start;
    socket.close();
    return cpu / flushes;
  }

  /** Moves what the client wrote into the server in reads of {@code readSize} bytes, as a socket would. */
  private static final class Socket {
    private final PooledByteBufAllocator alloc;
    private final EmbeddedChannel client;
    private final EmbeddedChannel server;
    private final int readSize;
    private ByteBuf read;
    long bytes;

    Socket(PooledByteBufAllocator alloc, EmbeddedChannel[] pair, int readSize) {
      this.alloc = alloc;
      this.client = pair[0];
      this.server = pair[1];
      this.readSize = readSize;
    }

    void transfer() {
      Object o;
      while ((o = client.readOutbound()) != null) {
        ByteBuf b = (ByteBuf) o;
        bytes += b.readableBytes();
        while (b.isReadable()) {
          if (read == null) {
            read = alloc.directBuffer(readSize);
          }
          read.writeBytes(b, Math.min(b.readableBytes(), read.writableBytes()));
          if (!read.isWritable()) {
            deliver();
          }
        }
        b.release();
      }
    }

    void deliver() {
      if (read != null) {
        server.writeInbound(read);
        read = null;
      }
    }

    void close() {
      deliver();
      client.finishAndReleaseAll();
      server.finishAndReleaseAll();
    }
  }

  private CodecCost() {}
}
