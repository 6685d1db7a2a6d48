package dev.wsgrpc.it;

import dev.wsgrpc.testing.Http2Wire;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * HTTP/2 as a hostile client writes it inside a tunnel, built byte by byte (RFC 9113 frames; header blocks as HPACK
 * literals without indexing, so that no dynamic-table state links one block to another), and a reader that sorts
 * what a server sends back into a short, exact answer: the GOAWAY and its error code, the RST_STREAM codes, and
 * whether the probe call after an attack still completed.
 */
final class TunnelH2 {

  static final byte[] PREFACE = Http2Wire.PREFACE;
  static final int DATA = 0x0;
  static final int HEADERS = 0x1;
  static final int PRIORITY = 0x2;
  static final int RST_STREAM = 0x3;
  static final int SETTINGS = 0x4;
  static final int PUSH_PROMISE = 0x5;
  static final int PING = 0x6;
  static final int GOAWAY = 0x7;
  static final int WINDOW_UPDATE = 0x8;
  static final int CONTINUATION = 0x9;
  static final int END_STREAM = 0x1;
  static final int ACK = 0x1;
  static final int END_HEADERS = 0x4;
  static final int SETTINGS_HEADER_TABLE_SIZE = 0x1;
  static final int SETTINGS_ENABLE_PUSH = 0x2;
  static final int SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
  static final int SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
  static final int SETTINGS_MAX_FRAME_SIZE = 0x5;

  /** One frame (tunnel-testing's {@link Http2Wire#frame}). */
  static byte[] frame(int type, int flags, int stream, byte[] payload) {
    return Http2Wire.frame(type, flags, stream, payload);
  }

  /** A SETTINGS frame with these (identifier, value) pairs; values up to 2^32-1. */
  static byte[] settings(long... idValue) {
    int[] pairs = new int[idValue.length];
    for (int i = 0; i < idValue.length; i++) {
      pairs[i] = (int) idValue[i];
    }
    return Http2Wire.settings(pairs);
  }

  /** An HPACK integer with an {@code prefixBits}-bit prefix whose high bits are {@code flags} (RFC 7541 5.1). */
  static void hpackInt(ByteArrayOutputStream out, int flags, int prefixBits, long value) {
    int max = (1 << prefixBits) - 1;
    if (value < max) {
      out.write(flags | (int) value);
      return;
    }
    out.write(flags | max);
    value -= max;
    while (value >= 128) {
      out.write((int) (value & 0x7f) | 0x80);
      value >>>= 7;
    }
    out.write((int) value);
  }

  /** A literal header field without indexing, new name, no Huffman coding (RFC 7541 6.2.2). */
  static void literal(ByteArrayOutputStream out, String name, String value) {
    byte[] n = name.getBytes(StandardCharsets.ISO_8859_1);
    byte[] v = value.getBytes(StandardCharsets.ISO_8859_1);
    out.write(0);
    hpackInt(out, 0, 7, n.length);
    out.write(n, 0, n.length);
    hpackInt(out, 0, 7, v.length);
    out.write(v, 0, v.length);
  }

