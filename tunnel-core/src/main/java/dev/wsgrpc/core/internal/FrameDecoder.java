package dev.wsgrpc.core.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Turns the bytes of an upgraded connection into WebSocket frames (RFC 6455 section 5), strictly and without copying
 * data payloads.
 *
 * <p>The frame header is parsed by an explicit state machine, byte by byte, so a header may be split across reads
 * anywhere. A data frame's payload is passed on as retained slices of the buffers the socket read, unmasked in place
 * eight bytes at a time: nothing is accumulated and nothing is copied. A payload that spans reads goes on in pieces as
 * they arrive, the first piece with the frame's own type and the rest as {@link ContinuationWebSocketFrame}s, the
 * final flag set only on the last piece of a final frame: the message is the same, only cut finer, as RFC 6455
 * section 5.4 allows intermediaries to do. Control frames (at most 125 bytes) are always passed on whole.
 *
 * <p>Out come Netty's frame types: {@link BinaryWebSocketFrame}, {@link ContinuationWebSocketFrame},
 * {@link TextWebSocketFrame}, {@link PingWebSocketFrame}, {@link PongWebSocketFrame} and {@link CloseWebSocketFrame}
 * (its code and UTF-8 reason checked). After a Close, further bytes are discarded.
 *
 * <p>Every violation goes through one method: the decoder marks itself corrupt, skips everything unread (now and
 * later) and throws {@link CorruptedWebSocketFrameException} with the close status to send; {@link ControlFrameHandler}
 * sends the Close and closes. Protocol errors are 1002, except a frame over the limit (1009, {@code "Max frame length
 * of N has been exceeded."}) and a close reason that is not UTF-8 (1007).
 *
 * <p>Input buffers are modified in place when masked (the decoder owns what it is given); read-only input is copied.
 */
public final class FrameDecoder extends ChannelInboundHandlerAdapter {

  private static final int OPCODE_CONTINUATION = 0x0;
  private static final int OPCODE_TEXT = 0x1;
  private static final int OPCODE_BINARY = 0x2;
  private static final int OPCODE_CLOSE = 0x8;
  private static final int OPCODE_PING = 0x9;
  private static final int OPCODE_PONG = 0xA;
  private static final int MAX_CONTROL_PAYLOAD = 125;

  enum State {
    /** Expecting FIN, RSV1-3 and the opcode. */
    FIRST_BYTE,
    /** Expecting MASK and the 7-bit length. */
    SECOND_BYTE,
    /** Expecting the 2- or 8-byte extended length. */
    EXTENDED_LENGTH,
    /** Expecting the 4-byte masking key. */
    MASKING_KEY,
    /** Inside a payload. */
    PAYLOAD,
    /** A Close was received: everything after it is discarded. */
    CLOSED,
    /** A violation was reported: everything after it is discarded. */
    CORRUPT
  }

  private final boolean expectMasked;
  private final int maxFramePayload;

  private State state = State.FIRST_BYTE;
  /** Inside a fragmented data message: a data frame without FIN has been seen, its final frame not yet. */
  private boolean inMessage;

  // The frame being decoded.
  private boolean fin;
  private int opcode;
  private boolean masked;
  private int lengthBytesLeft;
  private int lengthBytes;
  private long length;
  private int keyBytesLeft;
  private int key;
  /** Payload bytes not yet read. */
  private int payloadLeft;
  /** Whether a piece of this data frame has been passed on already (later pieces are continuations). */
  private boolean piecePassedOn;
  /** A control frame's payload gathered across reads; null unless one is split. */
  private ByteBuf controlPayload;

  /**
   * Creates a decoder for one connection.
   *
   * @param expectMasked true on servers (every client frame must be masked), false on clients (no server frame may
   *     be); a frame that is otherwise is a 1002 protocol error
   * @param maxFramePayload the largest payload of one frame accepted, in bytes; a larger frame is a 1009 error
   */
  public FrameDecoder(boolean expectMasked, int maxFramePayload) {
    this.expectMasked = expectMasked;
    this.maxFramePayload = Preconditions.checkPositive(maxFramePayload, "maxFramePayload");
  }

  /** Where the decoder is, for tests. */
  State state() {
    return state;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf)) {
      ctx.fireChannelRead(msg);
      return;
    }
    ByteBuf in = (ByteBuf) msg;
    try {
      decode(ctx, in);
    } finally {
      in.release();
    }
  }

  private void decode(ChannelHandlerContext ctx, ByteBuf in) {
    // Frames are passed on as soon as they are complete; a handler after this one may close the channel meanwhile,
    // which moves the state to CLOSED or CORRUPT, so the state is read afresh on every turn.
    while (true) {
      switch (state) {
        case FIRST_BYTE:
          if (!in.isReadable()) {
            return;
          }
          readFirstByte(in, in.readUnsignedByte());
          break;
        case SECOND_BYTE:
          if (!in.isReadable()) {
            return;
          }
          readSecondByte(in, in.readUnsignedByte());
          break;
        case EXTENDED_LENGTH:
          while (lengthBytesLeft > 0 && in.isReadable()) {
            length = (length << 8) | in.readUnsignedByte();
            lengthBytesLeft--;
          }
          if (lengthBytesLeft > 0) {
            return;
          }
          checkExtendedLength(in);
          break;
        case MASKING_KEY:
          while (keyBytesLeft > 0 && in.isReadable()) {
            key = (key << 8) | in.readUnsignedByte();
            keyBytesLeft--;
          }
          if (keyBytesLeft > 0) {
            return;
          }
          state = State.PAYLOAD;
          break;
        case PAYLOAD:
          if (payloadLeft > 0 && !in.isReadable()) {
            return;
          }
          if (opcode >= OPCODE_CLOSE) {
            readControlPayload(ctx, in);
          } else {
            readDataPayload(ctx, in);
          }
          break;
        case CLOSED:
        case CORRUPT:
          in.skipBytes(in.readableBytes());
          return;
        default:
          throw new AssertionError(state);
      }
    }
  }

  private void readFirstByte(ByteBuf in, int b) {
    fin = (b & 0x80) != 0;
    int rsv = (b >> 4) & 0x7;
    opcode = b & 0xF;
    if (rsv != 0) {
      violation(in, WebSocketCloseStatus.PROTOCOL_ERROR,
          "expected RSV bits 0 (no extension was negotiated) but was " + rsv + " in a " + name(opcode) + " frame");
    }
    switch (opcode) {
      case OPCODE_CONTINUATION:
        if (!inMessage) {
          violation(in, WebSocketCloseStatus.PROTOCOL_ERROR,
              "expected a text or binary frame to start a message but was a continuation frame");
        }
        inMessage = !fin;
        break;
      case OPCODE_TEXT:
      case OPCODE_BINARY:
        if (inMessage) {
          violation(in, WebSocketCloseStatus.PROTOCOL_ERROR, "expected a continuation frame inside a fragmented "
              + "message but was a " + name(opcode) + " frame");
        }
        inMessage = !fin;
        break;
      case OPCODE_CLOSE:
      case OPCODE_PING:
      case OPCODE_PONG:
        if (!fin) {
          violation(in, WebSocketCloseStatus.PROTOCOL_ERROR,
              "expected control frames to be final but a " + name(opcode) + " frame was fragmented");
        }
        break;
      default:
        violation(in, WebSocketCloseStatus.PROTOCOL_ERROR,
            "expected a defined opcode but was reserved opcode 0x" + Integer.toHexString(opcode));
    }
    state = State.SECOND_BYTE;
  }

  private void readSecondByte(ByteBuf in, int b) {
    masked = (b & 0x80) != 0;
    if (masked != expectMasked) {
      violation(in, WebSocketCloseStatus.PROTOCOL_ERROR, expectMasked
          ? "expected a masked frame (a client masks every frame) but it was not masked"
          : "expected an unmasked frame (a server masks none) but it was masked");
    }
    int length7 = b & 0x7F;
    if (opcode >= OPCODE_CLOSE && length7 > MAX_CONTROL_PAYLOAD) {
      violation(in, WebSocketCloseStatus.PROTOCOL_ERROR, "expected a control frame payload of at most 125 bytes but "
          + "a " + name(opcode) + " frame announced " + (length7 == 126 ? "a 16-bit" : "a 64-bit") + " length");
    }
    if (length7 == 126) {
      lengthBytes = lengthBytesLeft = 2;
      length = 0;
      state = State.EXTENDED_LENGTH;
    } else if (length7 == 127) {
      lengthBytes = lengthBytesLeft = 8;
      length = 0;
      state = State.EXTENDED_LENGTH;
    } else {
      length = length7;
      startPayload(in);
    }
  }

  private void checkExtendedLength(ByteBuf in) {
    if (lengthBytes == 8 && length < 0) {
      violation(in, WebSocketCloseStatus.PROTOCOL_ERROR,
          "expected a 64-bit length with the most significant bit 0 but was 0x" + Long.toHexString(length));
    }
    long minimum = lengthBytes == 2 ? 126 : 65536;
    if (length < minimum) {
      violation(in, WebSocketCloseStatus.PROTOCOL_ERROR, "expected the shortest length encoding but " + length
          + " was sent in " + lengthBytes + " bytes");
    }
    startPayload(in);
  }

  private void startPayload(ByteBuf in) {
    if (length > maxFramePayload) {
      violation(in, WebSocketCloseStatus.MESSAGE_TOO_BIG, "Max frame length of " + maxFramePayload
          + " has been exceeded.");
    }
    if (opcode == OPCODE_CLOSE && length == 1) {
      violation(in, WebSocketCloseStatus.PROTOCOL_ERROR,
          "expected a close payload of 0 or at least 2 bytes but was 1 byte");
    }
    payloadLeft = (int) length;
    piecePassedOn = false;
    key = 0;
    if (masked) {
      keyBytesLeft = 4;
      state = State.MASKING_KEY;
    } else {
      state = State.PAYLOAD;
    }
  }

  /** Passes on what this read holds of a data frame's payload, as a slice, unmasked in place. */
  private void readDataPayload(ChannelHandlerContext ctx, ByteBuf in) {
    int n = Math.min(payloadLeft, in.readableBytes());
    int phase = (int) (length - payloadLeft);
    ByteBuf piece = n == 0 ? Unpooled.EMPTY_BUFFER : readUnmasked(ctx, in, n, phase);
    payloadLeft -= n;
    boolean last = payloadLeft == 0;
    if (last) {
      state = State.FIRST_BYTE;
    }
    WebSocketFrame frame;
    boolean finalPiece = fin && last;
    if (piecePassedOn) {
      frame = new ContinuationWebSocketFrame(finalPiece, 0, piece);
    } else if (opcode == OPCODE_BINARY) {
      frame = new BinaryWebSocketFrame(finalPiece, 0, piece);
    } else if (opcode == OPCODE_TEXT) {
      frame = new TextWebSocketFrame(finalPiece, 0, piece);
    } else {
      frame = new ContinuationWebSocketFrame(finalPiece, 0, piece);
    }
    piecePassedOn = true;
    ctx.fireChannelRead(frame);
  }

  /** Passes on a control frame once its whole payload (at most 125 bytes) is here. */
  private void readControlPayload(ChannelHandlerContext ctx, ByteBuf in) {
    int n = Math.min(payloadLeft, in.readableBytes());
    ByteBuf payload;
    if (controlPayload == null && n == payloadLeft) {
      // The usual case: the whole payload is in this read.
      payload = n == 0 ? Unpooled.EMPTY_BUFFER : readUnmasked(ctx, in, n, 0);
    } else {
      if (controlPayload == null) {
        controlPayload = ctx.alloc().buffer((int) length);
      }
      controlPayload.writeBytes(in, n);
      if (n < payloadLeft) {
        payloadLeft -= n;
        return;
      }
      payload = controlPayload;
      controlPayload = null;
      if (masked) {
        FrameMask.apply(payload, payload.readerIndex(), payload.readableBytes(), key, 0);
      }
    }
    payloadLeft = 0;
    state = State.FIRST_BYTE;
    switch (opcode) {
      case OPCODE_PING:
        ctx.fireChannelRead(new PingWebSocketFrame(true, 0, payload));
        break;
      case OPCODE_PONG:
        ctx.fireChannelRead(new PongWebSocketFrame(true, 0, payload));
        break;
      default:
        checkClosePayload(in, payload);
        state = State.CLOSED;
        ctx.fireChannelRead(new CloseWebSocketFrame(true, 0, payload));
    }
  }

  /** Reads {@code n} payload bytes as a retained slice of {@code in}, unmasked; a copy only if {@code in} is read-only. */
  private ByteBuf readUnmasked(ChannelHandlerContext ctx, ByteBuf in, int n, int phase) {
    if (!masked) {
      return in.readRetainedSlice(n);
    }
    if (in.isReadOnly()) {
      ByteBuf copy = ctx.alloc().buffer(n);
      copy.writeBytes(in, n);
      FrameMask.apply(copy, copy.readerIndex(), n, key, phase);
      return copy;
    }
    FrameMask.apply(in, in.readerIndex(), n, key, phase);
    return in.readRetainedSlice(n);
  }

  /** RFC 6455 section 7.4: the code must be one a peer may send; section 5.5.1: the reason must be UTF-8. */
  private void checkClosePayload(ByteBuf in, ByteBuf payload) {
    if (!payload.isReadable()) {
      return;
    }
    int code = payload.getUnsignedShort(payload.readerIndex());
    if (!isSendableCloseCode(code)) {
      payload.release();
      violation(in, WebSocketCloseStatus.PROTOCOL_ERROR,
          "expected a close code of 1000-1003, 1007-1014 or 3000-4999 but was " + code);
    }
    if (payload.readableBytes() > 2) {
      ByteBuffer reason = payload.nioBuffer(payload.readerIndex() + 2, payload.readableBytes() - 2);
      try {
        StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(reason);
      } catch (CharacterCodingException e) {
        payload.release();
        violation(in, WebSocketCloseStatus.INVALID_PAYLOAD_DATA, "expected a UTF-8 close reason but it was not");
      }
    }
  }

  static boolean isSendableCloseCode(int code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
  }

  /** The one path for protocol errors: mark corrupt, skip what is unread, throw for {@link ControlFrameHandler}. */
  private void violation(ByteBuf in, WebSocketCloseStatus status, String message) {
    state = State.CORRUPT;
    in.skipBytes(in.readableBytes());
    releaseControlPayload();
    throw new CorruptedWebSocketFrameException(status, message);
  }

  private void releaseControlPayload() {
    if (controlPayload != null) {
      controlPayload.release();
      controlPayload = null;
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    releaseControlPayload();
    if (state != State.CORRUPT) {
      // Possibly inside decode(), when a handler after this one closed the channel: nothing more is passed on.
      state = State.CLOSED;
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    releaseControlPayload();
  }

  private static String name(int opcode) {
    switch (opcode) {
      case OPCODE_CONTINUATION:
        return "continuation";
      case OPCODE_TEXT:
        return "text";
      case OPCODE_BINARY:
        return "binary";
      case OPCODE_CLOSE:
        return "close";
      case OPCODE_PING:
        return "ping";
      case OPCODE_PONG:
        return "pong";
      default:
        return "reserved (0x" + Integer.toHexString(opcode) + ")";
    }
  }
}
