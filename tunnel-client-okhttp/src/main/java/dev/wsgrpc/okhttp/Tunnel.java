package dev.wsgrpc.okhttp;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;
import okio.Buffer;
import okio.ByteString;

/**
 * One tunnel: an OkHttp {@link WebSocket} seen as the two byte streams of an HTTP/2 connection. {@link TunnelSocket}
 * hands the streams to grpc-okhttp.
 *
 * <pre>
 *  grpc-okhttp writer ──write()──▶ cut into binary messages of ≤ maxOutboundFramePayload ──send()──▶ OkHttp queue
 *                                   (waits while OkHttp's queue holds more than {@link #highWater} bytes)
 *  grpc-okhttp reader ◀──read()─── inbound buffer (≤ {@value #INBOUND_LIMIT} bytes) ◀──onMessage()── OkHttp reader
 *                                   (a full buffer blocks OkHttp's reader thread: TCP back-pressure)
 * </pre>
 *
 * <p>Lifecycle: connecting ({@link #open} waits for the upgrade), open, ended. The first of these ends it and fixes
 * the {@link TunnelFailure} every later read and write throws: a Close from the server (echoed with the same code;
 * answered with 1007 when its reason is not UTF-8), a failure of the connection or of OkHttp's ping, a frame that
 * breaks RFC 6455 (refused here with close 1002 before OkHttp's reader sees it, {@link InboundFrameLimit}; only ws
 * through a SOCKS proxy leaves it to OkHttp's reader, which drops the connection without a Close; told in the Netty
 * client's words either way, {@link TunnelFailure#expectedButWas}), a message this side refuses (close 1003 or 1009), or the
 * socket closed by grpc-okhttp (close 1000). Bytes already
 * received are still read before the failure is thrown.
 *
 * <p>Back-pressure: {@link WebSocket#send} never blocks and closes the WebSocket when its 16 MiB queue would
 * overflow, and OkHttp has no event for "queue drained". The raw socket OkHttp writes to ({@link
 * SignallingSocketFactory}), and for wss also the TLS socket above it ({@link FollowedTlsSocketFactory}), signals
 * each write, and a writer waiting for room re-checks {@link
 * WebSocket#queueSize()} at each signal. No wait is lost: OkHttp's writer takes frames in order and lowers the
 * queue's size right after each frame's last write, so at any signal the queue counts at most the frames not yet
 * written plus the one being written. After the last signal nothing is left but that one frame (at most
 * {@code maxOutboundFramePayload}), and {@link #highWater} holds two frames: the waiting message fits then. Where no
 * write is ever signalled (ws through a SOCKS proxy, whose socket OkHttp opens itself), the writer does not wait,
 * and the queue stays bounded by HTTP/2 flow control (the server's connection window) far below 16 MiB.
 *
 * <p>OkHttp also queues a Pong for every Ping of the server's, without bound and apart from that queue: a server that
 * pings but does not read would grow it with every Ping. Where the plaintext passes through this side's streams
 * ({@link FollowedPlaintext}: the raw socket's for ws, the TLS socket's for wss; not ws through a SOCKS proxy),
 * OkHttp's reader is handed no further Ping while {@value #MAX_OWED_PONGS} Pongs wait to be written ({@link
 * WrittenFrames} counts them as they leave), so such a server is read no faster than it reads.
 *
 * <p>A path gone silent: once open, OkHttp's socket waits at most {@code pingInterval + pingTimeout} in a read (its
 * {@code SO_TIMEOUT}), so a tunnel on which nothing has arrived that long, while OkHttp's reader waits for the server,
 * ends with {@link Silence} (a live server answers the Ping that OkHttp sent in that time). The wait starts again
 * while OkHttp still holds messages of ours and the socket took some within that time: a Ping waits behind them.
 * OkHttp's own check alone (a Pong missing when the next Ping is due) could take two intervals. Until the server's
 * HTTP/2 SETTINGS have arrived (the first 9 bytes begin that frame), the reads together wait at most
 * {@code pingTimeout} from the 101, also with pings off, as the Netty client's wait: a deadline, which no Ping or
 * Pong read meanwhile extends. grpc-okhttp alone waited for those SETTINGS until its keepalive gave up (40 s). Where
 * TLS reads below the Java socket (old Android versions read the file descriptor), the timeouts should still apply
 * (the wait for the SETTINGS as a read timeout set at the 101, which bytes read meanwhile start again) but end the
 * tunnel with the platform's own text and without that allowance (not checked on a device).
 */
