package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Reading what a browser translator wrote, for its unit tests. */
final class BrowserFrames {

  private BrowserFrames() {}

  /** Everything the channel wrote so far, in order (the caller releases it, e.g. with {@link #release}). */
  static List<Object> outbound(EmbeddedChannel channel) {
    channel.runPendingTasks();
    List<Object> out = new ArrayList<>();
    for (Object msg; (msg = channel.readOutbound()) != null; ) {
      if (msg instanceof ByteBuf && !((ByteBuf) msg).isReadable()) {
        ((ByteBuf) msg).release();
        continue;  // the empty write that carries a close
      }
      out.add(msg);
    }
    return out;
  }

  static void release(List<Object> messages) {
    for (Object msg : messages) {
      ReferenceCountUtil.release(msg);
    }
  }

  /** The {@code name: value\r\n} block of a header frame ({@code 0x80}, 4-byte length, block). */
  static String headerFrameText(ByteBuf frame) {
    assertEquals(0x80, frame.getUnsignedByte(frame.readerIndex()), "header frame flag");
    int length = frame.getInt(frame.readerIndex() + 1);
    assertEquals(frame.readableBytes() - 5, length, "header frame length");
    return frame.toString(frame.readerIndex() + 5, length, StandardCharsets.US_ASCII);
  }
}
