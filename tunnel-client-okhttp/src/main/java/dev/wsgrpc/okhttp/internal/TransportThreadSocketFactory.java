package dev.wsgrpc.okhttp.internal;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import javax.net.SocketFactory;

/**
 * Plain sockets whose reads mark the reading thread as grpc-okhttp's transport thread
 * ({@link CallbacksAfterStartInterceptor#onTransportThread}), as the tunnel's own socket does: for grpc-okhttp channels
 * without a tunnel that use the interceptor (the benchmark's baseline, tests), so that it guards them alike.
 *
 * <p>Not API: it may change or go without notice.
 */
public final class TransportThreadSocketFactory extends SocketFactory {

  @Override
  public Socket createSocket() {
    return new Socket() {
      @Override
      public InputStream getInputStream() throws IOException {
        return new FilterInputStream(super.getInputStream()) {
          @Override
          public int read(byte[] b, int off, int len) throws IOException {
            CallbacksAfterStartInterceptor.onTransportThread();
            return super.read(b, off, len);
          }
        };
      }
    };
  }

  @Override
  public Socket createSocket(String host, int port) throws IOException {
    Socket socket = createSocket();
    socket.connect(new InetSocketAddress(host, port));
    return socket;
  }

  @Override
  public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
    Socket socket = createSocket();
    socket.bind(new InetSocketAddress(localHost, localPort));
    socket.connect(new InetSocketAddress(host, port));
    return socket;
  }

  @Override
  public Socket createSocket(InetAddress host, int port) throws IOException {
    Socket socket = createSocket();
    socket.connect(new InetSocketAddress(host, port));
    return socket;
  }

  @Override
  public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
      throws IOException {
    Socket socket = createSocket();
    socket.bind(new InetSocketAddress(localAddress, localPort));
    socket.connect(new InetSocketAddress(address, port));
    return socket;
  }
}
