package dev.wsgrpc.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;

/**
 * A loopback port whose connects get no answer, as on a black-holed address: a listening socket that never accepts,
 * its accept queue filled, so that the kernel drops further SYNs and a connect waits until its own timeout.
 */
public final class UnansweredPort implements AutoCloseable {

  private final ServerSocket listener;
  private final List<Socket> queued = new ArrayList<>();

  /** Listens on a free loopback port and fills its accept queue. */
  public UnansweredPort() throws IOException {
    this(InetAddress.getLoopbackAddress(), 0);
  }

  /**
   * Listens on {@code address} and {@code port} (0: a free one) and fills its accept queue: e.g. 127.0.0.2 on the
   * port of a server on 127.0.0.1, as a name's dead address beside its live one.
   */
  public UnansweredPort(InetAddress address, int port) throws IOException {
    listener = new ServerSocket(port, 1, address);
    InetSocketAddress bound = new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
    try {
      for (int i = 0; i < 16; i++) {
        Socket s = new Socket();
        queued.add(s);
        try {
          s.connect(bound, 500);
        } catch (SocketTimeoutException e) {
          return; // the queue is full
        }
      }
      throw new IllegalStateException("the accept queue of " + bound + " did not fill up");
    } catch (IOException | RuntimeException e) {
      close();
      throw e;
    }
  }

  /** The port. */
  public int port() {
    return listener.getLocalPort();
  }

  @Override
  public void close() throws IOException {
    for (Socket s : queued) {
      s.close();
    }
    listener.close();
  }
}
