package dev.wsgrpc.gateway.proxy;

import io.grpc.Metadata;

/**
 * Whether proxy mode forwards a caller's gzip messages gzip: once its upstreams have said, in an answer's
 * {@code grpc-accept-encoding}, that they accept gzip. gRPC decompresses what it reads, so a message forwarded
 * without compression goes on whole: a 4 KB request of zeros that inflates to 4 MiB went upstream as 4 MiB and was
 * held as 4 MiB, per call, while the upstream did not take it. Compressed again it is held at about the size its
 * caller sent. Not every upstream accepts gzip (grpc-go only with its gzip package imported, tonic only when turned
 * on), and a gRPC client sends compressed without asking first: until an upstream has listed gzip, and towards
 * upstreams that never do, messages go on whole, as before. One per upstream set; its replicas are expected to be
 * alike. Thread-safe.
 */
final class UpstreamGzip {

  /** Metadata's {@code grpc-encoding}: how the messages of the side that sent it are compressed. */
  static final Metadata.Key<String> MESSAGE_ENCODING =
      Metadata.Key.of("grpc-encoding", Metadata.ASCII_STRING_MARSHALLER);
  /** Metadata's {@code grpc-accept-encoding}: the compressions the side that sent it can read. */
  static final Metadata.Key<String> ACCEPT_ENCODING =
      Metadata.Key.of("grpc-accept-encoding", Metadata.ASCII_STRING_MARSHALLER);

  private volatile boolean accepted;

  /** The compression to forward a call with whose caller sent {@code headers}: gzip, or null for none. */
  String forRequest(Metadata headers) {
    return accepted && "gzip".equals(headers.get(MESSAGE_ENCODING)) ? "gzip" : null;
  }

  /** An upstream answered with {@code headers}: if they list gzip among what it reads, gzip is forwarded from now. */
  void answered(Metadata headers) {
    if (accepted) {
      return;
    }
    String accepts = headers.get(ACCEPT_ENCODING);
    if (accepts != null) {
      for (String encoding : accepts.split(",")) {
        if (encoding.trim().equals("gzip")) {
          accepted = true;
          return;
        }
      }
    }
  }

  /** The compression to answer a caller with whose upstream answered with {@code headers}: gzip, or null. */
  static String forAnswer(Metadata headers) {
    return "gzip".equals(headers.get(MESSAGE_ENCODING)) ? "gzip" : null;
  }
}
