package dev.wsgrpc.testing;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What a test opened, closed when it ends, last opened first:
 *
 * <pre>{@code
 * private final Closer closer = new Closer();
 *
 * @AfterEach
 * void stop() throws Exception {
 *   closer.close();
 * }
 * ...
 * TunnelServerJar jar = closer.add(TunnelServerJar.start(...));
 * ManagedChannel channel = closer.add(WebSocketChannels.newChannel(url));
 * }</pre>
 *
 * <p>Channels and servers are shut down at once ({@code shutdownNow}) and given 10 s to terminate. Every resource is
 * closed even when closing another failed; the first failure is thrown, with the later ones suppressed in it.
 */
public final class Closer implements AutoCloseable {

  private final List<AutoCloseable> resources = new ArrayList<>();

  /** Closes {@code resource} when the test ends; returns it. */
  public synchronized <T extends AutoCloseable> T add(T resource) {
    resources.add(resource);
    return resource;
  }

  /** Shuts {@code channel} down when the test ends and waits up to 10 s for it; returns it. */
  public ManagedChannel add(ManagedChannel channel) {
    add(() -> channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    return channel;
  }

  /** Shuts {@code server} down when the test ends and waits up to 10 s for it; returns it. */
  public Server add(Server server) {
    add(() -> server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    return server;
  }

  /** Closes everything added, last first. */
  @Override
  public void close() throws Exception {
    List<AutoCloseable> toClose;
    synchronized (this) {
      toClose = new ArrayList<>(resources);
      resources.clear();
    }
    Exception first = null;
    for (int i = toClose.size() - 1; i >= 0; i--) {
      try {
        toClose.get(i).close();
      } catch (Exception e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
