package dev.wsgrpc.examples.interop;

import dev.wsgrpc.server.ServerTls;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.testing.integration.TestServiceGrpc;
import io.grpc.testing.integration.TestServiceImpl;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The standard gRPC interop server ({@code grpc.testing.TestService}) reached through WebSocket, so that any interop
 * client that can dial a wsgrpc URL (ours, or a peer written in another language) can check itself against it.
 *
 * <p>Usage: {@code InteropServer [port] [--tls CERT_PEM KEY_PEM]} (default port 8080; 0 picks a free port). It prints
 * the URL to dial ({@code ws://localhost:PORT/grpc}, or {@code wss://} with {@code --tls}), then serves until
 * interrupted. It also serves {@code grpc.health.v1.Health}, reporting SERVING, for load balancers and probes.
 */
public final class InteropServer {

  private static final String USAGE = "usage: InteropServer [port] [--tls CERT_PEM KEY_PEM]";

  /**
   * Starts the server on {@code port} (0 for a free one) with {@code options} (wss when they carry TLS). Shutting
   * the returned server down also stops the threads the test service uses.
   */
  public static Server start(int port, WebSocketServerOptions options) throws IOException {
    // The test service paces its streamed responses on this scheduler; it is ours to stop with the server.
    ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(2, runnable -> {
      Thread thread = new Thread(runnable, "interop-test-service");
      thread.setDaemon(true);
      return thread;
    });
    // The jar's interceptors echo x-grpc-test-echo-initial into the response headers and
    // x-grpc-test-echo-trailing-bin into the trailers, which the custom_metadata case checks.
    ServerServiceDefinition testService =
        ServerInterceptors.intercept(new TestServiceImpl(scheduler), TestServiceImpl.interceptors());
    HealthStatusManager health = new HealthStatusManager();
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.SERVING);
    health.setStatus(TestServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);

    Server server;
    try {
      server = WebSocketServers.newServerBuilder(port, options)
          .addService(testService)
          .addService(health.getHealthService())
          .build()
          .start();
    } catch (IOException | RuntimeException e) {
      scheduler.shutdownNow();
      throw e;
    }
    return new OwningServer(server, scheduler, health);
  }

  public static void main(String[] args) throws Exception {
    int port = 8080;
    File cert = null;
    File key = null;
    boolean portSeen = false;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--tls") && i + 2 < args.length) {
        cert = new File(args[++i]);
        key = new File(args[++i]);
      } else if (!portSeen && args[i].matches("\\d{1,5}") && Integer.parseInt(args[i]) <= 65535) {
        port = Integer.parseInt(args[i]);
        portSeen = true;
      } else {
        System.err.println(USAGE);
        System.exit(2);
      }
    }
    // ServerTls.pemFiles(...) builds the TLS context for a WebSocket server: ALPN http/1.1, since HTTP/2 runs inside the tunnel.
    WebSocketServerOptions options = cert == null
        ? WebSocketServerOptions.DEFAULT
        : WebSocketServerOptions.newBuilder().tls(ServerTls.pemFiles(cert, key)).build();
    Server server = start(port, options);
    int bound = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    System.out.println("InteropServer listening on " + (cert == null ? "ws" : "wss") + "://localhost:" + bound + "/grpc");
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      // Let in-flight calls finish (GOAWAY, then WebSocket close 1001) before the JVM exits.
      server.shutdown();
      try {
        server.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }));
    server.awaitTermination();
  }

  /**
   * The started server plus what it needs besides its sockets: io.grpc.Server has no termination hook, so this
   * forwards every call and stops the scheduler and the health service when the server goes down.
   */
  private static final class OwningServer extends Server {
    private final Server delegate;
    private final ScheduledExecutorService scheduler;
    private final HealthStatusManager health;
    private final AtomicBoolean released = new AtomicBoolean();

    OwningServer(Server delegate, ScheduledExecutorService scheduler, HealthStatusManager health) {
      this.delegate = delegate;
      this.scheduler = scheduler;
      this.health = health;
    }

    /** Stops the scheduler once the server has terminated: in-flight streams still need it while they drain. */
    private void releaseWhenTerminated() {
      if (!released.compareAndSet(false, true)) {
        return;
      }
      // NOT_SERVING to health watchers first, so they go elsewhere while calls drain.
      health.enterTerminalState();
      Thread reaper = new Thread(() -> {
        try {
          delegate.awaitTermination();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          scheduler.shutdownNow();
        }
      }, "interop-server-reaper");
      reaper.setDaemon(true);
      reaper.start();
    }

    @Override
    public Server start() throws IOException {
      delegate.start();
      return this;
    }

    @Override
    public int getPort() {
      return delegate.getPort();
    }

    @Override
    public List<? extends SocketAddress> getListenSockets() {
      return delegate.getListenSockets();
    }

    @Override
    public List<ServerServiceDefinition> getServices() {
      return delegate.getServices();
    }

    @Override
    public List<ServerServiceDefinition> getImmutableServices() {
      return delegate.getImmutableServices();
    }

    @Override
    public List<ServerServiceDefinition> getMutableServices() {
      return delegate.getMutableServices();
    }

    @Override
    public Server shutdown() {
      delegate.shutdown();
      releaseWhenTerminated();
      return this;
    }

    @Override
    public Server shutdownNow() {
      delegate.shutdownNow();
      releaseWhenTerminated();
      return this;
    }

    @Override
    public boolean isShutdown() {
      return delegate.isShutdown();
    }

    @Override
    public boolean isTerminated() {
      return delegate.isTerminated();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
      return delegate.awaitTermination(timeout, unit);
    }

    @Override
    public void awaitTermination() throws InterruptedException {
      delegate.awaitTermination();
    }

    @Override
    public String toString() {
      return delegate.toString();
    }
  }

  private InteropServer() {}
}
