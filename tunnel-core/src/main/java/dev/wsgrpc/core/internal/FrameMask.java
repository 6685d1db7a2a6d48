package dev.wsgrpc.core.internal;

import io.netty.buffer.ByteBuf;
import io.netty.util.IllegalReferenceCountException;
import io.netty.util.internal.PlatformDependent;
import java.security.SecureRandom;

/**
 * The RFC 6455 section 5.3 masking transform, eight bytes at a time, and the source of masking keys.
 *
 * <p>A key is held as an {@code int} in wire order: the first key byte is the most significant. Byte {@code j} of a
 * payload is XORed with key byte {@code j % 4}; a transform that starts {@code phase} bytes into a payload starts
 * with key byte {@code phase % 4}. Masking and unmasking are the same operation.
 */
public final class FrameMask {

  /** How many keys one call to the secure generator yields; refills are rare enough to cost nothing per frame. */
  private static final int KEYS_PER_REFILL = 256;

  private static final ThreadLocal<KeySource> KEYS = ThreadLocal.withInitial(KeySource::new);

  /** Whether direct buffers' memory may be read and written by address (Netty's Unsafe access is available). */
  private static final boolean RAW_MEMORY = PlatformDependent.hasUnsafe() && PlatformDependent.isUnaligned();

  /**
   * Returns a fresh masking key from a cryptographically strong generator, as RFC 6455 section 5.3 requires (an
   * attacker who could predict keys could steer the bytes an intermediary sees). Keys are drawn in batches per thread.
   */
  public static int nextKey() {
    return KEYS.get().next();
  }

  /**
   * XORs {@code length} bytes of {@code buf} starting at {@code index} with {@code key}, in place, the first byte with
   * key byte {@code phase % 4}. Does not move the reader or writer index.
   */
  public static void apply(ByteBuf buf, int index, int length, int key, int phase) {
    int rotated = Integer.rotateLeft(key, (phase & 3) << 3);
    // getLongLE reads buf[i] as the least significant byte: put key byte 0 there, key byte 1 next, and so on.
    int little = Integer.reverseBytes(rotated);
    long word = (little & 0xFFFFFFFFL) | ((long) little << 32);
    int i = index;
    int end = index + length;
    if (length >= 32 && RAW_MEMORY && buf.hasMemoryAddress()) {
      i += applyToMemory(buf, index, length & ~7, word);
    }
    for (int last = end - 8; i <= last; i += 8) {
      buf.setLongLE(i, buf.getLongLE(i) ^ word);
    }
    if (i + 4 <= end) {
      buf.setIntLE(i, buf.getIntLE(i) ^ little);
      i += 4;
    }
    // Fewer than four bytes remain, and i - index is a multiple of four: key bytes 0, 1, 2 of the rotated key.
    for (int shift = 24; i < end; i++, shift -= 8) {
      buf.setByte(i, buf.getByte(i) ^ (rotated >>> shift));
    }
  }

  /**
   * The bulk of {@link #apply} straight on the memory of a direct buffer: the range and the buffer's liveness are
   * checked once rather than for every eight bytes ({@code getLongLE}/{@code setLongLE} check each access, and on JDK
   * 17 those checks are not hoisted out of the loop). The loop counts with an {@code int} from 0 so that C2 sees a
   * counted loop, which it unrolls and vectorises (SIMD words, not eight bytes a turn); a loop over a {@code long}
   * address, even unrolled by hand, is neither, and was 2.5-4 times slower (34 against 9-14 ms per GiB on the
   * benchmark machine). Returns {@code length}, a multiple of 8.
   */
  private static int applyToMemory(ByteBuf buf, int index, int length, long littleEndianWord) {
    if (index < 0 || index > buf.capacity() - length) {
      throw new IndexOutOfBoundsException("index: " + index + ", length: " + length + " (expected: range(0, "
          + buf.capacity() + "))");
    }
    if (buf.refCnt() == 0) {
      throw new IllegalReferenceCountException(0);
    }
    long word = PlatformDependent.BIG_ENDIAN_NATIVE_ORDER ? Long.reverseBytes(littleEndianWord) : littleEndianWord;
    long address = buf.memoryAddress() + index;
    for (int i = 0; i < length; i += 8) {
      PlatformDependent.putLong(address + i, PlatformDependent.getLong(address + i) ^ word);
    }
    return length;
  }

  /**
   * Appends the readable bytes of {@code src} to {@code dst}, masked with {@code key} from phase 0, in one pass over
   * {@code dst}'s memory after a bulk copy. Leaves {@code src}'s indexes unchanged.
   */
  public static void copyMasked(ByteBuf src, ByteBuf dst, int key) {
    int length = src.readableBytes();
    int start = dst.writerIndex();
    dst.writeBytes(src, src.readerIndex(), length);
    apply(dst, start, length, key, 0);
  }

  /** A per-thread batch of keys from a strong generator. Event loops are long-lived threads: one batch each. */
  private static final class KeySource {
    private final SecureRandom random = new SecureRandom();
    private final byte[] batch = new byte[KEYS_PER_REFILL * 4];
    private int next = batch.length;

    int next() {
      if (next == batch.length) {
        random.nextBytes(batch);
        next = 0;
      }
      int key = ((batch[next] & 0xFF) << 24) | ((batch[next + 1] & 0xFF) << 16) | ((batch[next + 2] & 0xFF) << 8)
          | (batch[next + 3] & 0xFF);
      next += 4;
      return key;
    }
  }

  private FrameMask() {}
}
