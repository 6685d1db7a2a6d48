package dev.wsgrpc.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP relay on a loopback port that copies bytes to a target and can break the path the ways networks do: stop
 * forwarding on the connections it carries while keeping them open (a NAT or middlebox that lost its state, a peer
 * that froze: bytes vanish, nothing is reset), or cut them all at once with a TCP reset. New connections are always
 * relayed normally. Plain sockets and threads, so it shares nothing with the code under test.
 */
public final class FaultInjectingRelay implements AutoCloseable {

  /** One relayed connection: both sockets, and whether bytes still flow. */
  private static final class Link {
    final Socket client;
    final Socket upstream;
    volatile boolean stalled;

    Link(Socket client, Socket upstream) {
      this.client = client;
      this.upstream = upstream;
    }
  }

  private final ServerSocket listener;
  private final InetSocketAddress target;
  private final List<Link> links = new ArrayList<>();
  private final AtomicInteger accepted = new AtomicInteger();

  public FaultInjectingRelay(InetSocketAddress target) throws IOException {
    this.target = target;
    this.listener = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
    Thread acceptor = new Thread(this::acceptLoop, "fault-relay-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  public int port() {
    return listener.getLocalPort();
  }

  /** How many connections the relay has accepted so far. */
  public int connectionsAccepted() {
    return accepted.get();
  }

  /** From now on, bytes on every current connection are read and dropped in both directions; nothing is closed. */
  public void stallCurrentConnections() {
    synchronized (links) {
      for (Link link : links) {
        link.stalled = true;
      }
    }
  }

  /** Resets every current connection (RST, no FIN), as a crashed middlebox or a yanked cable would look. */
  public void cutCurrentConnections() {
    List<Link> current;
    synchronized (links) {
      current = new ArrayList<>(links);
      links.clear();
    }
    for (Link link : current) {
      reset(link.client);
      reset(link.upstream);
    }
  }

  private void acceptLoop() {
    while (!listener.isClosed()) {
      Socket client;
      try {
        client = listener.accept();
      } catch (IOException e) {
        return;
      }
      accepted.incrementAndGet();
      try {
        Socket upstream = new Socket();
        upstream.connect(target, 10_000);
        client.setTcpNoDelay(true);
        upstream.setTcpNoDelay(true);
        Link link = new Link(client, upstream);
        synchronized (links) {
          links.add(link);
        }
        pump(link, client, upstream, "fault-relay-up");
        pump(link, upstream, client, "fault-relay-down");
      } catch (IOException e) {
        reset(client);
      }
    }
  }

  private void pump(Link link, Socket from, Socket to, String name) throws IOException {
    InputStream in = from.getInputStream();
    OutputStream out = to.getOutputStream();
    Thread t = new Thread(() -> {
      byte[] buffer = new byte[16 * 1024];
      try {
        int n;
        while ((n = in.read(buffer)) != -1) {
          if (!link.stalled) {
            out.write(buffer, 0, n);
            out.flush();
          }
        }
        // A clean end on one side becomes a clean end on the other, unless the link is stalled.
        if (!link.stalled) {
          to.shutdownOutput();
        }
      } catch (IOException e) {
        // The other pump or a cut closed the sockets.
        if (!link.stalled) {
          close(to);
        }
      }
    }, name);
    t.setDaemon(true);
    t.start();
  }

  private static void reset(Socket socket) {
    try {
      socket.setSoLinger(true, 0);
    } catch (SocketException e) {
      // Already closed.
    }
    close(socket);
  }

  private static void close(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // Nothing left to do.
    }
  }

  @Override
  public void close() throws IOException {
    listener.close();
    cutCurrentConnections();
  }
}
