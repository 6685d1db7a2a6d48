package dev.wsgrpc.testing;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;

/** What handlers on an {@link EmbeddedChannel} wrote to the socket. */
public final class Outbound {

  /** Everything written so far, as ISO-8859-1 text; asserts each message is a buffer and releases it. */
  public static String written(EmbeddedChannel ch) {
    StringBuilder out = new StringBuilder();
    Object o;
    while ((o = ch.readOutbound()) != null) {
      ByteBuf b = assertInstanceOf(ByteBuf.class, o);
      out.append(b.toString(StandardCharsets.ISO_8859_1));
      assertTrue(b.release());
    }
    return out.toString();
  }

  private Outbound() {}
}