final class Tunnel extends WebSocketListener {

  /** Bytes received but not yet read by grpc-okhttp, before OkHttp's reader thread is held. */
  static final int INBOUND_LIMIT = 1024 * 1024;

  /**
   * Pings of the server's that OkHttp may owe a Pong for (queued, not yet written to the socket) before its reader
   * thread is held at the next Ping: OkHttp queues a Pong for every Ping without bound, so a server that pings but
   * does not read would otherwise grow the client's heap with every Ping. Followed where the connection's plaintext
   * is followed, as {@code maxInboundFramePayload} is.
   */
  static final int MAX_OWED_PONGS = 1024;

  private final OkHttpWebSocketOptions options;
  private final String peer;
  /**
   * Most bytes queued in OkHttp before a writer waits: at least two frames (a message fits beside the frame being
   * written when the last write is signalled) and 1 MiB.
   */
  private final long highWater;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final Buffer inbound = new Buffer();
  private WebSocket webSocket;
  private boolean open;
  private boolean closedLocally;
  private boolean rawWritesSeen;
  /** How many times a writer waited for room in OkHttp's queue (for tests). */
  private long roomWaits;
  /** Pings handed to OkHttp's reader, and Pongs written to the socket, where the plaintext is followed. */
  private long pingsRead;
  private long pongsWritten;
  /** A Close of ours has been written whole to the socket, where the plaintext is followed. */
  private boolean closeWritten;
  /** OkHttp failed the WebSocket (its socket is closed): it answers no more Pings. */
  private boolean failedInOkHttp;
  private TunnelFailure failure;
  /**
   * Whether the server's first 9 bytes in the tunnel were found to begin an HTTP/2 SETTINGS frame: only then may
   * grpc-okhttp read.
   */
  private boolean prefaceChecked;
  /**
   * After the 101, until {@link #prefaceChecked}: reads on OkHttp's socket wait no longer than {@link
   * #settingsDeadlineNanos} (see {@link #watchSilence}); false through a SOCKS proxy.
   */
  private volatile boolean awaitingSettings;
  /** {@code pingTimeout} after the 101 ({@link System#nanoTime}), while {@link #awaitingSettings}. */
  private volatile long settingsDeadlineNanos;
  private volatile boolean tcpConnected;
  /** OkHttp's socket (the plain TCP one, under TLS for wss), once connected; null through a SOCKS proxy. */
  private volatile Socket rawSocket;
  /** When OkHttp's socket last took bytes ({@link System#nanoTime}). */
  private volatile long lastRawWriteNanos;
  private volatile InetSocketAddress localAddress;
  private volatile InetSocketAddress remoteAddress;
  private volatile ProxyChooser.Choice proxy;

  /** How long a writer whose message OkHttp refused waits for OkHttp to say why. */
  static final long REFUSAL_WAIT_MILLIS = 1000;

  Tunnel(OkHttpWebSocketOptions options) {
    this.options = options;
    this.peer = options.safeUrl();
    this.highWater = Math.max(1024L * 1024, 4L * options.settings().maxOutboundFramePayload());
  }

