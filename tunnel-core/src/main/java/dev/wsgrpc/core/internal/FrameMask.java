package dev.wsgrpc.core.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.util.IllegalReferenceCountException;
import io.netty.util.internal.PlatformDependent;
import java.nio.ByteBuffer;
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
      i += applyToMemory(buf, index, length & ~31, word);
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
   * The bulk of {@link #apply} straight on the memory of a direct buffer, 32 bytes per turn: the range and the
   * buffer's liveness are checked once rather than for every eight bytes, which made the loop twice as fast in the
   * codec's hot path (JDK 17: the per-access checks of {@code getLongLE}/{@code setLongLE} are not hoisted out of
   * the loop). Returns {@code length}, a multiple of 32.
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
    long stop = address + length;
    for (; address < stop; address += 32) {
      PlatformDependent.putLong(address, PlatformDependent.getLong(address) ^ word);
      PlatformDependent.putLong(address + 8, PlatformDependent.getLong(address + 8) ^ word);
      PlatformDependent.putLong(address + 16, PlatformDependent.getLong(address + 16) ^ word);
      PlatformDependent.putLong(address + 24, PlatformDependent.getLong(address + 24) ^ word);
    }
    return length;
  }

  /**
   * Appends the readable bytes of {@code src} to {@code dst}, masked with {@code key} from phase 0. Leaves
   * {@code src}'s indexes unchanged.
   *
   * <p>When both are direct buffers (as on event loops), each byte is read once from {@code src}, XORed and written
   * once to {@code dst}, eight bytes at a time by address: one pass, where a bulk copy followed by {@link #apply}
   * on the copy wrote every byte twice and read it twice. (An earlier fused loop was slower than the two passes
   * because it went through {@code getLongLE}/{@code setLongLE} on both buffers, whose bounds and reference-count
   * checks ran for every eight bytes.) The parts of a composite {@code src} are masked in turn, each from the phase
   * where the one before it ended, so a part that starts at an odd offset gets the rotated key.
   */
  public static void copyMasked(ByteBuf src, ByteBuf dst, int key) {
    int length = src.readableBytes();
    int start = dst.writerIndex();
    if (length < 32 || !RAW_MEMORY || !src.isDirect()) {
      dst.writeBytes(src, src.readerIndex(), length);
      apply(dst, start, length, key, 0);
      return;
    }
    dst.ensureWritable(length);
    if (!dst.hasMemoryAddress()) {
      dst.writeBytes(src, src.readerIndex(), length);
      apply(dst, start, length, key, 0);
      return;
    }
    if (src.refCnt() == 0) {
      throw new IllegalReferenceCountException(0);
    }
    long to = dst.memoryAddress() + start;
    if (src.hasMemoryAddress()) {
      copyMaskedMemory(src.memoryAddress() + src.readerIndex(), to, length, key, 0);
    } else if (src instanceof CompositeByteBuf) {
      // One pass per part, each at the phase where the previous part ended; the parts as they are, no views.
      CompositeByteBuf composite = (CompositeByteBuf) src;
      int index = src.readerIndex();
      int offset = 0;
      for (int c = composite.toComponentIndex(index); offset < length; c++) {
        ByteBuf part = composite.internalComponent(c);
        int skip = index + offset - composite.toByteIndex(c);
        int n = Math.min(part.readableBytes() - skip, length - offset);
        int from = part.readerIndex() + skip;
        if (part.hasMemoryAddress()) {
          copyMaskedMemory(part.memoryAddress() + from, to + offset, n, key, offset);
        } else {
          dst.setBytes(start + offset, part, from, n);
          apply(dst, start + offset, n, key, offset);
        }
        offset += n;
      }
    } else {
      // Another kind of wrapper: one pass per part, as above.
      int offset = 0;
      for (ByteBuffer part : src.nioBuffers(src.readerIndex(), length)) {
        int n = part.remaining();
        if (part.isDirect()) {
          copyMaskedMemory(PlatformDependent.directBufferAddress(part) + part.position(), to + offset, n, key, offset);
        } else {
          dst.setBytes(start + offset, part);
          apply(dst, start + offset, n, key, offset);
        }
        offset += n;
      }
    }
    dst.writerIndex(start + length);
  }

  /**
   * Writes {@code length} bytes from address {@code from} to address {@code to}, XORed with {@code key} starting at
   * key byte {@code phase % 4}. The caller has checked both ranges.
   */
  private static void copyMaskedMemory(long from, long to, int length, int key, int phase) {
    int rotated = Integer.rotateLeft(key, (phase & 3) << 3);
    int little = Integer.reverseBytes(rotated);
    long littleWord = (little & 0xFFFFFFFFL) | ((long) little << 32);
    long word = PlatformDependent.BIG_ENDIAN_NATIVE_ORDER ? Long.reverseBytes(littleWord) : littleWord;
    int i = 0;
    for (int last = length - 32; i <= last; i += 32) {
      PlatformDependent.putLong(to + i, PlatformDependent.getLong(from + i) ^ word);
      PlatformDependent.putLong(to + i + 8, PlatformDependent.getLong(from + i + 8) ^ word);
      PlatformDependent.putLong(to + i + 16, PlatformDependent.getLong(from + i + 16) ^ word);
      PlatformDependent.putLong(to + i + 24, PlatformDependent.getLong(from + i + 24) ^ word);
    }
    for (int last = length - 8; i <= last; i += 8) {
      PlatformDependent.putLong(to + i, PlatformDependent.getLong(from + i) ^ word);
    }
    // Fewer than eight bytes remain, and i is a multiple of eight: key bytes 0, 1, 2, ... of the rotated key.
    for (int shift = 24; i < length; i++, shift = (shift - 8) & 31) {
      PlatformDependent.putByte(to + i, (byte) (PlatformDependent.getByte(from + i) ^ (rotated >>> shift)));
    }
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
