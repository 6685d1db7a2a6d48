package dev.wsgrpc.server;

import io.netty.buffer.ByteBuf;

/**
 * Follows gRPC's length-prefixed messages through a request body that arrives in pieces cut anywhere, so that a body
 * gRPC's server would refuse in its own words ("gRPC frame header malformed: reserved bits not zero", "Encountered
 * end-of-stream mid-frame") is refused in ours first, saying what was expected and what arrived:
 *
 * <pre>
 *   message   flags (1 byte: 0x00, or 0x01 compressed with the request's grpc-encoding) | length (4 bytes) | bytes
 * </pre>
 *
 * A trailers frame ({@code 0x80}, which only a server sends), a compressed message without a grpc-encoding, any other
 * flags, and a body that ends inside a message are refused. Only the position is kept: the bytes pass on unchanged.
 */
final class RequestMessageFraming {

  private static final int HEADER_BYTES = 5;

  private final boolean compressed;
  private final byte[] header = new byte[HEADER_BYTES];
  private int headerLength;
  /** The length of the message being read, and how much of it is still to come. */
  private long length;
  private long remaining;

  /**
   * @param grpcEncoding the request's {@code grpc-encoding}, or null: a compressed message is expected only with one
   *     other than {@code identity}
   */
  RequestMessageFraming(String grpcEncoding) {
    this.compressed = grpcEncoding != null && !grpcEncoding.trim().equalsIgnoreCase("identity");
  }

  /**
   * Follows the next piece of the body ({@code piece}'s readable bytes, left unread).
   *
   * @throws IllegalArgumentException saying what was expected and what arrived, when the body is not so framed
   */
  void next(ByteBuf piece) {
    int i = piece.readerIndex();
    int end = piece.writerIndex();
    while (i < end) {
      if (remaining > 0) {
        int skipped = (int) Math.min(remaining, end - i);
        remaining -= skipped;
        i += skipped;
        continue;
      }
      header[headerLength++] = piece.getByte(i++);
      if (headerLength == HEADER_BYTES) {
        headerLength = 0;
        checkFlags(header[0] & 0xff);
        length = ((header[1] & 0xffL) << 24) | ((header[2] & 0xff) << 16) | ((header[3] & 0xff) << 8)
            | (header[4] & 0xff);
        remaining = length;
      }
    }
  }

  /**
   * The body ended.
   *
   * @throws IllegalArgumentException saying where, when it ended inside a message
   */
  void end() {
    if (headerLength > 0) {
      throw new IllegalArgumentException("expected a 5-byte message header but the body ended after "
          + headerLength);
    }
    if (remaining > 0) {
      throw new IllegalArgumentException("expected a message of " + length
          + " bytes (its length prefix) but the body ended after " + (length - remaining));
    }
  }

  private void checkFlags(int flags) {
    if (flags == 0 || flags == 1 && compressed) {
      return;
    }
    String was = String.format("0x%02x", flags);
    if (flags == 0x80) {
      throw new IllegalArgumentException(
          "expected a message (flags 0x00) but was a trailers frame (flags 0x80), which only a server sends");
    }
    if (flags == 1) {
      throw new IllegalArgumentException(
          "expected an uncompressed message (flags 0x00: the request has no grpc-encoding) but its flags were " + was);
    }
    throw new IllegalArgumentException(
        "expected a message with flags 0x00 (or 0x01, compressed, with a grpc-encoding) but its flags were " + was);
  }
}
