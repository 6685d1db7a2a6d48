package dev.wsgrpc.okhttp;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.nio.channels.SocketChannel;
import java.util.Collections;
import javax.net.ssl.HandshakeCompletedListener;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import okhttp3.Protocol;
import okhttp3.internal.platform.Platform;

/**
 * The TLS socket factory of one wss tunnel's OkHttp client: the TLS sockets its delegate (OkHttp's own, or the one
 * given in {@link ClientTls}) makes are handed to OkHttp inside a socket that passes every call on, except that what
 * OkHttp reads and writes inside TLS is followed as the raw socket's bytes are for ws ({@link FollowedPlaintext}):
 * the frame limit at each frame's header, Close 1002 for a frame that breaks RFC 6455, the bound on owed Pongs.
 *
 * <p>The TLS socket is the delegate's, made with the URL's host, so trust, hostname verification, certificate pinning
 * and session resumption stay OkHttp's and the delegate's. Before it is wrapped, OkHttp's platform code configures it
 * as it would the bare socket ({@link Extensions#PLATFORM}): OkHttp's Android code recognises only the platform's own
 * socket classes, and on Android 5 it is what sends the SNI (Conscrypt there sends none unless its {@code setHostname}
 * is called), as well as session tickets and the ALPN offer on every version. OkHttp's later call on the wrapper
 * finds no socket it knows on Android, and repeats the same ALPN offer on the JVM.
 *
 * <p>Methods of {@link Socket} added after Java 8 ({@code setOption}, {@code getOption}, {@code supportedOptions})
 * are not passed on: neither OkHttp nor this module calls them on this socket.
 */
final class FollowedTlsSocketFactory extends SSLSocketFactory {

  /**
   * What OkHttp's platform code does to a TLS socket before its handshake (SNI, session tickets, ALPN) and after it
   * (on Java 8 with Jetty's ALPN boot: forgets the socket, which it would otherwise hold for good).
   */
  interface Extensions {
    /** OkHttp's own, offering HTTP/1.1 alone, as OkHttp does for a WebSocket. */
    Extensions PLATFORM = new Extensions() {
      @Override
      public void configure(SSLSocket socket, String host) {
        Platform.get().configureTlsExtensions(socket, host, Collections.singletonList(Protocol.HTTP_1_1));
      }

      @Override
      public void afterHandshake(SSLSocket socket) {
        Platform.get().afterHandshake(socket);
      }
    };

    void configure(SSLSocket socket, String host);

    void afterHandshake(SSLSocket socket);
  }

  private final SSLSocketFactory delegate;
  private final Tunnel tunnel;
  private final Extensions extensions;

  FollowedTlsSocketFactory(SSLSocketFactory delegate, Tunnel tunnel) {
    this(delegate, tunnel, Extensions.PLATFORM);
  }

  FollowedTlsSocketFactory(SSLSocketFactory delegate, Tunnel tunnel, Extensions extensions) {
    this.delegate = delegate;
    this.tunnel = tunnel;
    this.extensions = extensions;
  }

  @Override
  public Socket createSocket(Socket s, String host, int port, boolean autoClose) throws IOException {
    SSLSocket tls = (SSLSocket) delegate.createSocket(s, host, port, autoClose);
    try {
      extensions.configure(tls, host);
    } catch (RuntimeException | Error e) {
      afterHandshake(extensions, tls, e);
      closeQuietly(tls);
      throw e;
    }
    return new FollowedTlsSocket(tls, new FollowedPlaintext(tunnel), extensions);
  }

  @Override
  public Socket createSocket() throws SocketException {
    throw new SocketException("a tunnel's TLS socket is layered over its TCP socket");
  }

  @Override
  public Socket createSocket(String host, int port) throws SocketException {
    return createSocket();
  }

  @Override
  public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws SocketException {
    return createSocket();
  }

  @Override
  public Socket createSocket(InetAddress host, int port) throws SocketException {
    return createSocket();
  }

  @Override
  public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
      throws SocketException {
    return createSocket();
  }

  @Override
  public String[] getDefaultCipherSuites() {
    return delegate.getDefaultCipherSuites();
  }

  @Override
  public String[] getSupportedCipherSuites() {
    return delegate.getSupportedCipherSuites();
  }

