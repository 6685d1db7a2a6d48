package dev.wsgrpc.okhttp;

import java.io.IOException;
import java.io.InputStream;
import java.net.ProtocolException;

/**
 * The stream OkHttp reads a tunnel's connection from, enforcing {@code maxInboundFramePayload} at each frame's header,
 * before OkHttp buffers the payload. OkHttp 4 has no limit of its own: it reads a whole message into memory and only
 * then hands it to {@link Tunnel#onMessage}, so a server announcing a message of 400 MB made the client hold 400 MB.
 *
 * <p>The bytes pass through unchanged while they are followed: first the answer to the upgrade request (only after a
 * {@code 101} status line and the empty line that ends the head are frames followed; interim answers before it, such
 * as a CDN's {@code 103 Early Hints}, are followed to their end, and any other answer passes through untouched),
 * then the server's frames (RFC 6455 section 5.2: 2 to 14 header bytes, a 7-, 16- or 64-bit payload length). The
 * limit applies per message, as {@link Tunnel#onMessage} applied it: the lengths of a data frame and the continuation
 * frames before it in its message are added up. Each header is also checked as OkHttp's reader checks
 * it (RSV bits, mask, reserved opcodes, control frames final and at most 125 bytes, continuation frames where a
 * message is open and only there, a 64-bit length below 2^63, and a Close's code), because OkHttp fails the
 * WebSocket on such a frame without sending a Close: here it is refused with Close 1002 and the Netty client's words
 * ({@link TunnelFailure#expectedButWas} of OkHttp's own text), as the Netty client refuses it.
 *
 * <p>A frame header is handed to OkHttp only once it is whole (it may arrive split across reads; at most 13 of its
 * bytes wait here, 127 for a Close, whose code is checked). When a data frame would take its message over the limit,
 * or a frame breaks RFC 6455, the bytes before its header are still handed out; when OkHttp asks for more, the {@link
 * Refusal} runs (the tunnel sends Close 1009 or 1002 and ends) and, once our Close is written, OkHttp is handed,
 * instead of the header, a Close frame with that code as though the server had answered ours (after an empty last
 * continuation frame if a message was open, so that OkHttp ends it and reads the Close between messages). That is
 * OkHttp's own way to stop reading: its reader stops at a Close, and the connection is closed once our Close is out.
 * (Handed over before ours was written, it made OkHttp close the connection while its writer held our Close, and
 * the server read the end of the stream instead.) Nothing of the payload is read after the header. The stream holds
 * one buffer of {@value #BUFFER} bytes.
 *
 * <p>A Ping's header is handed to OkHttp only once its {@link Pings} lets it pass: while too many Pongs are owed, the
 * reader waits there, having handed out everything before the Ping, and reads nothing more from the connection.
 */
final class InboundFrameLimit extends InputStream {

  /**
   * What to do when the server's frames are refused: close the WebSocket with {@code code} (1009 for a message over
   * the limit, 1002 for a frame that breaks RFC 6455) and {@code problem}, end the tunnel, and return once the Close
   * is written: true, or false if the connection was cut instead (OkHttp is then handed the end of the stream).
   */
  interface Refusal {
    boolean refuse(int code, String problem) throws IOException;
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

  /** The last frame of a fragmented message, empty: ends the message OkHttp is reading before the Close. */
  private static final byte[] LAST_CONTINUATION = {(byte) 0x80, 0x00};