  /** The header block of a gRPC call to {@code method} of the test Echo service, plus {@code extra} headers. */
  static byte[] requestBlock(String method, String... extra) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    literal(out, ":method", "POST");
    literal(out, ":scheme", "http");
    literal(out, ":path", "/wsgrpc.testing.Echo/" + method);
    literal(out, ":authority", "catalogue");
    literal(out, "content-type", "application/grpc");
    literal(out, "te", "trailers");
    for (int i = 0; i < extra.length; i += 2) {
      literal(out, extra[i], extra[i + 1]);
    }
    return out.toByteArray();
  }

  /** A gRPC message (uncompressed) in one DATA frame. */
  static byte[] message(int stream, byte[] protobuf, boolean endStream) {
    byte[] p = new byte[5 + protobuf.length];
    p[1] = (byte) (protobuf.length >>> 24);
    p[2] = (byte) (protobuf.length >>> 16);
    p[3] = (byte) (protobuf.length >>> 8);
    p[4] = (byte) protobuf.length;
    System.arraycopy(protobuf, 0, p, 5, protobuf.length);
    return frame(DATA, endStream ? END_STREAM : 0, stream, p);
  }

  /** A whole unary Echo call on {@code stream}: HEADERS, then a DATA with an empty request and END_STREAM. */
  static byte[] unaryCall(int stream) {
    return HostileInputCatalogue.concat(frame(HEADERS, END_HEADERS, stream, requestBlock("Unary")),
        message(stream, new byte[0], true));
  }

  /**
   * Reads the HTTP/2 bytes a server sends, in order (they may be split across WebSocket frames anyhow), and keeps
   * what the catalogue asserts.
   */
  static final class Reader {
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private final DefaultHttp2HeadersDecoder decoder = new DefaultHttp2HeadersDecoder(false);

    Reader() {
      try {
        // Whatever table size an attack allowed the server, the reader follows it.
        decoder.configuration().maxHeaderTableSize(io.netty.handler.codec.http2.Http2CodecUtil.MAX_HEADER_TABLE_SIZE);
      } catch (Http2Exception e) {
        throw new AssertionError(e);
      }
    }
    private ByteArrayOutputStream block;
    private int blockStream;
    String goAway;
    final Map<String, Integer> resets = new TreeMap<>();
    final java.util.Set<Integer> resetStreams = new java.util.HashSet<>();
    final List<String> statuses = new ArrayList<>();
    final Map<Integer, String> grpcStatus = new TreeMap<>();

    void read(byte[] bytes) {
      pending.write(bytes, 0, bytes.length);
      byte[] all = pending.toByteArray();
      int at = 0;
      while (all.length - at >= 9) {
        int length = ((all[at] & 0xff) << 16) | ((all[at + 1] & 0xff) << 8) | (all[at + 2] & 0xff);
        if (all.length - at < 9 + length) {
          break;
        }
        int type = all[at + 3] & 0xff;
        int flags = all[at + 4] & 0xff;
        int stream = (int) (readInt(all, at + 5) & 0x7fffffff);
        byte[] payload = java.util.Arrays.copyOfRange(all, at + 9, at + 9 + length);
        onFrame(type, flags, stream, payload);
        at += 9 + length;
      }
      pending.reset();
      pending.write(all, at, all.length - at);
    }

    private static long readInt(byte[] b, int o) {
      return ((b[o] & 0xffL) << 24) | ((b[o + 1] & 0xffL) << 16) | ((b[o + 2] & 0xffL) << 8) | (b[o + 3] & 0xffL);
    }

    /** The server's PINGs not acknowledged yet (their 8 bytes); see {@link #takePingAcks}. */
    private final List<byte[]> pings = new ArrayList<>();

    /** PING ACK frames for the server's PINGs read since the last call, which a client sends back. */
    byte[] takePingAcks() {
      ByteArrayOutputStream acks = new ByteArrayOutputStream();
      for (byte[] data : pings) {
        acks.writeBytes(Http2Wire.frame(PING, ACK, 0, data));
      }
      pings.clear();
      return acks.toByteArray();
    }

    private void onFrame(int type, int flags, int stream, byte[] payload) {
      switch (type) {
        case PING:
          if ((flags & ACK) == 0) {
            pings.add(payload);
          }
          break;
        case GOAWAY:
          if (goAway == null) {
            long code = readInt(payload, 4);
            String debug = new String(payload, 8, payload.length - 8, StandardCharsets.UTF_8);
            goAway = errorName(code) + (debug.isEmpty() ? "" : " '" + debug + "'");
          }
          break;
        case RST_STREAM:
          resets.merge(errorName(readInt(payload, 0)), 1, Integer::sum);
          resetStreams.add(stream);
          break;
        case HEADERS:
          int from = 0;
          int to = payload.length;
          if ((flags & 0x8) != 0) { // PADDED
            from = 1;
            to -= payload[0] & 0xff;
          }
          if ((flags & 0x20) != 0) { // PRIORITY
            from += 5;
          }
          block = new ByteArrayOutputStream();
          blockStream = stream;
          block.write(payload, from, to - from);
          if ((flags & END_HEADERS) != 0) {
            decodeBlock();
          }
          break;
        case CONTINUATION:
          block.write(payload, 0, payload.length);
          if ((flags & END_HEADERS) != 0) {
            decodeBlock();
          }
          break;
        default:
          break;
      }
    }

    private void decodeBlock() {
      ByteBuf buf = Unpooled.wrappedBuffer(block.toByteArray());
      try {
        Http2Headers headers = decoder.decodeHeaders(blockStream, buf);
        if (headers.status() != null) {
          statuses.add(headers.status().toString());
        }
        CharSequence grpc = headers.get("grpc-status");
        if (grpc != null) {
          grpcStatus.put(blockStream, grpc.toString());
        }
      } catch (Http2Exception e) {
        throw new AssertionError("the server's header block does not decode", e);
      } finally {
        buf.release();
        block = null;
      }
    }

    /** Whether the probe call on {@code stream} has ended: with trailers, or reset. */
    boolean ended(int stream) {
      return grpcStatus.containsKey(stream) || resetStreams.contains(stream);
    }

    /** What the server answered, without the final WebSocket close. */
    String summary(int probeStream) {
      List<String> parts = new ArrayList<>();
      if (goAway != null) {
        parts.add("GOAWAY " + goAway);
      }
      resets.forEach((code, n) -> parts.add("RST_STREAM " + code + (n > 1 ? " x" + n : "")));
      String probe = grpcStatus.get(probeStream);
      if (probe != null) {
        parts.add("probe call grpc-status " + probe);
      } else if (resetStreams.contains(probeStream)) {
        parts.add("probe call reset");
      }
      return String.join(", ", parts);
    }
  }

  /**
   * Reads the next HTTP/2 frame of a raw tunnel into {@code reader} and answers it as a client does (a PING with its
   * ACK, the server's SETTINGS with an ACK); at the end of the tunnel, throws EOFException.
   */
  static dev.wsgrpc.testing.Http2Wire.Frame readAsAClient(dev.wsgrpc.testing.RawTunnelClient client, Reader reader)
      throws java.io.IOException {
    dev.wsgrpc.testing.Http2Wire.Frame f = client.readFrame();
    reader.read(Http2Wire.frame(f.type, f.flags, f.streamId, f.payload));
    byte[] acks = reader.takePingAcks();
    if (acks.length > 0) {
      client.send(acks);
    } else if (f.type == SETTINGS && (f.flags & ACK) == 0) {
      client.send(Http2Wire.settingsAck());
    }
    return f;
  }

  static String errorName(long code) {
    Http2Error e = Http2Error.valueOf(code);
    return e == null ? "0x" + Long.toHexString(code) : e.name();
  }

  private TunnelH2() {}
}
