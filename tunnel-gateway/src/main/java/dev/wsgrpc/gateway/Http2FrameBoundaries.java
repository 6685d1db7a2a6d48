package dev.wsgrpc.gateway;

import io.netty.buffer.ByteBuf;

/**
 * Follows one direction of an HTTP/2 byte stream frame by frame (RFC 9113 section 4.1: a 9-byte header of payload
 * length, type, flags and stream id) without copying or keeping any of it: to know where a frame of our own can be
 * inserted, and which streams are open.
 */
final class Http2FrameBoundaries {

  /** Told about every frame header as it completes. */
  interface FrameListener {
    void onFrame(int type, int flags, int streamId);
  }

  static final int HEADERS = 0x1;
  static final int RST_STREAM = 0x3;
  static final int DATA = 0x0;
  static final int SETTINGS = 0x4;
  static final int PUSH_PROMISE = 0x5;
  static final int PING = 0x6;
  static final int GOAWAY = 0x7;
  static final int CONTINUATION = 0x9;
  static final int FLAG_END_HEADERS = 0x4;
  static final int FLAG_END_STREAM = 0x1;
  static final int FLAG_ACK = 0x1;
  static final int NO_ERROR = 0x0;
  static final int CANCEL = 0x8;
  static final int ENHANCE_YOUR_CALM = 0xb;

  private static final int HEADER = 9;

  private final FrameListener listener;
  private int skip;
  private int headerSeen;
  private int length;
  private int type;
  private int flags;
  private int streamId;
  private long payloadLeft;
  private long frames;
  /** Inside a header block: a HEADERS or PUSH_PROMISE without END_HEADERS, until a CONTINUATION with it. */
  private boolean inHeaderBlock;

  /**
   * @param skip bytes before the first frame: 24 for the client's side (the connection preface
   *     {@code PRI * HTTP/2.0...}), 0 for the server's
   */
  Http2FrameBoundaries(int skip, FrameListener listener) {
    this.skip = skip;
    this.listener = listener;
  }

  /**
   * Moves over {@code buf} bytes from {@code index} (inclusive) to {@code end} (exclusive), stopping early just
   * after a frame ends. Returns where it stopped.
   */
  int advance(ByteBuf buf, int index, int end) {
    if (skip > 0) {
      int n = Math.min(skip, end - index);
      skip -= n;
      index += n;
    }
    while (index < end) {
      if (payloadLeft > 0) {
        int n = (int) Math.min(payloadLeft, end - index);
        payloadLeft -= n;
        index += n;
        if (payloadLeft == 0) {
          frames++;
          return index;
        }
        continue;
      }
      int b = buf.getUnsignedByte(index++);
      if (headerSeen < 3) {
        length = (length << 8) | b;
      } else if (headerSeen == 3) {
        type = b;
      } else if (headerSeen == 4) {
        flags = b;
      } else {
        streamId = (streamId << 8) | b;
      }
      if (++headerSeen == HEADER) {
        if (type == HEADERS || type == PUSH_PROMISE || type == CONTINUATION) {
          // RFC 9113, 6.10: nothing but the block's CONTINUATION frames may come before END_HEADERS.
          inHeaderBlock = (flags & FLAG_END_HEADERS) == 0;
        }
        listener.onFrame(type, flags, streamId & Integer.MAX_VALUE);
        headerSeen = 0;
        payloadLeft = length;
        length = 0;
        streamId = 0;
        if (payloadLeft == 0) {
          frames++;
          return index;
        }
      }
    }
    return index;
  }

  /** Whether the stream is between two frames (or before the first): no header or payload half read. */
  boolean betweenFrames() {
    return skip == 0 && headerSeen == 0 && payloadLeft == 0;
  }

  /** Moves over all of {@code buf}'s readable bytes. */
  void advanceAll(ByteBuf buf) {
    int end = buf.writerIndex();
    for (int i = buf.readerIndex(); i < end; ) {
      i = advance(buf, i, end);
    }
  }

  /**
   * Whether a frame of our own may go here: between two frames, at least one of which has passed, and not inside a
   * header block (a HEADERS without END_HEADERS must be followed by its CONTINUATION frames and nothing else).
   */
  boolean atBoundary() {
    return frames > 0 && headerSeen == 0 && payloadLeft == 0 && !inHeaderBlock;
  }

  /** A GOAWAY frame (type 7) naming the largest stream id and NO_ERROR: finish what you started, start nothing. */
  static void writeGracefulGoAway(ByteBuf out) {
    // Last stream id: every stream the client has opened may finish.
    writeGoAway(out, Integer.MAX_VALUE, NO_ERROR, "");
  }

  /** A GOAWAY frame (type 7) on the connection with {@code lastStreamId}, {@code errorCode} and ASCII debug data. */
  static void writeGoAway(ByteBuf out, int lastStreamId, int errorCode, String debugData) {
    out.writeMedium(8 + debugData.length()); // payload length
    out.writeByte(GOAWAY);
    out.writeByte(0); // no flags
    out.writeInt(0); // stream 0: the connection
    out.writeInt(lastStreamId);
    out.writeInt(errorCode);
    out.writeCharSequence(debugData, java.nio.charset.StandardCharsets.US_ASCII);
  }
}
