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
 * relayed normally, at the pace of a slow uplink once {@link #slowUplink} was called. Plain sockets and threads, so it
 * shares nothing with the code under test.
 */
public final class FaultInjectingRelay implements AutoCloseable {

  /** One relayed connection: both sockets, and whether bytes still flow. */
  private static final class Link {
    final Socket client;
    final Socket upstream;
    volatile boolean stalled;
    /** Set once the client spoke after {@link #stallAfterTheNextAnswer}: the server's next bytes end the flow. */
    volatile boolean answerDue;

    Link(Socket client, Socket upstream) {
      this.client = client;
      this.upstream = upstream;
    }
  }

  private final ServerSocket listener;
  private final InetSocketAddress target;
  private final List<Link> links = new ArrayList<>();
  private final AtomicInteger accepted = new AtomicInteger();
  private volatile boolean stallAfterAnswer;
  /** What clients send passes at most this many bytes at a time, {@link #uplinkPauseMillis} apart; 0: at once. */
  private volatile int uplinkBytes;
  private volatile long uplinkPauseMillis;

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

  /**
   * On every connection, once the client next sends bytes, the server's next bytes are still passed on and then the
   * connection stalls as with {@link #stallCurrentConnections}. On an idle tunnel the client's next bytes are a
   * WebSocket Ping, so the last bytes to arrive are its Pong.
   */
  public void stallAfterTheNextAnswer() {
    stallAfterAnswer = true;
  }

  /**
   * From now on, what clients send is passed on at most {@code bytes} at a time, {@code pauseMillis} apart, on every
   * connection: a slow uplink, whose bytes keep arriving however long a whole TLS record or message takes.
   */
  public void slowUplink(int bytes, long pauseMillis) {
    if (bytes <= 0 || pauseMillis < 0) {
      throw new IllegalArgumentException("bytes: " + bytes + ", pauseMillis: " + pauseMillis
          + " (expected: bytes > 0, pauseMillis >= 0)");
    }
    uplinkPauseMillis = pauseMillis;
    uplinkBytes = bytes;
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
        pump(link, client, upstream, true, "fault-relay-up");
        pump(link, upstream, client, false, "fault-relay-down");
      } catch (IOException e) {
        reset(client);
      }
    }
  }

  private void pump(Link link, Socket from, Socket to, boolean uplink, String name) throws IOException {
    InputStream in = from.getInputStream();
    OutputStream out = to.getOutputStream();
    Thread t = new Thread(() -> {
      byte[] buffer = new byte[16 * 1024];
      try {
        int n;
        while ((n = in.read(buffer)) != -1) {
          if (stallAfterAnswer && uplink) {
            link.answerDue = true; // before the bytes leave: their answer may come back before this pump goes on
          }
          int slow = uplink ? uplinkBytes : 0;
          for (int sent = 0; sent < n && !link.stalled; ) {
            int piece = slow > 0 ? Math.min(slow, n - sent) : n - sent;
            out.write(buffer, sent, piece);
            out.flush();
            sent += piece;
            if (slow > 0) {
              Thread.sleep(uplinkPauseMillis); // paces the link; nothing waits on it
            }
          }
          if (link.answerDue && !uplink) {
            link.stalled = true;
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
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        close(to);
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
