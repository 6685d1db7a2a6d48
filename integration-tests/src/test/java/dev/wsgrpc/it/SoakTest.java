package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.it.UpstreamReplicas.JavaReplica;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A soak: mixed load through nginx to {@code tunnel-server.jar} in gateway (proxy) mode in front of a grpc-java
 * upstream: unary calls on long-lived tunnels, server streams, bidi streams, and tunnels opened and closed all the
 * time. No call may fail, and the jar's heap and Netty direct memory, read from its {@code /metrics} after a full GC,
 * must be flat: the last sample no more than 32 MiB above the first (taken after a warm-up).
 *
 * <p>Every build runs it for 40 s; {@code -Dsoak.seconds=600} runs the full ten minutes (docs/SECURITY.md has the
 * figures of a full run). The jar's memory is sampled every {@code soak.seconds / 10} seconds and printed.
 */
class SoakTest {

  private static final long SECONDS = Long.getLong("soak.seconds", 40);
  private static final long GROWTH_LIMIT = 32L * 1024 * 1024;

  @Test
  @Timeout(value = 1800, unit = TimeUnit.SECONDS)
  void mixedLoadThroughNginxFailsNoCallAndKeepsMemoryFlat() throws Exception {
    ExecutorService pool = Executors.newCachedThreadPool();
    List<ManagedChannel> channels = new ArrayList<>();
    try (JavaReplica upstream = new JavaReplica("upstream");
        TunnelServerJar jar = TunnelServerJar.start("--port", "0", "--bind", "127.0.0.1", "--upstream",
            upstream.address());
        ReverseProxy nginx = startNginx(jar)) {
      String url = "ws://localhost:" + nginx.port() + "/grpc";
      AtomicLong calls = new AtomicLong();
      AtomicLong tunnelsOpened = new AtomicLong();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
      List<CompletableFuture<Void>> workers = new ArrayList<>();

      // Warm up, then the first memory sample.
      ManagedChannel shared = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url).build())
          .build();
      channels.add(shared);
      EchoGrpc.EchoBlockingStub sharedStub = EchoGrpc.newBlockingStub(shared);
      for (int i = 0; i < 200; i++) {
        sharedStub.withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(1024));
      }
      List<TunnelServerJar.Memory> samples = new ArrayList<>();
      samples.add(jar.memory(jar.port()));

      // Unary calls on the shared tunnel.
      for (int w = 0; w < 2; w++) {
        workers.add(worker(pool, deadline, failure, () -> {
          sharedStub.withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(1024));
          calls.incrementAndGet();
        }));
      }
      // Server streams of 50 messages of 4 KiB.
      workers.add(worker(pool, deadline, failure, () -> {
        Iterator<EchoResponse> it = sharedStub.withDeadlineAfter(30, TimeUnit.SECONDS).serverStream(
            EchoRequest.newBuilder().setPayload(ByteString.copyFrom(new byte[4096])).setCount(50).build());
        int n = 0;
        while (it.hasNext()) {
          it.next();
          n++;
        }
        assertEquals(50, n, "messages of a server stream");
        calls.incrementAndGet();
      }));
      // Bidi streams of 20 round trips.
      workers.add(worker(pool, deadline, failure, () -> {
        bidi(shared, 20);
        calls.incrementAndGet();
      }));
      // Tunnels opened, used and closed.
      workers.add(worker(pool, deadline, failure, () -> {
        ManagedChannel c = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url).build()).build();
        try {
          EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(c);
          for (int i = 0; i < 3; i++) {
            stub.withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(256));
            calls.incrementAndGet();
          }
          bidi(c, 2);
          calls.incrementAndGet();
          tunnelsOpened.incrementAndGet();
        } finally {
          c.shutdown();
          if (!c.awaitTermination(30, TimeUnit.SECONDS)) {
            throw new AssertionError("a tunnel did not close within 30 s");
          }
        }
      }));

      long step = Math.max(1, SECONDS / 10);
      while (System.nanoTime() < deadline && failure.get() == null) {
        long left = TimeUnit.NANOSECONDS.toSeconds(deadline - System.nanoTime());
        try {
          // Wakes early only if every worker has stopped (a failure).
          CompletableFuture.allOf(workers.toArray(new CompletableFuture[0]))
              .get(Math.min(step, Math.max(1, left)), TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException sampleNow) {
          // time for the next sample
        }
        if (System.nanoTime() < deadline) {
          samples.add(jar.memory(jar.port()));
        }
      }
      for (CompletableFuture<Void> w : workers) {
        w.get(120, TimeUnit.SECONDS);
      }
      samples.add(jar.memory(jar.port()));
      System.out.println("soak of " + SECONDS + " s: " + calls.get() + " calls and streams, " + tunnelsOpened.get()
          + " tunnels opened and closed, 0 failed; the jar's memory after GC: " + samples);
      if (failure.get() != null) {
        throw new AssertionError("a call failed after " + calls.get() + " calls", failure.get());
      }
      TunnelServerJar.Memory first = samples.get(0);
      TunnelServerJar.Memory last = samples.get(samples.size() - 1);
      assertTrue(last.heap() - first.heap() < GROWTH_LIMIT, "heap grew: " + samples);
      assertTrue(last.direct() - first.direct() < GROWTH_LIMIT, "direct memory grew: " + samples);
      assertTrue(calls.get() > 100, "the soak made only " + calls.get() + " calls");
    } finally {
      for (ManagedChannel c : channels) {
        c.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
      pool.shutdownNow();
    }
  }

  private static ReverseProxy startNginx(TunnelServerJar jar) throws Exception {
    jar.awaitUrl();
    return ReverseProxy.nginxTunnel(jar.port(), null, "1h").start();
  }

  interface Step {
    void run() throws Exception;
  }

  /** Runs {@code step} again and again until the deadline or the first failure (kept in {@code failure}). */
  private static CompletableFuture<Void> worker(ExecutorService pool, long deadline, AtomicReference<Throwable> failure,
      Step step) {
    return CompletableFuture.runAsync(() -> {
      while (System.nanoTime() < deadline && failure.get() == null) {
        try {
          step.run();
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        }
      }
    }, pool);
  }

  /** One bidi stream of {@code messages} round trips, each sent after the previous answer. */
  private static void bidi(ManagedChannel channel, int messages) throws Exception {
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<Throwable> error = new AtomicReference<>();
    AtomicLong received = new AtomicLong();
    AtomicReference<StreamObserver<EchoRequest>> requests = new AtomicReference<>();
    EchoRequest message = EchoService.payload(512);
    requests.set(EchoGrpc.newStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).bidi(
        new StreamObserver<EchoResponse>() {
          @Override
          public void onNext(EchoResponse value) {
            if (received.incrementAndGet() < messages) {
              requests.get().onNext(message);
            } else {
              requests.get().onCompleted();
            }
          }

          @Override
          public void onError(Throwable t) {
            error.set(t);
            done.countDown();
          }

          @Override
          public void onCompleted() {
            done.countDown();
          }
        }));
    requests.get().onNext(message);
    if (!done.await(60, TimeUnit.SECONDS)) {
      throw new AssertionError("a bidi stream did not end within 60 s");
    }
    if (error.get() != null) {
      throw new AssertionError("a bidi stream failed", error.get());
    }
    assertEquals(messages, received.get(), "answers on a bidi stream");
  }
}
