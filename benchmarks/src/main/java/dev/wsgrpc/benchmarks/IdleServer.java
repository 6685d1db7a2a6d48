package dev.wsgrpc.benchmarks;

import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.Attributes;
import io.grpc.Server;
import io.grpc.ServerTransportFilter;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The server half of the idle-tunnel measurement, in a JVM of its own so that its heap holds nothing but the
 * server: {@code IdleServer KIND [CERT KEY]} with KIND one of h2c, h2, ws, wss. Prints {@code PORT p}, then answers
 * each {@code MEASURE} line on stdin with {@code HEAP bytes RSS bytes TRANSPORTS n} (after a full collection), and
 * exits on {@code EXIT} or end of input.
 */
public final class IdleServer {

  public static void main(String[] args) throws Exception {
    String kind = args[0];
    boolean tls = kind.equals("h2") || kind.equals("wss");
    AtomicInteger transports = new AtomicInteger();
    ServerTransportFilter counter = new ServerTransportFilter() {
      @Override
      public Attributes transportReady(Attributes attributes) {
        transports.incrementAndGet();
        return attributes;
      }

      @Override
      public void transportTerminated(Attributes attributes) {
        transports.decrementAndGet();
      }
    };
    NettyServerBuilder builder;
    InetSocketAddress address = new InetSocketAddress("127.0.0.1", 0);
    if (kind.startsWith("ws")) {
      WebSocketServerOptions.Builder options = WebSocketServerOptions.newBuilder();
      if (tls) {
        options.tls(ServerTls.pemFiles(new File(args[1]), new File(args[2])));
      }
      builder = WebSocketServers.newServerBuilder(address, options.build());
    } else {
      builder = NettyServerBuilder.forAddress(address);
      if (tls) {
        builder.sslContext(GrpcSslContexts.forServer(new File(args[1]), new File(args[2])).build());
      }
    }
    try (Transports loops = new Transports(Runtime.getRuntime().availableProcessors())) {
      Server server = loops.configure(builder).addService(new BenchService()).addTransportFilter(counter)
          .build().start();
      System.out.println("PORT " + ((InetSocketAddress) server.getListenSockets().get(0)).getPort());
      System.out.flush();
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      String line;
      while ((line = in.readLine()) != null && !line.equals("EXIT")) {
        if (line.equals("MEASURE")) {
          long heap = usedHeapAfterGc();
          System.out.println("HEAP " + heap + " RSS " + rss() + " TRANSPORTS " + transports.get());
          System.out.flush();
        }
      }
      server.shutdownNow();
    }
    System.exit(0);
  }

  /** Heap in use after full collections, once it stops shrinking. */
  static long usedHeapAfterGc() throws InterruptedException {
    long last = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(200);
      long used = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
      if (used >= last * 0.99) {
        return Math.min(used, last);
      }
      last = used;
    }
    return last;
  }

  /** Resident set size of this process in bytes (Linux), or -1. */
  static long rss() {
    try {
      for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (Exception e) {
      // Not Linux: no RSS.
    }
    return -1;
  }

  private IdleServer() {}
}
