package dev.wsgrpc.okhttp;

import dev.wsgrpc.okhttp.internal.UnconnectedSocketFactory;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;

/**
 * The factory of the plain TCP socket OkHttp opens for one tunnel. Its sockets are ordinary sockets that tell the
 * {@link Tunnel} when they connect and every time OkHttp writes to them, which is how a writer waiting for room in
 * OkHttp's send queue learns that the queue moved (see {@link Tunnel}). For ws, what OkHttp reads from them and
 * writes to them is followed ({@link FollowedPlaintext}: among others, a message over the limit is refused at its
 * frame header); for wss, the TLS socket above them does that ({@link FollowedTlsSocketFactory}).
 *
 * <p>Without a proxy, a socket dials the address and port grpc-java resolved and handed to the tunnel factory,
 * whatever OkHttp derived from the URL: that is how {@code connectTo} dials another port than the URL's. Through an
 * HTTP proxy, it dials the proxy and has it {@code CONNECT} to the target ({@link ProxyConnect}) before OkHttp sees
 * it connected, so that OkHttp speaks TLS and the upgrade through the tunnel as it would to the server: for ws as
 * for wss, as the Netty client does.
 */
final class SignallingSocketFactory extends UnconnectedSocketFactory {

  private final Tunnel tunnel;
  private final InetSocketAddress dial;
  private final HttpProxyRoute proxy;

  /** How a socket reaches the target through an HTTP proxy. */
  static final class HttpProxyRoute {
    final ProxyChooser.Choice proxy;
    /** {@code host:port} the proxy is asked to CONNECT to (a name: the proxy resolves it). */
    final String target;
    /** The tunnel's URL without secrets, for messages. */
    final String url;
    final int timeoutMillis;

    HttpProxyRoute(ProxyChooser.Choice proxy, String target, String url, int timeoutMillis) {
      this.proxy = proxy;
      this.target = target;
      this.url = url;
      this.timeoutMillis = timeoutMillis;
    }
  }

  /** Sockets for {@code tunnel} that connect to {@code dial}, or where OkHttp says when {@code dial} is null. */
  SignallingSocketFactory(Tunnel tunnel, InetSocketAddress dial) {
    this(tunnel, dial, null);
  }

  /** Sockets for {@code tunnel} that reach the target through {@code proxy}'s CONNECT. */
  SignallingSocketFactory(Tunnel tunnel, HttpProxyRoute proxy) {
    this(tunnel, null, proxy);
  }

  private SignallingSocketFactory(Tunnel tunnel, InetSocketAddress dial, HttpProxyRoute proxy) {
    this.tunnel = tunnel;
    this.dial = dial;
    this.proxy = proxy;
  }

  @Override
  public Socket createSocket() {
    return new SignallingSocket(tunnel, dial, proxy);
  }

  private static final class SignallingSocket extends Socket {
    private final Tunnel tunnel;
    private final InetSocketAddress dial;
    private final HttpProxyRoute proxy;
    private OutputStream out;
    private InputStream in;
    /**
     * For ws, what OkHttp reads and writes once connected (not the CONNECT exchange with a proxy); null for wss,
     * whose plaintext the TLS socket above this one follows.
     */
    private final FollowedPlaintext plaintext;
    /** Whether connect() has returned: before, the CONNECT exchange with a proxy reads the plain stream. */
    private volatile boolean connected;

    SignallingSocket(Tunnel tunnel, InetSocketAddress dial, HttpProxyRoute proxy) {
      this.tunnel = tunnel;
      this.dial = dial;
      this.proxy = proxy;
      this.plaintext = tunnel.rawSocketIsPlaintext() ? new FollowedPlaintext(tunnel) : null;
    }

    @Override
    public void connect(SocketAddress endpoint, int timeout) throws IOException {
      if (proxy != null) {
        connectThroughProxy(timeout);
      } else {
        super.connect(dial != null ? dial : endpoint, timeout);
      }
      // gRPC writes small frames (headers, pings, window updates) and waits for answers: no Nagle delay.
      setTcpNoDelay(true);
      SocketAddress local = getLocalSocketAddress();
      SocketAddress remote = getRemoteSocketAddress();
      tunnel.onTcpConnected(this, local instanceof InetSocketAddress ? (InetSocketAddress) local : null,
          remote instanceof InetSocketAddress ? (InetSocketAddress) remote : null);
      connected = true;
    }

    /** Dials the proxy (the endpoint OkHttp resolved is a stand-in) and opens the CONNECT tunnel. */
    private void connectThroughProxy(int timeout) throws IOException {
      InetSocketAddress named = (InetSocketAddress) proxy.proxy.proxy.address();
      InetSocketAddress address = new InetSocketAddress(named.getHostString(), named.getPort());
      if (address.isUnresolved()) {
        throw new ProxyConnect.Refused("cannot connect to " + proxy.proxy.describe() + " for " + proxy.url
            + ": cannot resolve " + named.getHostString(), null);
      }
      try {
        super.connect(address, timeout);
      } catch (IOException e) {
        throw new ProxyConnect.Refused("cannot connect to " + proxy.proxy.describe() + " for " + proxy.url + ": "
            + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()), e);
      }
      setTcpNoDelay(true);
      ProxyConnect.open(this, proxy.target, proxy.proxy, proxy.timeoutMillis);
    }

    /**
     * What OkHttp (or TLS under it) reads passes through the tunnel's watch for silence ({@link
     * Tunnel#watchSilence}), and for ws through its frame limit (see {@link InboundFrameLimit}).
     */
    @Override
    public synchronized InputStream getInputStream() throws IOException {
      if (!connected) {
        return super.getInputStream();
      }
      if (in == null) {
        InputStream watched = tunnel.watchSilence(super.getInputStream());
        in = plaintext != null ? plaintext.input(watched) : watched;
      }
      return in;
    }

    @Override
    public synchronized OutputStream getOutputStream() throws IOException {
      if (out == null) {
        out = new FilterOutputStream(super.getOutputStream()) {
          @Override
          public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            boolean followed = connected && plaintext != null;
            if (followed) {
              plaintext.checkNoSecondRequest();
            }
            super.out.write(b, off, len);
            if (followed) {
              plaintext.written(b, off, len);
            } else if (plaintext == null) {
              tunnel.onRawProgress(); // wss: TLS records (the TLS socket signals what it was asked to write)
            } else {
              tunnel.onRawWrite(0, false); // ws: the CONNECT request
            }
          }
        };
      }
      return out;
    }
  }
}
