package dev.wsgrpc.server;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.List;

/** Unpooled buffers that it counts: the bytes of those it makes (not of their growth), and the buffers themselves. */
final class CountingAllocator extends AbstractByteBufAllocator {
  /** Bytes of the buffers made, as first asked for. */
  long allocated;
  /** The buffers made, in order. */
  final List<ByteBuf> made = new ArrayList<>();

  CountingAllocator() {
    super(false);
  }

  @Override
  protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
    return count(Unpooled.buffer(initialCapacity, maxCapacity));
  }

  @Override
  protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
    return count(Unpooled.directBuffer(initialCapacity, maxCapacity));
  }

  private ByteBuf count(ByteBuf buffer) {
    allocated += buffer.capacity();
    made.add(buffer);
    return buffer;
  }

  @Override
  public boolean isDirectBufferPooled() {
    return false;
  }
}