  private enum State {
    /** In the status line of the answer to the upgrade request. */
    STATUS_LINE,
    /** In the header lines, until the empty line. */
    HEADERS,
    /** In the header lines of an interim answer (1xx but not 101), after which the status line comes again. */
    INTERIM_HEADERS,
    /** At the start of a frame header. */
    FRAME_HEADER,
    /** Inside a frame's payload. */
    PAYLOAD,
    /** Not following: the answer was not a 101. */
    PASS,
    /** A message over the limit or a frame that breaks RFC 6455 was found: nothing more is read. */
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
  /** Bytes of the current line of the head so far. */
  private int lineBytes;
  /** The last byte of the head was a CR. */
  private boolean lastWasCr;
  /**
   * The status line of a final answer other than 101 (printable), once one came: OkHttp then writes nothing more on
   * the connection, unless it asks again on it ({@link #checkNoSecondRequest}).
   */
  private volatile String notUpgraded;
  /**
   * A second request was refused ({@link #checkNoSecondRequest}): reads fail the same way, since OkHttp, its request
   * not written, still reads for an answer the server will not send.
   */
  private volatile boolean secondRequestRefused;
  private long payloadLeft;
  /** The payload lengths of the data frames of the current message so far (a message without its final frame). */
  private long messageSoFar;
  /** A data frame without FIN was the last: a message is open, and only continuation frames may follow. */
  private boolean fragmented;
  private int refusedCode;
  private String refusedProblem;
  /** What OkHttp is handed instead of the refused frame: the Close, after a frame ending the open message if any. */
  private byte[] refusalFrames;
  private boolean refusalRun;
  private int refusalBytesGiven;

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
    if (secondRequestRefused) {
      throw secondRequestRefusal(notUpgraded);
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

  private int giveClose(byte[] b, int off, int len) throws IOException {
    if (!refusalRun) {
      refusalRun = true;
      if (!refusal.refuse(refusedCode, refusedProblem)) {
        refusalBytesGiven = refusalFrames.length;
      }
    }
    if (refusalBytesGiven == refusalFrames.length) {
      return -1;
    }
    int n = Math.min(len, refusalFrames.length - refusalBytesGiven);
    System.arraycopy(refusalFrames, refusalBytesGiven, b, off, n);
    refusalBytesGiven += n;
    return n;
  }

  /** The text of a refusal for a message over {@code limit} bytes: the Netty client's. */
  static String tooBig(int limit) {
    return "Max frame length of " + limit + " has been exceeded.";
  }

  /**
   * Refuses the frame whose header starts at {@link #released}: it and everything after it are dropped, and OkHttp
   * is handed a Close with {@code code} as though the server had answered ours (after an empty last frame for a
   * message OkHttp has begun, so that it reads the Close between messages rather than failing inside one).
   */
  private void refuse(int code, String problem) {
    state = State.REFUSED;
    end = released;
    refusedCode = code;
    refusedProblem = problem;
    byte[] close = {(byte) 0x88, 0x02, (byte) (code >> 8), (byte) code};
    refusalFrames = fragmented ? concat(LAST_CONTINUATION, close) : close;
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] both = new byte[a.length + b.length];
    System.arraycopy(a, 0, both, 0, a.length);
    System.arraycopy(b, 0, both, a.length, b.length);
    return both;
  }

