package dev.wsgrpc.okhttp;

import java.io.IOException;
import java.io.InputStream;

/**
 * The stream OkHttp reads a tunnel's connection from, enforcing {@code maxInboundFramePayload} at each frame's header,
 * before OkHttp buffers the payload. OkHttp 4 has no limit of its own: it reads a whole message into memory and only
 * then hands it to {@link Tunnel#onMessage}, so a server announcing a message of 400 MB made the client hold 400 MB.
 *
 * <p>The bytes pass through unchanged while they are followed: first the answer to the upgrade request (only after a
 * {@code 101} status line and the empty line that ends the head are frames followed; any other answer passes through
 * untouched), then the server's frames (RFC 6455 section 5.2: 2 to 14 header bytes, a 7-, 16- or 64-bit payload
 * length). The limit applies per message, as {@link Tunnel#onMessage} applied it: the lengths of a data frame and the
 * continuation frames before it in its message are added up. Control frames are OkHttp's to check (at most 125
 * bytes, before it reads their payload).
 *
 * <p>A frame header is handed to OkHttp only once it is whole (it may arrive split across reads; at most 13 of its
 * bytes wait here). When a data frame would take its message over the limit, the bytes before its header are still
 * handed out; when OkHttp asks for more, the {@link Refusal} runs (the tunnel sends Close 1009 and ends, as for a
 * message over the limit before), and OkHttp is handed, instead of the header, a Close frame with code 1009 as though
 * the server had answered ours. That is OkHttp's own way to stop reading: its reader stops at a Close, and its writer
 * closes the connection as soon as our Close is written. Nothing of the payload is read after the header. The stream
 * holds one buffer of {@value #BUFFER} bytes.
 *
 * <p>A Ping's header is handed to OkHttp only once its {@link Pings} lets it pass: while too many Pongs are owed, the
 * reader waits there, having handed out everything before the Ping, and reads nothing more from the connection.
 */
final class InboundFrameLimit extends InputStream {

  /** What to do when a message is over the limit: close the WebSocket with 1009 and end the tunnel. */
  interface Refusal {
    void tooBig();
  }

  /**
   * Where Pings wait for the Pongs owed (see {@link Tunnel#MAX_OWED_PONGS}): a Ping's header is handed to OkHttp only
   * once {@link #tryPass} says so; until then nothing more is read, and the reader waits in
   * {@link #awaitPongsWritten} (with every byte before the Ping handed out, so that OkHttp can answer those).
   */
  interface Pings {
    Pings UNLIMITED = new Pings() {
      @Override
      public boolean tryPass() {
        return true;
      }

      @Override
      public void awaitPongsWritten() {}
    };

    boolean tryPass();

    void awaitPongsWritten() throws IOException;
  }

  static final int BUFFER = 8192;

  /** A Close frame from the server, unmasked, with code 1009 and no reason. */
  private static final byte[] CLOSE_1009 = {(byte) 0x88, 0x02, 0x03, (byte) 0xF1};

  private enum State {
    /** In the status line of the answer to the upgrade request. */
    STATUS_LINE,
    /** In the header lines, until the empty line. */
    HEADERS,
    /** At the start of a frame header. */
    FRAME_HEADER,
    /** Inside a frame's payload. */
    PAYLOAD,
    /** Not following: the answer was not a 101, or a frame header was malformed (OkHttp fails on it). */
    PASS,
    /** A message over the limit was found: nothing more is read. */
    REFUSED
  }

  private final InputStream in;
  private final int limit;
  private final Refusal refusal;
  private final Pings pings;
  /** A Ping's header is next, and waits for Pongs to be written. */
  private boolean pingWaiting;

  /** Bytes read from {@link #in}: {@code [pos, released)} may be handed out, {@code [released, end)} wait. */
  private final byte[] buf = new byte[BUFFER];
  private int pos;
  private int released;
  private int end;

  private State state = State.STATUS_LINE;
  /** The status line's first bytes (enough for {@code HTTP/1.1 101}). */
  private final StringBuilder statusLine = new StringBuilder();
  /** Bytes of the current header line, not counting CR. */
  private int lineBytes;
  private long payloadLeft;
  /** The payload lengths of the data frames of the current message so far (a message without its final frame). */
  private long messageSoFar;
  private boolean refusalRun;
  private int closeBytesGiven;

  InboundFrameLimit(InputStream in, int limit, Refusal refusal) {
    this(in, limit, Pings.UNLIMITED, refusal);
  }

