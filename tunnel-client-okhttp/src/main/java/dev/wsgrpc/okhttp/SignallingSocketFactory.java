package dev.wsgrpc.okhttp;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import javax.net.SocketFactory;

/**
 * The factory of the plain TCP socket OkHttp opens for one tunnel (to the server or to the proxy). Its sockets are
 * ordinary sockets that tell the {@link Tunnel} when they connect and every time OkHttp writes to them, which is
 * how a writer waiting for room in OkHttp's send queue learns that the queue moved (see {@link Tunnel}).
 *
 * <p>Without a proxy, a socket dials the address and port grpc-java resolved and handed to the tunnel factory,
 * whatever OkHttp derived from the URL: that is how {@code connectTo} dials another port than the URL's.
 */
final class SignallingSocketFactory extends SocketFactory {

  private final Tunnel tunnel;
  private final InetSocketAddress dial;

  /** Sockets for {@code tunnel} that connect to {@code dial}, or where OkHttp says when {@code dial} is null. */
  SignallingSocketFactory(Tunnel tunnel, InetSocketAddress dial) {
    this.tunnel = tunnel;
    this.dial = dial;
  }

  @Override
  public Socket createSocket() {
    return new SignallingSocket(tunnel, dial);
  }

  @Override
  public Socket createSocket(String host, int port) throws IOException {
    Socket s = createSocket();
    s.connect(new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
    Socket s = createSocket();
    s.bind(new InetSocketAddress(localHost, localPort));
    s.connect(new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(InetAddress host, int port) throws IOException {
    Socket s = createSocket();
    s.connect(new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
      throws IOException {
    Socket s = createSocket();
    s.bind(new InetSocketAddress(localAddress, localPort));
    s.connect(new InetSocketAddress(address, port));
    return s;
  }

  private static final class SignallingSocket extends Socket {
    private final Tunnel tunnel;
    private final InetSocketAddress dial;
    private OutputStream out;

    SignallingSocket(Tunnel tunnel, InetSocketAddress dial) {
      this.tunnel = tunnel;
      this.dial = dial;
    }

    @Override
    public void connect(SocketAddress endpoint, int timeout) throws IOException {
      super.connect(dial != null ? dial : endpoint, timeout);
      // gRPC writes small frames (headers, pings, window updates) and waits for answers: no Nagle delay.
      setTcpNoDelay(true);
      SocketAddress local = getLocalSocketAddress();
      SocketAddress remote = getRemoteSocketAddress();
      tunnel.onTcpConnected(local instanceof InetSocketAddress ? (InetSocketAddress) local : null,
          remote instanceof InetSocketAddress ? (InetSocketAddress) remote : null);
    }

    @Override
    public synchronized OutputStream getOutputStream() throws IOException {
      if (out == null) {
        out = new FilterOutputStream(super.getOutputStream()) {
          @Override
          public void write(int b) throws IOException {
            super.out.write(b);
            tunnel.onRawWrite();
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            super.out.write(b, off, len);
            tunnel.onRawWrite();
          }
        };
      }
      return out;
    }
  }
}