  /**
   * Opens the WebSocket and waits for the upgrade (or {@link #abandonUpgrade}); throws a {@link TunnelFailure} with
   * the reason it failed.
   */
  void open(OkHttpClient client, Request request) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(options.settings().handshakeTimeoutMillis());
    lock.lock();
    try {
      if (failure != null) {
        throw failure; // Given up before it began (abandonUpgrade): nothing is dialled.
      }
    } finally {
      lock.unlock();
    }
    WebSocket ws = client.newWebSocket(request, this);
    lock.lock();
    try {
      webSocket = ws;
      while (!open && failure == null) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          failure = TunnelFailure.handshake("WebSocket handshake with " + peer + " timed out after "
              + options.settings().handshakeTimeoutMillis() + " ms " + phase(), null);
          break;
        }
        changed.awaitNanos(left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      failure = TunnelFailure.handshake("interrupted while opening a WebSocket to " + peer, e);
    } finally {
      lock.unlock();
    }
    if (!open) {
      ws.cancel();
      throw failure;
    }
  }

  /** The channel was shut down now: {@link #open} gives up the upgrade at once (it cancels OkHttp's call). */
  void abandonUpgrade() {
    lock.lock();
    try {
      if (!open && failure == null) {
        failure = TunnelFailure.handshake("the channel was shut down during the WebSocket upgrade to " + peer, null);
        changed.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  private String phase() {
    if (!tcpConnected) {
      return "while connecting" + (proxy != null ? " to the " + proxy.describe() : "");
    }
    return options.isSecure() ? "while waiting for the TLS handshake and the answer to the upgrade request"
        : "while waiting for the answer to the upgrade request";
  }

  // ---- OkHttp's events ----

  @Override
  public void onOpen(WebSocket ws, Response response) {
    String problem = UpgradeAnswer.problemWithAccepted(options, response);
    lock.lock();
    try {
      if (webSocket == null) {
        webSocket = ws; // Before open() has stored it: InboundFrameLimit's refusal may need it.
      }
      if (failure != null) {
        return;
      }
      if (problem != null) {
        failure = TunnelFailure.handshake(problem, null);
      } else {
        open = true;
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    if (problem != null) {
      ws.cancel();
    } else if (rawSocket != null) {
      // OkHttp's reader starts only after onOpen: each of its reads sets the socket's timeout to what is left
      // (watchSilence). Set here too, for a TLS socket that reads the file descriptor itself (older Android), where
      // only the socket's own timeout applies.
      long pingTimeoutMillis = options.settings().pingTimeoutMillis();
      settingsDeadlineNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(pingTimeoutMillis);
      awaitingSettings = true;
      setReadTimeout(pingTimeoutMillis);
    }
  }

  /**
   * The server's SETTINGS have arrived: from now on a read on OkHttp's socket waits at most {@code pingInterval +
   * pingTimeout}, or without limit with pings off (see {@link #watchSilence}). Called on OkHttp's reader thread.
   */
  private void limitReadWaits() {
    awaitingSettings = false;
    setReadTimeout(options.settings().pingIntervalMillis() == 0 ? 0 : silenceMillis());
  }

  /** Sets the read timeout of OkHttp's socket (OkHttp has set none once the upgrade is done). */
  private void setReadTimeout(long millis) {
    Socket socket = rawSocket;
    if (socket == null) {
      return;
    }
    try {
      socket.setSoTimeout((int) millis);
    } catch (SocketException e) {
      // Closed already: OkHttp's reader finds out.
    }
  }

  /**
   * Before a read on OkHttp's socket while the server's SETTINGS are awaited: the read may wait what is left of
   * {@code pingTimeout} after the 101; throws {@link Silence} once nothing is left.
   */
  private void limitWaitForSettings() throws Silence {
    if (!awaitingSettings) {
      return;
    }
    long left = settingsDeadlineNanos - System.nanoTime();
    if (left <= 0) {
      throw new Silence("expected the server's HTTP/2 SETTINGS within " + options.settings().pingTimeoutMillis()
          + " ms of the WebSocket upgrade (101) but they did not arrive");
    }
    setReadTimeout(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
  }

  /** {@code pingInterval + pingTimeout}, at most the longest read timeout a socket takes. */
  private long silenceMillis() {
    TunnelSettings settings = options.settings();
    return Math.min(Integer.MAX_VALUE, settings.pingIntervalMillis() + settings.pingTimeoutMillis());
  }

  /**
   * Nothing arrived on the tunnel's connection for {@code pingInterval + pingTimeout} while OkHttp's reader waited:
   * thrown to OkHttp's reader from the socket's stream; a {@link SocketTimeoutException}, which TLS passes on as it is.
   */
  static final class Silence extends SocketTimeoutException {
    private static final long serialVersionUID = 1L;

    Silence(String message) {
      super(message);
    }
  }

  /**
   * The stream OkHttp reads the connection from ({@code in}, its socket's own), judging a read that times out (see
   * {@link #limitReadWaits}): the path is silent, unless OkHttp still holds messages of ours and the socket took some
   * within {@code pingInterval + pingTimeout}, so that a Ping may wait behind them; then the read goes on. Until the
   * server's SETTINGS have arrived, each read waits only what is left of the time they may take ({@link
   * #limitWaitForSettings}).
   */
  InputStream watchSilence(InputStream in) {
    return new FilterInputStream(in) {
      @Override
      public int read() throws IOException {
        while (true) {
          limitWaitForSettings();
          try {
            return super.read();
          } catch (SocketTimeoutException e) {
            judgeSilence();
          }
        }
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        while (true) {
          limitWaitForSettings();
          try {
            return super.read(b, off, len);
          } catch (SocketTimeoutException e) {
            judgeSilence();
          }
        }
      }
    };
  }

  /**
   * A read waited its limit: while the server's SETTINGS are awaited, nothing (the next read judges what is left of
   * that wait, {@link #limitWaitForSettings}); after them, {@code pingInterval + pingTimeout} ({@link
   * #limitReadWaits}): throws {@link Silence} unless OkHttp holds messages of ours and its socket took bytes within
   * that time.
   */
  private void judgeSilence() throws Silence {
    if (awaitingSettings) {
      return;
    }
    WebSocket ws = webSocket();
    if (ws == null || ws.queueSize() == 0
        || System.nanoTime() - lastRawWriteNanos >= TimeUnit.MILLISECONDS.toNanos(silenceMillis())) {
      throw new Silence("nothing arrived within " + silenceMillis() + " ms, a WebSocket Ping's interval and timeout ("
          + options.settings().pingIntervalMillis() + " + " + options.settings().pingTimeoutMillis()
          + " ms): the server or a hop on the path has gone silent");
    }
  }

  private WebSocket webSocket() {
    lock.lock();
    try {
      return webSocket;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void onFailure(WebSocket ws, Throwable t, Response response) {
    terminated = true;
    TunnelFailure f;
    boolean wasOpen;
    lock.lock();
    try {
      wasOpen = open;
      failedInOkHttp = true;
    } finally {
      lock.unlock();
    }
    if (!wasOpen) {
      String text = response != null
          ? UpgradeAnswer.problemWithRefused(options, response, String.valueOf(t.getMessage()))
          : UpgradeAnswer.problemBeforeAnswer(options, t, proxy, options.connectToHost() == null ? ""
              : " (dialing " + options.connectToHost() + ":" + options.connectToPort() + ")");
      f = TunnelFailure.handshake(text, t);
    } else if (t instanceof Silence) {
      f = TunnelFailure.lost(t.getMessage() + " (from " + peer + ")", t);
    } else if (t instanceof SocketTimeoutException && String.valueOf(t.getMessage()).startsWith("sent ping")) {
      f = TunnelFailure.lost("no WebSocket Pong arrived within " + options.settings().pingIntervalMillis()
          + " ms of a Ping: the server or a hop on the path has gone silent (from " + peer + ")", t);
    } else if (t instanceof ProtocolException) {
      f = TunnelFailure.protocolError(peer, (ProtocolException) t);
    } else {
      f = TunnelFailure.lost("connection to " + peer + " lost: "
          + (t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage()), t);
    }
    end(f);
  }

  @Override
  public void onMessage(WebSocket ws, ByteString bytes) {
    if (bytes.size() > options.settings().maxInboundFramePayload()) {
      // Where the connection's plaintext passes through InboundFrameLimit, this never happens: it refuses the
      // message at its header. Kept for connections whose plaintext it does not see (ws through a SOCKS proxy).
      refuseTooBig(ws);
      return;
    }
    String notHttp2 = null;
    boolean settingsArrived = false;
    boolean interrupted = false;
    lock.lock();
    try {
      while (inbound.size() >= INBOUND_LIMIT && failure == null && !closedLocally) {
        changed.await();
      }
      if (failure == null && !closedLocally) {
        inbound.write(bytes);
        if (!prefaceChecked && inbound.size() >= 9) {
          notHttp2 = notHttp2Settings(inbound);
          if (notHttp2 == null) {
            prefaceChecked = true; // grpc-okhttp may read from now on
            settingsArrived = true;
          } else {
            // Decided before grpc-okhttp's reader can take any of it: it stays unread, the reader gets this
            // failure, and calls waiting for the server's SETTINGS get its status.
            failure = TunnelFailure.closedHere(peer, 1002, notHttp2);
          }
        }
        changed.signalAll();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      interrupted = true;
    } finally {
      lock.unlock();
    }
    if (interrupted) {
      // The message was not kept: HTTP/2 after it would be read with a gap. Nothing here interrupts OkHttp's reader;
      // whatever did ends the tunnel.
      end(TunnelFailure.lost("OkHttp's reader was interrupted while waiting for room for a message from " + peer
          + "; the message was dropped", null));
      ws.cancel();
      return;
    }
    if (settingsArrived) {
      limitReadWaits(); // the wait for the server's SETTINGS is over
    }
    if (notHttp2 != null) {
      ws.close(1002, notHttp2);
    }
  }

  /**
   * Why the tunnel's first bytes from the server ({@code first}, at least the 9 of a frame header) are not HTTP/2's
   * server preface, a SETTINGS frame (RFC 9113 section 3.4); null when they are. A server that speaks something else
   * inside the tunnel (a relay in front of a port that is not gRPC's) is named so, where grpc-okhttp alone says
   * only "error in frame handler"; the Netty client's words.
   */
  private static String notHttp2Settings(Buffer first) {
    int type = first.getByte(3) & 0xff;
    int flags = first.getByte(4) & 0xff;
    if (type == 0x4 && (flags & 0x1) == 0) {
      return null;
    }
    StringBuilder began = new StringBuilder();
    for (int i = 0; i < Math.min(first.size(), 32); i++) {
      int c = first.getByte(i) & 0xff;
      began.append(c >= 0x20 && c < 0x7f ? (char) c : '?');
    }
    return "expected HTTP/2 in the tunnel, a SETTINGS frame first, but it began with '" + began
        + (first.size() > 32 ? "...'" : "'");
  }

  /** Close 1009 and the end of the tunnel for a message over {@code maxInboundFramePayload}: the one path. */
  private void refuseTooBig(WebSocket ws) {
    refuse(ws, 1009, InboundFrameLimit.tooBig(options.settings().maxInboundFramePayload()));
  }

  /** Close {@code code} and the end of the tunnel for frames refused here. */
  private void refuse(WebSocket ws, int code, String problem) {
    // The failure first: a writer whose send() OkHttp refuses once the Close is queued then throws this failure,
    // not a "send queue full" of its own.
    end(TunnelFailure.closedHere(peer, code, problem));
    ws.close(code, problem);
  }

  @Override
  public void onMessage(WebSocket ws, String text) {
    refuse(ws, 1003, "expected binary frames but was a text frame");
  }

  @Override
  public void onClosing(WebSocket ws, int code, String reason) {
    if (reason.indexOf('\uFFFD') >= 0) {
      // OkHttp decodes the reason with U+FFFD in place of bytes that are not UTF-8 (and cannot tell us which it
      // was): RFC 6455 8.1 fails the connection, 1007, as the Netty client does. A U+FFFD the server encoded itself
      // is refused as well.
      refuse(ws, 1007, "expected a UTF-8 close reason but it was not");
      return;
    }
    // Echo the code (RFC 6455 5.5.1); codes that may not be sent (1005: none given) are echoed as 1000.
    boolean sendable = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
        || (code >= 3000 && code <= 4999);
    // The failure before the echo, as in refuse: once the echo is queued OkHttp refuses every send, and a writer
    // in between (grpc-okhttp's preface right after the 101) must throw the peer's Close, not "send queue full".
    end(TunnelFailure.closedByPeer(peer, code, reason));
    ws.close(sendable ? code : 1000, null);
  }

  @Override
  public void onClosed(WebSocket ws, int code, String reason) {
    terminated = true;
    end(TunnelFailure.closedByPeer(peer, code, reason));
  }

  private void end(TunnelFailure f) {
    lock.lock();
    try {
      if (failure == null) {
        failure = f;
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  // ---- the raw socket under OkHttp ----

  /**
   * The stream OkHttp is to read the connection's plaintext from: {@code in} behind an {@link InboundFrameLimit},
   * which refuses a message over {@code maxInboundFramePayload} at its header and holds a Ping while
   * {@value #MAX_OWED_PONGS} Pongs are owed.
   */
  InboundFrameLimit limitInbound(InputStream in) {
    InboundFrameLimit.Pings pings = new InboundFrameLimit.Pings() {
      @Override
      public boolean tryPass() {
        return tryPassPing();
      }

      @Override
      public void awaitPongsWritten() throws InterruptedIOException {
        Tunnel.this.awaitPongsWritten();
      }
    };
    int limit = options.settings().maxInboundFramePayload();
    return new InboundFrameLimit(in, limit, pings, new InboundFrameLimit.Refusal() {
      @Override
      public boolean refuse(int code, String problem) throws InterruptedIOException {
        WebSocket ws;
        lock.lock();
        try {
          ws = open ? webSocket : null;
        } finally {
          lock.unlock();
        }
        if (ws == null) {
          // Not open: OkHttp reads frames only after onOpen, so this stream and OkHttp disagree on where the
          // answer's head ends. The end of the stream fails the upgrade.
          end(TunnelFailure.handshake("expected the answer to the upgrade request to end before frames, as OkHttp "
              + "reads it, but a frame was refused within it: " + problem + " (from " + peer + ")", null));
          return false;
        }
        Tunnel.this.refuse(ws, code, problem);
        return awaitCloseWritten();
      }
    });
  }

  /** Whether the raw socket carries the WebSocket's frames in plaintext (ws; for wss it carries TLS records). */
  boolean rawSocketIsPlaintext() {
    return !options.isSecure();
  }

  /** OkHttp's socket connected (TCP, to the server or the proxy). */
  void onTcpConnected(Socket socket, InetSocketAddress local, InetSocketAddress remote) {
    this.rawSocket = socket;
    this.localAddress = local;
    this.remoteAddress = remote;
    this.tcpConnected = true;
  }

  /**
   * OkHttp's socket took bytes, among them {@code pongs} whole Pong frames (its queues may have shrunk), and the last
   * byte of a Close if {@code closeWritten}.
   */
  void onRawWrite(int pongs, boolean closeWritten) {
    lastRawWriteNanos = System.nanoTime();
    lock.lock();
    try {
      rawWritesSeen = true;
      pongsWritten += pongs;
      this.closeWritten |= closeWritten;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * OkHttp's TLS socket wrote records to the raw socket (wss): progress for the close watch and the silence watch,
   * without a signal, which the TLS socket above gives for the plaintext it was asked to write ({@link #onRawWrite}).
   */
  void onRawProgress() {
    lastRawWriteNanos = System.nanoTime();
  }

  /**
   * A Ping of the server's is about to be handed to OkHttp's reader: true when it may be (counted as owing a Pong),
   * false while {@value #MAX_OWED_PONGS} Pongs are owed ({@link #awaitPongsWritten} then waits). Once OkHttp has failed
   * the WebSocket it answers no more Pings, and every one may pass; a tunnel that is closing (closed here, or a Close
   * of ours queued) still holds them, since OkHttp answers Pings until its Close is written.
   */
  boolean tryPassPing() {
    lock.lock();
    try {
      if (failedInOkHttp) {
        return true;
      }
      if (pingsRead - pongsWritten >= MAX_OWED_PONGS) {
        return false;
      }
      pingsRead++;
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Holds OkHttp's reader while {@value #MAX_OWED_PONGS} Pongs are owed, until OkHttp fails the WebSocket. */
  void awaitPongsWritten() throws InterruptedIOException {
    lock.lock();
    try {
      while (pingsRead - pongsWritten >= MAX_OWED_PONGS && !failedInOkHttp) {
        changed.await();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while reading from " + peer);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Holds OkHttp's reader, after a refusal here has queued our Close, until that Close is written whole: only then may
   * the reader be handed the Close that stops it ({@link InboundFrameLimit}). OkHttp closes the socket as soon as it
   * reads a Close once its writer has taken ours off the queue, written or not, and the server read EOF instead of our
   * Close. Returns false, having cancelled the WebSocket, if the socket took no byte for {@link #CLOSE_STALL_MILLIS}
   * (a server that stopped reading); true at once if OkHttp has failed the WebSocket.
   */
  boolean awaitCloseWritten() throws InterruptedIOException {
    long since = System.nanoTime();
    long stall = TimeUnit.MILLISECONDS.toNanos(CLOSE_STALL_MILLIS);
    WebSocket ws;
    lock.lock();
    try {
      while (!closeWritten && !failedInOkHttp && !terminated) {
        long left = Math.max(since, lastRawWriteNanos) + stall - System.nanoTime();
        if (left <= 0) {
          break;
        }
        changed.awaitNanos(left);
      }
      if (closeWritten || failedInOkHttp || terminated) {
        return true;
      }
      ws = webSocket;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while closing the tunnel to " + peer);
    } finally {
      lock.unlock();
    }
    ws.cancel();
    return false;
  }

  void onProxyChosen(ProxyChooser.Choice proxy) {
    this.proxy = proxy;
  }

  InetSocketAddress localAddress() {
    return localAddress;
  }

  InetSocketAddress remoteAddress() {
    return remoteAddress;
  }

  /** How this tunnel ended, or null while it is open. */
  TunnelFailure failure() {
    lock.lock();
    try {
      return failure;
    } finally {
      lock.unlock();
    }
  }

  /**
   * How this tunnel ended, if it ended before the server's SETTINGS arrived (its first 9 bytes in the tunnel found
   * to begin that frame): grpc-okhttp never read them, so its connection never became ready and the calls waiting
   * for it fail with grpc-okhttp's own text. Null while open or once the server's SETTINGS have arrived.
   */
  TunnelFailure failureBeforeServerSettings() {
    lock.lock();
    try {
      return prefaceChecked ? null : failure;
    } finally {
      lock.unlock();
    }
  }

  // ---- the byte streams grpc-okhttp uses ----

  int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    lock.lock();
    try {
      // Nothing before the first bytes are known to be HTTP/2 (onMessage checks them once 9 have arrived).
      while (inbound.size() == 0 || !prefaceChecked) {
        if (closedLocally) {
          throw new SocketException("Socket closed");
        }
        if (failure != null) {
          throw failure;
        }
        changed.await();
      }
      int n = inbound.read(b, off, len);
      changed.signalAll();
      return n;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while reading from " + peer);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Sends one binary message, waiting while OkHttp's queue is above {@link #highWater}. With pings on, the wait ends
   * the tunnel once the socket has taken no byte for {@code pingInterval + pingTimeout}: a server that stops reading
   * but pings on (so no read times out, and OkHttp's own Ping waits behind our messages) would otherwise hold
   * grpc-okhttp's writer here, and with it the socket, its threads and the channel's termination, for good.
   */
  void send(ByteString message) throws IOException {
    WebSocket ws;
    long stallNanos = options.settings().pingIntervalMillis() == 0 ? 0
        : TimeUnit.MILLISECONDS.toNanos(silenceMillis());
    long since = System.nanoTime();
    long stalledWith = -1;
    lock.lock();
    try {
      while (true) {
        if (closedLocally) {
          throw new SocketException("Socket closed");
        }
        if (failure != null) {
          throw failure;
        }
        if (!rawWritesSeen || webSocket.queueSize() + message.size() <= highWater) {
          break;
        }
        // Woken by OkHttp's next raw write (onRawWrite), or by the tunnel's end.
        roomWaits++;
        if (stallNanos == 0) {
          changed.await();
          continue;
        }
        long left = Math.max(since, lastRawWriteNanos) + stallNanos - System.nanoTime();
        if (left <= 0) {
          stalledWith = webSocket.queueSize();
          break;
        }
        changed.awaitNanos(left);
      }
      ws = webSocket;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while writing to " + peer);
    } finally {
      lock.unlock();
    }
    if (stalledWith >= 0) {
      end(TunnelFailure.lost("expected " + peer + " to read what this client sent, but the socket took no byte for "
          + silenceMillis() + " ms (pingInterval + pingTimeout) with " + stalledWith + " bytes queued", null));
      ws.cancel();
      throw failure();
    }
    if (!ws.send(message)) {
      throw refused();
    }
  }

  /**
   * Why OkHttp refused a message. It refuses once a Close is queued, which this class records as the failure first,
   * and once it has failed the WebSocket, a moment before it reports why ({@link #onFailure}, on its reader thread):
   * that reason is waited for, {@value #REFUSAL_WAIT_MILLIS} ms at most, so a writer does not report a refusal of
   * its own instead of the server's protocol error.
   */
  private TunnelFailure refused() throws InterruptedIOException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(REFUSAL_WAIT_MILLIS);
    lock.lock();
    try {
      long left;
      while (failure == null && !closedLocally && (left = deadline - System.nanoTime()) > 0) {
        changed.awaitNanos(left);
      }
      return failure != null ? failure : TunnelFailure.lost("OkHttp refused a message for " + peer
          + ": its 16 MiB send queue was full or the WebSocket was closing", null);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while writing to " + peer);
    } finally {
      lock.unlock();
    }
  }

  /**
   * grpc-okhttp is done with the connection: Close 1000 after what is queued (unless the tunnel has ended), and wake
   * every waiter.
   */
  void close() {
    WebSocket ws;
    WebSocket ended;
    lock.lock();
    try {
      if (closedLocally) {
        return;
      }
      closedLocally = true;
      // An ended tunnel has sent or received its Close, or lost its connection; a Close 1000 now could overtake the
      // Close that a refusal is about to queue (refuseTooBig ends the tunnel first).
      ws = failure == null ? webSocket : null;
      // Its Close (a refusal's, an echo's) may still wait behind what a server that stopped reading never took, and
      // OkHttp's reader ends only at the server's Close: watched all the same, from now.
      ended = failure != null && !terminated ? webSocket : null;
      inbound.clear();
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    if (ws != null) {
      closeWatched(ws, 1000, null);
    } else if (ended != null) {
      watchClose(ended);
    }
  }

  /**
   * How long a closing tunnel may go without its socket taking a byte before it is cut, as in the Netty client:
   * OkHttp queues its Close behind what it has not written, and starts its own limit (60 s) only once the Close is
   * written, so a server that stopped reading (and pings, so that nothing times out) held the socket and OkHttp's two
   * threads for as long as it liked, and every reconnect added another set.
   */
  static final long CLOSE_STALL_MILLIS = 5000;
  /**
   * Without sight of the socket's writes (through a SOCKS proxy, which OkHttp dials itself): how long a close may
   * take in all.
   */
  static final long CLOSE_UNSEEN_MILLIS = 60_000;
  /** How often a closing tunnel is checked. */
  private static final long CLOSE_CHECK_MILLIS = 250;

  /** OkHttp reported the WebSocket closed or failed: its socket is closed. */
  private volatile boolean terminated;
  private final AtomicReference<ScheduledFuture<?>> closeWatch = new AtomicReference<>();

  /**
   * Asks OkHttp to close {@code ws} with {@code code} and {@code reason}, and cancels it (closing its socket) if the
   * close then goes {@link #CLOSE_STALL_MILLIS} without the socket taking a byte ({@link #CLOSE_UNSEEN_MILLIS} in
   * all where the socket is not seen) before OkHttp reports it closed. For the close of a connection grpc-okhttp is
   * done with; a tunnel that ended before (the Close of a refusal or an echo queued, the connection lost) is watched
   * the same way once grpc-okhttp closes it ({@link #close}), not before (its timing against OkHttp's reader is as it
   * was).
   */
  private void closeWatched(WebSocket ws, int code, String reason) {
    ws.close(code, reason);
    watchClose(ws);
  }

  private void watchClose(WebSocket ws) {
    if (terminated || closeWatch.get() != null) {
      return;
    }
    long since = System.nanoTime();
    Runnable check = () -> {
      long now = System.nanoTime();
      // Writes are seen where OkHttp writes through the streams of our sockets: not through a SOCKS proxy over ws
      // (over wss the TLS socket's are still ours).
      long lastWrite = lastRawWriteNanos;
      boolean stalled = lastWrite != 0
          ? now - Math.max(since, lastWrite) >= TimeUnit.MILLISECONDS.toNanos(CLOSE_STALL_MILLIS)
          : now - since >= TimeUnit.MILLISECONDS.toNanos(CLOSE_UNSEEN_MILLIS);
      if (terminated || stalled) {
        ScheduledFuture<?> self = closeWatch.get();
        if (self != null) {
          self.cancel(false);
        }
        if (!terminated) {
          ws.cancel();
        }
      }
    };
    ScheduledFuture<?> scheduled = Closing.TIMER.scheduleWithFixedDelay(check, CLOSE_CHECK_MILLIS,
        CLOSE_CHECK_MILLIS, TimeUnit.MILLISECONDS);
    if (!closeWatch.compareAndSet(null, scheduled)) {
      scheduled.cancel(false); // another close got there first
    }
  }

  /** The one thread that checks closing tunnels, made on first use; it ends when idle. */
  private static final class Closing {
    static final ScheduledThreadPoolExecutor TIMER = timer();

    private static ScheduledThreadPoolExecutor timer() {
      ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, r -> {
        Thread t = new Thread(r, "wsgrpc-okhttp-close");
        t.setDaemon(true);
        return t;
      });
      timer.setKeepAliveTime(10, TimeUnit.SECONDS);
      timer.allowCoreThreadTimeOut(true);
      timer.setRemoveOnCancelPolicy(true);
      return timer;
    }
  }

  long roomWaits() {
    lock.lock();
    try {
      return roomWaits;
    } finally {
      lock.unlock();
    }
  }

  String peer() {
    return peer;
  }
}
