package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.handler.ssl.SslContext;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The client half of the idle-tunnel measurement, in its own JVM (one process may not hold both ends of 10,000
 * connections under the file limit): {@code IdleClients KIND PORT COUNT [CA|-] [SOURCE]} opens COUNT channels, each
 * proving its connection with one unary call, prints {@code READY n}, and holds them idle until {@code EXIT} or end
 * of input. CA is the trust anchor for h2 and wss ({@code -} for none); SOURCE a loopback address to connect from
 * (default: the system's choice), so that several processes together may open more connections to one server than
 * one source address has ephemeral ports.
 */
public final class IdleClients {

  private static final int BATCH = 100;

  public static void main(String[] args) throws Exception {
    String kind = args[0];
    int port = Integer.parseInt(args[1]);
    int count = Integer.parseInt(args[2]);
    File ca = args.length > 3 && !args[3].equals("-") ? new File(args[3]) : null;
    String source = args.length > 4 ? args[4] : null;
    List<ManagedChannel> channels = new ArrayList<>(count);
    AtomicInteger ready = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    try (Transports loops = new Transports(Runtime.getRuntime().availableProcessors())) {
      Supplier<ManagedChannel> factory = channels(loops, kind, port, ca, source);
      for (int start = 0; start < count; start += BATCH) {
        int n = Math.min(BATCH, count - start);
        CountDownLatch batch = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
          ManagedChannel channel = factory.get();
          channels.add(channel);
          EchoGrpc.newStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS).unary(UnaryLatency.REQUEST,
              new StreamObserver<EchoResponse>() {
                @Override
                public void onNext(EchoResponse value) {}

                @Override
                public void onError(Throwable t) {
                  if (failed.getAndIncrement() == 0) {
                    System.err.println("first failure: " + t);
                  }
                  batch.countDown();
                }

                @Override
                public void onCompleted() {
                  ready.incrementAndGet();
                  batch.countDown();
                }
              });
        }
        batch.await(120, TimeUnit.SECONDS);
      }
      System.out.println("READY " + ready.get() + " FAILED " + failed.get());
      System.out.flush();
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      String line;
      while ((line = in.readLine()) != null && !line.equals("EXIT")) {
        // Idle: the tunnels stay open until told otherwise.
      }
      for (ManagedChannel channel : channels) {
        channel.shutdownNow();
      }
    }
    System.exit(0);
  }

  /** Makes channels of {@code kind}, with TLS contexts and credentials built once for all of them. */
  private static Supplier<ManagedChannel> channels(Transports loops, String kind, int port, File ca, String source)
      throws Exception {
    NettyChannelBuilder.LocalSocketPicker picker = source == null ? null : new NettyChannelBuilder.LocalSocketPicker() {
      @Override
      public java.net.SocketAddress createSocketAddress(java.net.SocketAddress remote, io.grpc.Attributes attrs) {
        return new java.net.InetSocketAddress(source, 0);
      }
    };
    if (kind.startsWith("ws")) {
      TunnelSetup.Client client = TunnelSetup.Client.of(
          (kind.equals("wss") ? "wss://localhost:" : "ws://127.0.0.1:") + port + "/grpc", ca, true);
      return () -> client.newChannel(loops, picker);
    }
    SslContext tls = ca == null ? null : GrpcSslContexts.forClient().trustManager(ca).build();
    return () -> {
      NettyChannelBuilder builder = NettyChannelBuilder.forAddress(tls != null ? "localhost" : "127.0.0.1", port);
      if (tls != null) {
        builder.sslContext(tls);
      } else {
        builder.usePlaintext();
      }
      if (picker != null) {
        builder.localSocketPicker(picker);
      }
      return loops.configure(builder).build();
    };
  }

  private IdleClients() {}
}