  /**
   * The platform's clean-up of {@code tls}, which a configuration may need although no handshake ran (on Java 8 with
   * Jetty's ALPN boot it forgets the socket); a failure of its own is added to {@code failure} (null: thrown).
   */
  private static void afterHandshake(Extensions extensions, SSLSocket tls, Throwable failure) {
    try {
      extensions.afterHandshake(tls);
    } catch (RuntimeException | Error e) {
      if (failure == null) {
        throw e;
      }
      failure.addSuppressed(e);
    }
  }

  private static void closeQuietly(SSLSocket socket) {
    try {
      socket.close();
    } catch (IOException ignored) {
      // The configuration's failure is the one to report.
    }
  }

  /** A TLS socket that passes every call to {@code tls}, its plaintext streams through a {@link FollowedPlaintext}. */
  private static final class FollowedTlsSocket extends SSLSocket {
    private final SSLSocket tls;
    private final FollowedPlaintext plaintext;
    private final Extensions extensions;
    private InputStream in;
    private OutputStream out;

    FollowedTlsSocket(SSLSocket tls, FollowedPlaintext plaintext, Extensions extensions) {
      this.tls = tls;
      this.plaintext = plaintext;
      this.extensions = extensions;
    }

    @Override
    public synchronized InputStream getInputStream() throws IOException {
      if (in == null) {
        in = plaintext.input(tls.getInputStream());
      }
      return in;
    }

    @Override
    public synchronized OutputStream getOutputStream() throws IOException {
      if (out == null) {
        out = plaintext.output(tls.getOutputStream());
      }
      return out;
    }

    // ---- everything else is the TLS socket's ----

    /** The handshake, then the platform's clean-up (OkHttp's own call after the handshake reaches this wrapper). */
    @Override
    public void startHandshake() throws IOException {
      try {
        tls.startHandshake();
      } catch (IOException | RuntimeException | Error e) {
        afterHandshake(extensions, tls, e); // the handshake's failure is the one OkHttp must see
        throw e;
      }
      afterHandshake(extensions, tls, null);
    }

    @Override
    public SSLSession getSession() {
      return tls.getSession();
    }

    @Override
    public SSLParameters getSSLParameters() {
      return tls.getSSLParameters();
    }

    @Override
    public void setSSLParameters(SSLParameters params) {
      tls.setSSLParameters(params);
    }

    @Override
    public String[] getSupportedCipherSuites() {
      return tls.getSupportedCipherSuites();
    }

    @Override
    public String[] getEnabledCipherSuites() {
      return tls.getEnabledCipherSuites();
    }

    @Override
    public void setEnabledCipherSuites(String[] suites) {
      tls.setEnabledCipherSuites(suites);
    }

    @Override
    public String[] getSupportedProtocols() {
      return tls.getSupportedProtocols();
    }

    @Override
    public String[] getEnabledProtocols() {
      return tls.getEnabledProtocols();
    }

    @Override
    public void setEnabledProtocols(String[] protocols) {
      tls.setEnabledProtocols(protocols);
    }

    @Override
    public void addHandshakeCompletedListener(HandshakeCompletedListener listener) {
      tls.addHandshakeCompletedListener(listener);
    }

    @Override
    public void removeHandshakeCompletedListener(HandshakeCompletedListener listener) {
      tls.removeHandshakeCompletedListener(listener);
    }

    @Override
    public void setUseClientMode(boolean mode) {
      tls.setUseClientMode(mode);
    }

    @Override
    public boolean getUseClientMode() {
      return tls.getUseClientMode();
    }

    @Override
    public void setNeedClientAuth(boolean need) {
      tls.setNeedClientAuth(need);
    }

    @Override
    public boolean getNeedClientAuth() {
      return tls.getNeedClientAuth();
    }

    @Override
    public void setWantClientAuth(boolean want) {
      tls.setWantClientAuth(want);
    }

    @Override
    public boolean getWantClientAuth() {
      return tls.getWantClientAuth();
    }

    @Override
    public void setEnableSessionCreation(boolean flag) {
      tls.setEnableSessionCreation(flag);
    }