  /** Follows the bytes in {@code [released, end)}, moving {@link #released} past every byte that may be handed out. */
  private void follow() throws ProtocolException {
    while (released < end) {
      switch (state) {
        case STATUS_LINE:
        case HEADERS:
        case INTERIM_HEADERS:
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

  /**
   * Follows the answer's head as OkHttp reads it: lines end at LF, less one CR before it; the status code is the
   * three characters after {@code HTTP/1.x }, {@code ICY } or {@code SOURCETABLE } (OkHttp's {@code StatusLine}).
   */
  private void followHead(byte b) throws ProtocolException {
    if (b != '\n') {
      if (state == State.STATUS_LINE && statusLine.length() < 32) {
        statusLine.append((char) (b & 0xff));
      }
      lineBytes++;
      lastWasCr = b == '\r';
      return;
    }
    int length = lineBytes - (lastWasCr ? 1 : 0);
    lineBytes = 0;
    lastWasCr = false;
    if (state == State.STATUS_LINE) {
      String line = statusLine.substring(0, Math.min(length, statusLine.length()));
      statusLine.setLength(0);
      int code = statusCode(line);
      if (code == 101) {
        state = State.HEADERS;
      } else if (code >= 100 && code < 200) {
        state = State.INTERIM_HEADERS; // OkHttp reads past it to the next answer.
      } else {
        state = State.PASS;
        notUpgraded = Checks.printable(line, 32);
      }
    } else if (length == 0) {
      // The empty line: frames follow the 101; another answer follows an interim one.
      state = state == State.HEADERS ? State.FRAME_HEADER : State.STATUS_LINE;
    }
  }

  /**
   * The code of a status line as OkHttp would read it, or -1 where OkHttp refuses the line itself (no known
   * protocol). A code that is not three ASCII digits is refused here: OkHttp reads any Unicode digits (a fullwidth
   * {@code １０３} is a 103 to it), and the frames after such an answer would pass unchecked.
   */
  private static int statusCode(String line) throws ProtocolException {
    int codeStart = line.startsWith("HTTP/1.") ? 9 : line.startsWith("ICY ") ? 4
        : line.startsWith("SOURCETABLE ") ? 12 : -1;
    if (codeStart < 0) {
      return -1;
    }
    int code = 0;
    for (int i = codeStart; i < codeStart + 3; i++) {
      char c = i < line.length() ? line.charAt(i) : ' ';
      if (c < '0' || c > '9') {
        throw new ProtocolException("expected an HTTP status line with a three-digit code but was '"
            + Checks.printable(line, 32) + "'");
      }
      code = code * 10 + (c - '0');
    }
    return code;
  }

  /**
   * Throws if OkHttp writes a second request on a connection whose answer was not a 101: OkHttp asks again after a
   * {@code 503} with {@code Retry-After: 0}, on the same connection when the answer's body allows, and this stream
   * would follow the second answer's frames no longer. Called before each write on the connection.
   */
  void checkNoSecondRequest() throws ProtocolException {
    String answer = notUpgraded;
    if (answer != null) {
      secondRequestRefused = true;
      throw secondRequestRefusal(answer);
    }
  }

  private static ProtocolException secondRequestRefusal(String answer) {
    return new ProtocolException("expected HTTP 101 but was '" + answer + "', after which OkHttp asked again on the "
        + "same connection (as it does after a 503 with Retry-After: 0): refused, a tunnel's connection carries one "
        + "upgrade request");
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
    String broken = okHttpWouldRefuse(first, second, length);
    if (broken == null && opcode == 0x8 && length <= 125) {
      if (available < headerLength + length) {
        return false; // A Close is checked whole (at most 127 bytes wait).
      }
      broken = closePayloadRefusal(released + headerLength, (int) length);
    }
    if (broken != null) {
      refuse(1002, TunnelFailure.expectedButWas(broken));
      return false;
    }
    if (opcode == 0x9 && !pings.tryPass()) {
      pingWaiting = true;
      return false;
    }
    if (opcode < 0x8) {
      long before = opcode == 0x0 ? messageSoFar : 0; // At most the limit: no overflow below.
      if (length > limit - before) {
        refuse(1009, tooBig(limit));
        return false;
      }
      messageSoFar = fin ? 0 : before + length;
      fragmented = !fin;
    }
    released += headerLength;
    payloadLeft = length;
    state = length == 0 ? State.FRAME_HEADER : State.PAYLOAD;
    return true;
  }

  /**
   * The text of the ProtocolException OkHttp 4.12's reader throws for a frame with these first two header bytes and
   * payload {@code length} (negative: over 2^63 - 1), in its order of checks; null if it takes the frame. A Close's
   * payload is checked by {@link #closePayloadRefusal}.
   */
  private String okHttpWouldRefuse(int first, int second, long length) {
    int opcode = first & 0x0f;
    boolean control = (opcode & 0x8) != 0;
    if (control && (first & 0x80) == 0) {
      return "Control frames must be final.";
    }
    for (int rsv = 1; rsv <= 3; rsv++) {
      if ((first & (0x80 >> rsv)) != 0) {
        return "Unexpected rsv" + rsv + " flag";
      }
    }
    if ((second & 0x80) != 0) {
      return "Server-sent frames must not be masked.";
    }
    if (length < 0) {
      return "Frame length 0x" + Long.toHexString(length) + " > 0x7FFFFFFFFFFFFFFF";
    }
    if (control) {
      if (length > 125) {
        return "Control frame must be less than 125B.";
      }
      return opcode > 0xA ? "Unknown control opcode: " + Integer.toHexString(opcode) : null;
    }
    if (fragmented) {
      return opcode != 0x0 ? "Expected continuation opcode. Got: " + Integer.toHexString(opcode) : null;
    }
    return opcode != 0x1 && opcode != 0x2 ? "Unknown opcode: " + Integer.toHexString(opcode) : null;
  }

  /** OkHttp's text refusing a Close payload of {@code length} bytes at {@code at} in {@link #buf}, or null. */
  private String closePayloadRefusal(int at, int length) {
    if (length == 1) {
      return "Malformed close payload length of 1.";
    }
    if (length == 0) {
      return null;
    }
    int code = ((buf[at] & 0xff) << 8) | (buf[at + 1] & 0xff);
    if (code < 1000 || code >= 5000) {
      return "Code must be in range [1000,5000): " + code;
    }
    if ((code >= 1004 && code <= 1006) || (code >= 1015 && code <= 2999)) {
      return "Code " + code + " is reserved and may not be used.";
    }
    return null;
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
