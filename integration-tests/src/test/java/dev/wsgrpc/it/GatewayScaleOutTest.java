package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.it.UpstreamReplicas.JavaReplica;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two gateway replicas (proxy mode, real processes) behind a real balancer, clients calling continuously. One gateway
 * gets SIGTERM: its tunnels drain, its clients reconnect through the balancer to the other gateway, and clients using
 * waitForReady plus a retry policy lose no call. The balancer configurations are the files docs/DEPLOYMENT.md quotes.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class GatewayScaleOutTest {

  private static final int CLIENTS = 4;
  /** What docs/DEPLOYMENT.md recommends clients use behind a fleet of gateways. */
  static final Map<String, Object> RETRY_POLICY = Map.of("methodConfig", List.of(Map.of(
      "name", List.of(Map.of()),
      "waitForReady", true,
      "retryPolicy", Map.of("maxAttempts", 5.0, "initialBackoff", "0.1s", "maxBackoff", "2s",
          "backoffMultiplier", 2.0, "retryableStatusCodes", List.of("UNAVAILABLE")))));

  private final Closer closer = new Closer();

  @AfterEach
  void stop() throws Exception {
    closer.close();
  }

  @Test
  void behindHaproxyASigtermedGatewayDrainsAndItsClientsMoveToTheOtherWithoutLosingACall() throws Exception {
    scaleOut(true);
  }

  @Test
  void behindNginxASigtermedGatewayDrainsAndItsClientsMoveToTheOtherWithoutLosingACall() throws Exception {
    scaleOut(false);
  }

  private void scaleOut(boolean haproxy) throws Exception {
    JavaReplica a = new JavaReplica("java-a");
    closer.add(a);
    JavaReplica b = new JavaReplica("java-b");
    closer.add(b);
    String upstreams = a.address() + "," + b.address();
    TunnelServerJar first = TunnelServerJar.start("--port", "0", "--upstream", upstreams, "--drain-timeout", "20s");
    closer.add(first);
    TunnelServerJar second = TunnelServerJar.start("--port", "0", "--upstream", upstreams, "--drain-timeout", "20s");
    closer.add(second);
    first.awaitUrl();
    second.awaitUrl();
    int port = ExternalProgram.freePort();
    ReverseProxy balancer;
    if (haproxy) {
      balancer = ReverseProxy.haproxy(port, "proxies/haproxy-gateways.cfg", Map.of("BIND", "127.0.0.1:" + port,
          "GATEWAY1", "127.0.0.1:" + first.port(), "GATEWAY2", "127.0.0.1:" + second.port()));
    } else {
      balancer = ReverseProxy.nginx(port, ReverseProxy.template("proxies/nginx-gateways.conf", Map.of(
          "LISTEN", "127.0.0.1:" + port, "GATEWAY1", "127.0.0.1:" + first.port(),
          "GATEWAY2", "127.0.0.1:" + second.port())));
    }
    closer.add(balancer);
    balancer.start();
    String url = "ws://127.0.0.1:" + port + "/grpc";

    ExecutorService pool = Executors.newCachedThreadPool();
    closer.add(pool::shutdownNow);
    UpstreamReplicas.Counter calls = new UpstreamReplicas.Counter();
    ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    CompletableFuture<Void> stopCalling = new CompletableFuture<>();
    // However the test ends: the loops must not outlive it, calling closed channels (which fail at once) for the rest
    // of the run.
    closer.add(() -> stopCalling.complete(null));
    List<CompletableFuture<Void>> loops = new ArrayList<>();
    for (int i = 0; i < CLIENTS; i++) {
      ManagedChannel channel = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url).build())
          .defaultServiceConfig(RETRY_POLICY).enableRetry().build();
      closer.add(channel);
      EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(channel);
      loops.add(CompletableFuture.runAsync(() -> {
        while (!stopCalling.isDone()) {
          try {
            stub.withDeadlineAfter(60, TimeUnit.SECONDS)
                .unary(EchoService.payload(8).toBuilder().setDelayMs(20).build());
            calls.increment();
          } catch (StatusRuntimeException e) {
            failures.add(e.getStatus().toString());
          }
        }
      }, pool));
    }
    // Both gateways carry tunnels (the balancer alternates), then the first is told to stop.
    first.awaitLog("tunnel open");
    second.awaitLog("tunnel open");
    int tunnelsOnSecond = count(second.stderr(), "tunnel open");
    first.terminate();
    assertEquals(0, first.awaitExit(Duration.ofSeconds(60)), first.stderr());
    assertTrue(first.stderr().contains("0 closed at the drain deadline"), first.stderr());

    // Every client goes on calling, now all through the second gateway.
    int atExit = calls.get();
    calls.awaitAtLeast(atExit + 20 * CLIENTS, "calls after the first gateway exited");
    stopCalling.complete(null);
    for (CompletableFuture<Void> loop : loops) {
      loop.get(60, TimeUnit.SECONDS);
    }
    assertEquals(List.of(), new ArrayList<>(failures), "calls lost while a gateway drained");
    assertTrue(count(second.stderr(), "tunnel open") > tunnelsOnSecond,
        "no client reconnected to the second gateway:\n" + second.stderr());
  }

  private static int count(String text, String what) {
    int n = 0;
    for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }
}