    @Override
    public boolean getEnableSessionCreation() {
      return tls.getEnableSessionCreation();
    }

    @Override
    public void connect(SocketAddress endpoint, int timeout) throws IOException {
      tls.connect(endpoint, timeout);
    }

    @Override
    public void bind(SocketAddress bindpoint) throws IOException {
      tls.bind(bindpoint);
    }

    @Override
    public InetAddress getInetAddress() {
      return tls.getInetAddress();
    }

    @Override
    public InetAddress getLocalAddress() {
      return tls.getLocalAddress();
    }

    @Override
    public int getPort() {
      return tls.getPort();
    }

    @Override
    public int getLocalPort() {
      return tls.getLocalPort();
    }

    @Override
    public SocketAddress getRemoteSocketAddress() {
      return tls.getRemoteSocketAddress();
    }

    @Override
    public SocketAddress getLocalSocketAddress() {
      return tls.getLocalSocketAddress();
    }

    @Override
    public SocketChannel getChannel() {
      return tls.getChannel();
    }

    @Override
    public void setTcpNoDelay(boolean on) throws SocketException {
      tls.setTcpNoDelay(on);
    }

    @Override
    public boolean getTcpNoDelay() throws SocketException {
      return tls.getTcpNoDelay();
    }

    @Override
    public void setSoLinger(boolean on, int linger) throws SocketException {
      tls.setSoLinger(on, linger);
    }

    @Override
    public int getSoLinger() throws SocketException {
      return tls.getSoLinger();
    }

    @Override
    public void sendUrgentData(int data) throws IOException {
      tls.sendUrgentData(data);
    }

    @Override
    public void setOOBInline(boolean on) throws SocketException {
      tls.setOOBInline(on);
    }

    @Override
    public boolean getOOBInline() throws SocketException {
      return tls.getOOBInline();
    }

    @Override
    public void setSoTimeout(int timeout) throws SocketException {
      tls.setSoTimeout(timeout);
    }

    @Override
    public int getSoTimeout() throws SocketException {
      return tls.getSoTimeout();
    }

    @Override
    public void setSendBufferSize(int size) throws SocketException {
      tls.setSendBufferSize(size);
    }

    @Override
    public int getSendBufferSize() throws SocketException {
      return tls.getSendBufferSize();
    }

    @Override
    public void setReceiveBufferSize(int size) throws SocketException {
      tls.setReceiveBufferSize(size);
    }

    @Override
    public int getReceiveBufferSize() throws SocketException {
      return tls.getReceiveBufferSize();
    }

    @Override
    public void setKeepAlive(boolean on) throws SocketException {
      tls.setKeepAlive(on);
    }

    @Override
    public boolean getKeepAlive() throws SocketException {
      return tls.getKeepAlive();
    }

    @Override
    public void setTrafficClass(int tc) throws SocketException {
      tls.setTrafficClass(tc);
    }

    @Override
    public int getTrafficClass() throws SocketException {
      return tls.getTrafficClass();
    }

    @Override
    public void setReuseAddress(boolean on) throws SocketException {
      tls.setReuseAddress(on);
    }

    @Override
    public boolean getReuseAddress() throws SocketException {
      return tls.getReuseAddress();
    }

    /** Closes the TLS socket, after the platform's clean-up, in case OkHttp failed before the handshake. */
    @Override
    public void close() throws IOException {
      try {
        extensions.afterHandshake(tls);
      } catch (RuntimeException e) {
        // Closing regardless: the clean-up's failure changes nothing for the socket.
      } finally {
        tls.close();
      }
    }

    @Override
    public void shutdownInput() throws IOException {
      tls.shutdownInput();
    }

    @Override
    public void shutdownOutput() throws IOException {
      tls.shutdownOutput();
    }

    @Override
    public boolean isConnected() {
      return tls.isConnected();
    }

    @Override
    public boolean isBound() {
      return tls.isBound();
    }

    @Override
    public boolean isClosed() {
      return tls.isClosed();
    }

    @Override
    public boolean isInputShutdown() {
      return tls.isInputShutdown();
    }

    @Override
    public boolean isOutputShutdown() {
      return tls.isOutputShutdown();
    }

    @Override
    public String toString() {
      return tls.toString();
    }
  }
}
