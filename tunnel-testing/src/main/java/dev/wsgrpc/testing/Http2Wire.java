package dev.wsgrpc.testing;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Builds and reads raw HTTP/2 frames (RFC 9113, section 4.1) byte by byte, independently of any HTTP/2 codec, for
 * tests that play a hostile or exact peer: rapid reset, floods of SETTINGS and PING, a header block split into
 * HEADERS and CONTINUATION. Header blocks use HPACK literals without indexing or Huffman coding (RFC 7541, 6.2.2),
 * which every decoder must accept.
 */
public final class Http2Wire {

  /** The client connection preface (RFC 9113, 3.4). */
  public static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  public static final int DATA = 0x0;
  public static final int HEADERS = 0x1;
  public static final int RST_STREAM = 0x3;
  public static final int SETTINGS = 0x4;
  public static final int PING = 0x6;
  public static final int GOAWAY = 0x7;
  public static final int WINDOW_UPDATE = 0x8;
  public static final int CONTINUATION = 0x9;

  public static final int FLAG_END_STREAM = 0x1;
  public static final int FLAG_ACK = 0x1;
  public static final int FLAG_END_HEADERS = 0x4;

  /** SETTINGS_MAX_CONCURRENT_STREAMS. */
  public static final int SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;

  public static final int NO_ERROR = 0x0;
  public static final int CANCEL = 0x8;
  public static final int ENHANCE_YOUR_CALM = 0xb;

  /** One frame as read: its header fields and payload. */
  public static final class Frame {
    public final int type;
    public final int flags;
    public final int streamId;
    public final byte[] payload;

    Frame(int type, int flags, int streamId, byte[] payload) {
      this.type = type;
      this.flags = flags;
      this.streamId = streamId;
      this.payload = payload;
    }

    /** A GOAWAY's error code. */
    public int goAwayErrorCode() {
      return readInt(payload, 4);
    }

    /** A GOAWAY's debug data as text. */
    public String goAwayDebugData() {
      return new String(payload, 8, payload.length - 8, StandardCharsets.UTF_8);
    }

    /** The value of setting {@code id} in a SETTINGS frame, or -1 when absent. */
    public long setting(int id) {
      for (int i = 0; i + 6 <= payload.length; i += 6) {
        if (((payload[i] & 0xff) << 8 | (payload[i + 1] & 0xff)) == id) {
          return readInt(payload, i + 2) & 0xffffffffL;
        }
      }
      return -1;
    }

    @Override
    public String toString() {
      return "Frame{type=" + type + ", flags=" + flags + ", stream=" + streamId + ", length=" + payload.length + "}";
    }
  }

  /** A frame's bytes: 9-byte header and {@code payload}. */
  public static byte[] frame(int type, int flags, int streamId, byte[] payload) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(9 + payload.length);
    out.write(payload.length >>> 16);
    out.write(payload.length >>> 8);
    out.write(payload.length);
    out.write(type);
    out.write(flags);
    writeInt(out, streamId);
    out.write(payload, 0, payload.length);
    return out.toByteArray();
  }

  /** A SETTINGS frame with the given (id, value) pairs. */
  public static byte[] settings(int... idValuePairs) {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    for (int i = 0; i < idValuePairs.length; i += 2) {
      p.write(idValuePairs[i] >>> 8);
      p.write(idValuePairs[i]);
      writeInt(p, idValuePairs[i + 1]);
    }
    return frame(SETTINGS, 0, 0, p.toByteArray());
  }

  public static byte[] settingsAck() {
    return frame(SETTINGS, FLAG_ACK, 0, new byte[0]);
  }

  /** A PING carrying {@code data}. */
  public static byte[] ping(long data) {
    return frame(PING, 0, 0, longBytes(data));
  }

  public static byte[] rstStream(int streamId, int errorCode) {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    writeInt(p, errorCode);
    return frame(RST_STREAM, 0, streamId, p.toByteArray());
  }

  public static byte[] windowUpdate(int streamId, int increment) {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    writeInt(p, increment);
    return frame(WINDOW_UPDATE, 0, streamId, p.toByteArray());
  }

  /** A gRPC request's header block (POST to {@code path}, content-type application/grpc, te: trailers). */
  public static byte[] grpcRequestBlock(String path, String authority) {
    return headerBlock(Map.of(":method", "POST", ":scheme", "http", ":path", path, ":authority", authority,
        "content-type", "application/grpc", "te", "trailers"));
  }

  /**
   * An HPACK header block of literal fields without indexing, pseudo-headers first. Names and values must be shorter
   * than 127 bytes.
   */
  public static byte[] headerBlock(Map<String, String> headers) {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    headers.entrySet().stream()
        .sorted((a, b) -> Boolean.compare(!a.getKey().startsWith(":"), !b.getKey().startsWith(":")))
        .forEach(e -> {
          p.write(0x00);
          literal(p, e.getKey());
          literal(p, e.getValue());
        });
    return p.toByteArray();
  }

  /** HEADERS on {@code streamId} carrying {@code block}, with {@code flags} (END_HEADERS, END_STREAM) as given. */
  public static byte[] headers(int streamId, int flags, byte[] block) {
    return frame(HEADERS, flags, streamId, block);
  }

  /** Concatenates frames into one write. */
  public static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.write(p, 0, p.length);
    }
    return out.toByteArray();
  }

  /** Reads the next whole frame from {@code in}. */
  public static Frame read(DataInputStream in) throws IOException {
    int length = in.readUnsignedByte() << 16 | in.readUnsignedByte() << 8 | in.readUnsignedByte();
    int type = in.readUnsignedByte();
    int flags = in.readUnsignedByte();
    int streamId = in.readInt() & Integer.MAX_VALUE;
    byte[] payload = new byte[length];
    in.readFully(payload);
    return new Frame(type, flags, streamId, payload);
  }

  private static void literal(ByteArrayOutputStream p, String s) {
    byte[] b = s.getBytes(StandardCharsets.US_ASCII);
    if (b.length >= 127) {
      throw new IllegalArgumentException("header literal too long for this builder: " + s);
    }
    p.write(b.length);
    p.write(b, 0, b.length);
  }

  static byte[] longBytes(long v) {
    byte[] b = new byte[8];
    for (int i = 0; i < 8; i++) {
      b[i] = (byte) (v >>> (56 - 8 * i));
    }
    return b;
  }

  private static void writeInt(ByteArrayOutputStream out, int v) {
    out.write(v >>> 24);
    out.write(v >>> 16);
    out.write(v >>> 8);
    out.write(v);
  }

  private static int readInt(byte[] b, int at) {
    return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
  }

  private Http2Wire() {}
}
