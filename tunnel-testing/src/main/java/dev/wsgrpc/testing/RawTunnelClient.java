package dev.wsgrpc.testing;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;

/**
 * A tunnel client written from the wire up, for tests that play a hostile or exact HTTP/2 peer inside a tunnel: it
 * sends the upgrade on a plain socket, then masked binary frames carrying whatever HTTP/2 bytes the test builds
 * ({@link Http2Wire}), and reads the server's binary frames back as one HTTP/2 byte stream. It answers Pings,
 * remembers the server's Close, and shares no code with the tunnel under test. Blocking; one thread at a time.
 */
public final class RawTunnelClient implements AutoCloseable {

  private final Socket socket;
  private final OutputStream out;
  private final InputStream in;
  private final DataInputStream http2;
  private int closeCode = -1;
  private String closeReason;
  private int maskSeed = 1;

  private RawTunnelClient(Socket socket, InputStream in) throws IOException {
    this.socket = socket;
    this.out = socket.getOutputStream();
    this.in = in;
    this.http2 = new DataInputStream(new PayloadStream());
  }

  /**
   * Connects to {@code address}, asks for the upgrade on {@code path} offering {@code subprotocol}, and fails unless
   * the answer is 101. Reads time out after {@code readTimeout}.
   */
  public static RawTunnelClient connect(InetSocketAddress address, String path, String subprotocol,
      Duration readTimeout) throws IOException {
    Socket socket = new Socket();
    socket.connect(address, 10_000);
    socket.setTcpNoDelay(true);
    socket.setSoTimeout((int) readTimeout.toMillis());
    String key = Base64.getEncoder().encodeToString("raw-tunnel-clien".getBytes(StandardCharsets.US_ASCII));
    String request = "GET " + path + " HTTP/1.1\r\nHost: " + address.getHostString() + ":" + address.getPort()
        + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key
        + "\r\nSec-WebSocket-Protocol: " + subprotocol + "\r\n\r\n";
    socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
    InputStream in = socket.getInputStream();
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        socket.close();
        throw new EOFException("connection closed before the end of the upgrade answer: " + head);
      }
      head.write(b);
    }
    String answer = head.toString(StandardCharsets.ISO_8859_1);
    if (!answer.startsWith("HTTP/1.1 101")) {
      socket.close();
      throw new IOException("expected HTTP/1.1 101 but was: " + answer);
    }
    return new RawTunnelClient(socket, in);
  }

  /** Sends {@code http2Bytes} in one masked binary frame. */
  public void send(byte[] http2Bytes) throws IOException {
    out.write(WireFrames.frameBytes(WireFrames.firstByte(true, 0, 0x2), http2Bytes, WireFrames.key(maskSeed++)));
    out.flush();
  }

  /** Sends a masked Close frame with {@code code} and no reason. */
  public void sendClose(int code) throws IOException {
    out.write(WireFrames.frameBytes(WireFrames.firstByte(true, 0, 0x8), new byte[] {(byte) (code >> 8), (byte) code},
        WireFrames.key(maskSeed++)));
    out.flush();
  }

  /** Sends the connection preface and an empty SETTINGS frame, as every HTTP/2 client starts. */
  public void sendPrefaceAndSettings() throws IOException {
    send(Http2Wire.concat(Http2Wire.PREFACE, Http2Wire.settings()));
  }

  /**
   * The next HTTP/2 frame the server sent.
   *
   * @throws EOFException when the tunnel ended first ({@link #closeCode()} says how)
   */
  public Http2Wire.Frame readFrame() throws IOException {
    return Http2Wire.read(http2);
  }

  /** Reads frames until one of {@code type} arrives, and returns it. */
  public Http2Wire.Frame readUntil(int type) throws IOException {
    while (true) {
      Http2Wire.Frame f = readFrame();
      if (f.type == type) {
        return f;
      }
    }
  }

  /** Reads and drops everything until the tunnel ends; returns the server's close code, or -1 if it sent none. */
  public int awaitEnd() throws IOException {
    try {
      while (true) {
        readFrame();
      }
    } catch (EOFException e) {
      return closeCode;
    }
  }

  /** The code of the server's Close, or -1 if none has arrived. */
  public int closeCode() {
    return closeCode;
  }

  /** The reason of the server's Close, or null. */
  public String closeReason() {
    return closeReason;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }

  /** The payloads of the server's binary frames, one after the other; EOF at a Close or the end of the socket. */
  private final class PayloadStream extends InputStream {
    private byte[] current = new byte[0];
    private int pos;
    private boolean ended;

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      while (pos == current.length) {
        if (ended || !nextFrame()) {
          ended = true;
          return -1;
        }
      }
      int n = Math.min(len, current.length - pos);
      System.arraycopy(current, pos, b, off, n);
      pos += n;
      return n;
    }

    /** Reads one WebSocket frame; returns false at the end of the tunnel. */
    private boolean nextFrame() throws IOException {
      int b0 = in.read();
      if (b0 < 0) {
        return false;
      }
      int b1 = readByte();
      long len = b1 & 0x7f;
      if (len == 126) {
        len = readByte() << 8 | readByte();
      } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) {
          len = len << 8 | readByte();
        }
      }
      byte[] payload = new byte[(int) len];
      new DataInputStream(in).readFully(payload);
      int opcode = b0 & 0x0f;
      if (opcode == 0x9) {
        out.write(WireFrames.frameBytes(WireFrames.firstByte(true, 0, 0xA), payload, WireFrames.key(maskSeed++)));
        out.flush();
      } else if (opcode == 0x8) {
        closeCode = payload.length >= 2 ? (payload[0] & 0xff) << 8 | (payload[1] & 0xff) : 1005;
        closeReason = payload.length > 2 ? new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8) : "";
        return false;
      } else if (opcode == 0x2 || opcode == 0x0) {
        current = payload;
        pos = 0;
      }
      return true;
    }

    private int readByte() throws IOException {
      int b = in.read();
      if (b < 0) {
        throw new EOFException("connection closed inside a WebSocket frame");
      }
      return b;
    }
  }
}
