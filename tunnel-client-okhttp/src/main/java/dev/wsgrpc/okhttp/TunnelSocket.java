package dev.wsgrpc.okhttp;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketException;
import okio.Buffer;

/**
 * The {@link java.net.Socket} grpc-okhttp runs HTTP/2 on (h2c, prior knowledge): its streams are a {@link Tunnel}.
 * Writes are gathered until a flush or until a frame's worth ({@code maxOutboundFramePayload}) is there, so that
 * each binary message carries as much as gRPC flushed at once, and none is larger than the limit. Socket options
 * are accepted and ignored: the OkHttp socket under the WebSocket has its own.
 */
final class TunnelSocket extends java.net.Socket {

  private final Tunnel tunnel;
  private final int maxFrame;
  private final InputStream in = new TunnelInputStream();
  private final OutputStream out = new TunnelOutputStream();
  private final SocketAddress localAddress;
  private volatile boolean closed;
  private int soTimeout;

  TunnelSocket(Tunnel tunnel, int maxFrame) {
    this.tunnel = tunnel;
    this.maxFrame = maxFrame;
    InetSocketAddress local = tunnel.localAddress();
    this.localAddress = new TunnelLocalAddress(local, tunnel);
  }

  Tunnel tunnel() {
    return tunnel;
  }

  @Override
  public InputStream getInputStream() throws IOException {
    checkOpen();
    return in;
  }

  @Override
  public OutputStream getOutputStream() throws IOException {
    checkOpen();
    return out;
  }

  private void checkOpen() throws SocketException {
    if (closed) {
      throw new SocketException("Socket is closed");
    }
  }

  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    tunnel.close();
    super.close();
  }

  @Override
  public boolean isClosed() {
    return closed;
  }

  @Override
  public boolean isConnected() {
    return true;
  }

  @Override
  public boolean isBound() {
    return true;
  }

  @Override
  public SocketAddress getRemoteSocketAddress() {
    return tunnel.remoteAddress();
  }

  @Override
  public SocketAddress getLocalSocketAddress() {
    return localAddress;
  }

  @Override
  public InetAddress getInetAddress() {
    InetSocketAddress remote = tunnel.remoteAddress();
    return remote == null ? null : remote.getAddress();
  }

  @Override
  public int getPort() {
    InetSocketAddress remote = tunnel.remoteAddress();
    return remote == null ? 0 : remote.getPort();
  }

  @Override
  public InetAddress getLocalAddress() {
    InetSocketAddress local = tunnel.localAddress();
    return local == null ? null : local.getAddress();
  }

  @Override
  public int getLocalPort() {
    InetSocketAddress local = tunnel.localAddress();
    return local == null ? -1 : local.getPort();
  }

  @Override
  public void setTcpNoDelay(boolean on) {
    // OkHttp's socket under the WebSocket: frames are written as they are sent.
  }

  @Override
  public boolean getTcpNoDelay() {
    return true;
  }

  @Override
  public synchronized void setSoTimeout(int timeout) {
    this.soTimeout = timeout;
  }

  @Override
  public synchronized int getSoTimeout() {
    return soTimeout;
  }

  @Override
  public void setKeepAlive(boolean on) {
  }

  @Override
  public boolean getKeepAlive() {
    return false;
  }

  @Override
  public void shutdownInput() {
  }

  @Override
  public void shutdownOutput() {
  }

  @Override
  public String toString() {
    return "TunnelSocket[" + tunnel.peer() + (closed ? ", closed" : "") + "]";
  }

  private final class TunnelInputStream extends InputStream {
    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      // grpc-okhttp's reader: an onReady it delivers from here comes from inside its flow controller.
      dev.wsgrpc.okhttp.internal.CallbacksAfterStartInterceptor.onTransportThread();
      return tunnel.read(b, off, len);
    }

    @Override
    public void close() throws IOException {
      TunnelSocket.this.close();
    }
  }

  private final class TunnelOutputStream extends OutputStream {
    /** Bytes written since the last flush, less than one frame's worth. */
    private final Buffer pending = new Buffer();

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
      checkOpen();
      pending.write(b, off, len);
      while (pending.size() >= maxFrame) {
        tunnel.send(pending.readByteString(maxFrame));
      }
    }

    @Override
    public synchronized void flush() throws IOException {
      checkOpen();
      if (pending.size() > 0) {
        tunnel.send(pending.readByteString());
      }
    }

    @Override
    public void close() throws IOException {
      try {
        flush();
      } finally {
        TunnelSocket.this.close();
      }
    }
  }
}