  InboundFrameLimit(InputStream in, int limit, Pings pings, Refusal refusal) {
    this.in = in;
    this.limit = limit;
    this.pings = pings;
    this.refusal = refusal;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    int n = read(one, 0, 1);
    return n == -1 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (off < 0 || len < 0 || len > b.length - off) {
      throw new IndexOutOfBoundsException();
    }
    if (len == 0) {
      return 0;
    }
    while (true) {
      if (pos < released) {
        int n = Math.min(len, released - pos);
        System.arraycopy(buf, pos, b, off, n);
        pos += n;
        return n;
      }
      if (state == State.REFUSED) {
        return giveClose(b, off, len);
      }
      if (pingWaiting) {
        // Everything before the Ping was handed out: OkHttp can write the Pongs it owes.
        pings.awaitPongsWritten();
        pingWaiting = false;
        follow();
        continue;
      }
      // Keep the part of a header that waits, and read more after it.
      if (pos > 0) {
        System.arraycopy(buf, pos, buf, 0, end - pos);
        end -= pos;
        released -= pos;
        pos = 0;
      }
      int r = in.read(buf, end, buf.length - end);
      if (r == -1) {
        if (end > released) {
          // The connection ended inside a frame header: hand OkHttp what came, and let it report the EOF.
          released = end;
          state = State.PASS;
          continue;
        }
        return -1;
      }
      end += r;
      follow();
    }
  }

  private int giveClose(byte[] b, int off, int len) {
    if (!refusalRun) {
      refusalRun = true;
      refusal.tooBig();
    }
    if (closeBytesGiven == CLOSE_1009.length) {
      return -1;
    }
    int n = Math.min(len, CLOSE_1009.length - closeBytesGiven);
    System.arraycopy(CLOSE_1009, closeBytesGiven, b, off, n);
    closeBytesGiven += n;
    return n;
  }

  /** Follows the bytes in {@code [released, end)}, moving {@link #released} past every byte that may be handed out. */
  private void follow() {
    while (released < end) {
      switch (state) {
        case STATUS_LINE:
        case HEADERS:
          followHead(buf[released++]);
          break;
        case PAYLOAD: {
          long n = Math.min(payloadLeft, end - released);
          released += (int) n;
          payloadLeft -= n;
          if (payloadLeft == 0) {
            state = State.FRAME_HEADER;
          }
          break;
        }
        case FRAME_HEADER:
          if (!followFrameHeader()) {
            return; // Wait for the rest of the header or for Pongs to be written, or refused.
          }
          break;
        case PASS:
          released = end;
          break;
        default: // REFUSED: nothing after the header is handed out.
          return;
      }
    }
  }

  private void followHead(byte b) {
    if (state == State.STATUS_LINE) {
      if (b == '\n') {
        // "HTTP/1.1 101 Switching Protocols": the code is the second word.
        String[] words = statusLine.toString().trim().split(" ");
        state = words.length >= 2 && words[1].equals("101") ? State.HEADERS : State.PASS;
        lineBytes = 0;
      } else if (statusLine.length() < 32) {
        statusLine.append((char) (b & 0xff));
      }
      return;
    }
    if (b == '\n') {
      if (lineBytes == 0) {
        state = State.FRAME_HEADER; // The empty line: frames follow.
      }
      lineBytes = 0;
    } else if (b != '\r') {
      lineBytes++;
    }
  }

  /** Follows a frame header starting at {@link #released}; false if it is not all here yet or its message is refused. */
  private boolean followFrameHeader() {
    int available = end - released;
    if (available < 2) {
      return false;
    }
    int first = buf[released] & 0xff;
    int second = buf[released + 1] & 0xff;
    boolean fin = (first & 0x80) != 0;
    int opcode = first & 0x0f;
    int length7 = second & 0x7f;
    int headerLength = 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + ((second & 0x80) != 0 ? 4 : 0);
    if (available < headerLength) {
      return false;
    }
    long length;
    if (length7 == 126) {
      length = ((buf[released + 2] & 0xff) << 8) | (buf[released + 3] & 0xff);
    } else if (length7 == 127) {
      length = 0;
      for (int i = 0; i < 8; i++) {
        length = (length << 8) | (buf[released + 2 + i] & 0xff);
      }
    } else {
      length = length7;
    }
    if (length < 0) {
      // Over 2^63 - 1: OkHttp refuses the header as a protocol error; stop following.
      state = State.PASS;
      return true;
    }
    if (opcode == 0x9 && !pings.tryPass()) {
      pingWaiting = true;
      return false;
    }
    if (opcode < 0x8) {
      long before = opcode == 0x0 ? messageSoFar : 0; // At most the limit: no overflow below.
      if (length > limit - before) {
        state = State.REFUSED;
        end = released; // The header and what came after it are dropped.
        return false;
      }
      messageSoFar = fin ? 0 : before + length;
    }
    released += headerLength;
    payloadLeft = length;
    state = length == 0 ? State.FRAME_HEADER : State.PAYLOAD;
    return true;
  }

  @Override
  public int available() throws IOException {
    return released - pos;
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
