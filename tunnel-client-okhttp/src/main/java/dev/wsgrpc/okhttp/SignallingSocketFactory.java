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
 */
final class SignallingSocketFactory extends SocketFactory {

  private final Tunnel tunnel;

  SignallingSocketFactory(Tunnel tunnel) {
    this.tunnel = tunnel;
  }

  @Override
  public Socket createSocket() {
    return new SignallingSocket(tunnel);
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
    private OutputStream out;

    SignallingSocket(Tunnel tunnel) {
      this.tunnel = tunnel;
    }

    @Override
    public void connect(SocketAddress endpoint, int timeout) throws IOException {
      super.connect(endpoint, timeout);
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
