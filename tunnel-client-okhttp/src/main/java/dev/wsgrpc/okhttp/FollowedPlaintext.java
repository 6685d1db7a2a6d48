package dev.wsgrpc.okhttp;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The two streams OkHttp reads and writes a tunnel's WebSocket through, where this side sees them in plaintext: the
 * raw socket's for ws ({@link SignallingSocketFactory}), the TLS socket's for wss ({@link FollowedTlsSocketFactory}).
 * What OkHttp reads passes the tunnel's {@link InboundFrameLimit}; what it writes is followed by {@link
 * WrittenFrames}, so that the tunnel learns which Pongs and which Close have left ({@link Tunnel#onRawWrite}), and
 * checked for a second request on a connection that was not upgraded ({@link
 * InboundFrameLimit#checkNoSecondRequest}). One per connection.
 */
final class FollowedPlaintext {

  private final Tunnel tunnel;
  private final WrittenFrames frames = new WrittenFrames();
  private volatile InboundFrameLimit limit;

  FollowedPlaintext(Tunnel tunnel) {
    this.tunnel = tunnel;
  }

  /** What OkHttp is to read instead of {@code in}: called once, with the connection's plaintext input. */
  InputStream input(InputStream in) {
    InboundFrameLimit followed = tunnel.limitInbound(in);
    limit = followed;
    return followed;
  }

  /** What OkHttp is to write to instead of {@code out}: called once, with the connection's plaintext output. */
  OutputStream output(OutputStream out) {
    return new FilterOutputStream(out) {
      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        checkNoSecondRequest();
        super.out.write(b, off, len);
        written(b, off, len);
      }
    };
  }

  /** After a write of OkHttp's plaintext: tells the tunnel what left. */
  void written(byte[] b, int off, int len) {
    tunnel.onRawWrite(frames.written(b, off, len), frames.closeWritten());
  }

  /** Before a write: refuses a second request on a connection whose answer was not a 101. */
  void checkNoSecondRequest() throws IOException {
    InboundFrameLimit followed = limit;
    if (followed != null) {
      followed.checkNoSecondRequest();
    }
  }
}
