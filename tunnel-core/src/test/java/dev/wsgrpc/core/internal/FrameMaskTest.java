package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.util.IllegalReferenceCountException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FrameMaskTest {

  /** The masking key of the examples in RFC 6455 section 5.7. */
  private static final int RFC_KEY = 0x37fa213d;

  /** RFC 6455 section 5.3, byte by byte: octet i XOR key octet (i + phase) mod 4. */
  private static byte[] naive(byte[] data, int key, int phase) {
    byte[] out = data.clone();
    for (int i = 0; i < out.length; i++) {
      int keyByte = (key >>> (24 - 8 * ((i + phase) & 3))) & 0xFF;
      out[i] = (byte) (out[i] ^ keyByte);
    }
    return out;
  }

  @Test
  void rfcMaskedHelloExample() {
    ByteBuf buf = Unpooled.copiedBuffer("Hello", StandardCharsets.US_ASCII);
    FrameMask.apply(buf, 0, 5, RFC_KEY, 0);
    assertArrayEquals(new byte[] {0x7f, (byte) 0x9f, 0x4d, 0x51, 0x58}, ByteBufUtil.getBytes(buf));
    assertTrue(buf.release());
  }

  @Test
  void wordWideMaskingEqualsTheOctetDefinitionForEveryLengthPhaseAndOffset() {
    Random random = new Random(6455);
    for (int length = 0; length <= 40; length++) {
      for (int phase = 0; phase < 4; phase++) {
        for (int offset = 0; offset < 3; offset++) {
          byte[] data = new byte[length];
          random.nextBytes(data);
          int key = random.nextInt();
          ByteBuf direct = PooledByteBufAllocator.DEFAULT.directBuffer(offset + length);
          direct.writeZero(offset).writeBytes(data);
          FrameMask.apply(direct, offset, length, key, phase);
          assertArrayEquals(naive(data, key, phase), ByteBufUtil.getBytes(direct, offset, length),
              "length " + length + ", phase " + phase + ", offset " + offset);
          assertTrue(direct.release());
        }
      }
    }
  }

  @Test
  void longRunsOnDirectAndHeapBuffersEqualTheOctetDefinition() {
    Random random = new Random(32);
    for (int length : new int[] {31, 32, 33, 63, 64, 65, 1000, 65536 + 7}) {
      for (int phase = 0; phase < 4; phase++) {
        int offset = random.nextInt(16);
        byte[] data = new byte[length];
        random.nextBytes(data);
        int key = random.nextInt();
        for (ByteBuf buf : new ByteBuf[] {PooledByteBufAllocator.DEFAULT.directBuffer(offset + length),
            PooledByteBufAllocator.DEFAULT.heapBuffer(offset + length)}) {
          buf.writeZero(offset).writeBytes(data);
          FrameMask.apply(buf, offset, length, key, phase);
          assertArrayEquals(naive(data, key, phase), ByteBufUtil.getBytes(buf, offset, length),
              (buf.isDirect() ? "direct" : "heap") + ", length " + length + ", phase " + phase);
          assertTrue(buf.release());
        }
      }
    }
  }

  @Test
  void theCompiledLoopAgreesWithTheOctetDefinition() {
    // Enough turns for the JIT to compile (and vectorise) the word loop, with lengths and offsets that leave
    // every possible remainder in front of and behind the vector width.
    Random random = new Random(17);
    ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(4096 + 64);
    for (int round = 0; round < 3_000; round++) {
      int length = 32 + random.nextInt(4064);
      int offset = random.nextInt(64);
      int phase = random.nextInt(4);
      int key = random.nextInt();
      byte[] data = new byte[length];
      random.nextBytes(data);
      buf.clear().writeZero(offset).writeBytes(data);
      FrameMask.apply(buf, offset, length, key, phase);
      assertArrayEquals(naive(data, key, phase), ByteBufUtil.getBytes(buf, offset, length),
          "round " + round + ", length " + length + ", offset " + offset + ", phase " + phase);
    }
    assertTrue(buf.release());
  }

  @Test
  void rangesOutsideTheBufferAndReleasedBuffersAreRefused() {
    ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(64, 64).writeZero(64);
    assertThrows(IndexOutOfBoundsException.class, () -> FrameMask.apply(buf, 1, 64, RFC_KEY, 0));
    assertThrows(IndexOutOfBoundsException.class, () -> FrameMask.apply(buf, -1, 40, RFC_KEY, 0));
    ByteBuf slice = buf.retainedSlice(8, 40);
    assertThrows(IndexOutOfBoundsException.class, () -> FrameMask.apply(slice, 8, 40, RFC_KEY, 0));
    assertTrue(slice.release());
    assertTrue(buf.release());
    assertThrows(IllegalReferenceCountException.class, () -> FrameMask.apply(buf, 0, 64, RFC_KEY, 0));
  }

  @Test
  void maskingTwiceRestoresThePayload() {
    byte[] data = new byte[70_001];
    new Random(1).nextBytes(data);
    ByteBuf heap = Unpooled.wrappedBuffer(data.clone());
    FrameMask.apply(heap, 0, data.length, 0xdeadbeef, 3);
    FrameMask.apply(heap, 0, data.length, 0xdeadbeef, 3);
    assertArrayEquals(data, ByteBufUtil.getBytes(heap));
    assertTrue(heap.release());
  }

  @Test
  void copyMaskedAppendsTheMaskedBytesAndLeavesTheSourceAlone() {
    byte[] data = new byte[1000];
    new Random(2).nextBytes(data);
    ByteBuf src = Unpooled.wrappedBuffer(Unpooled.wrappedBuffer(data, 0, 333), Unpooled.wrappedBuffer(data, 333, 667));
    ByteBuf dst = Unpooled.buffer().writeByte(0x82);
    FrameMask.copyMasked(src, dst, RFC_KEY);
    assertEquals(0, src.readerIndex());
    assertEquals(1001, dst.readableBytes());
    assertArrayEquals(naive(data, RFC_KEY, 0), ByteBufUtil.getBytes(dst, 1, 1000));
    assertTrue(src.release());
    assertTrue(dst.release());
  }

  @Test
  void maskingKeysAreFreshForEveryFrame() {
    Set<Integer> keys = new HashSet<>();
    for (int i = 0; i < 10_000; i++) {
      keys.add(FrameMask.nextKey());
    }
    // 10,000 draws from 2^32 values collide with probability about 1%; more than a few repeats means a bad source.
    assertTrue(keys.size() >= 9_995, "distinct keys: " + keys.size());
  }
}
