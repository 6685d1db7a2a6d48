package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.FileTime;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gateway's reloading of files, checked by hand here (a period of an hour keeps the timer out of the way). */
class ReloadingTest {

  private static final long NEVER = 3_600_000;
  private static final Map<String, String> NO_TOKENS = Collections.emptyMap();

  @TempDir
  File dir;

  private final AtomicInteger loads = new AtomicInteger();
  private final AtomicInteger changes = new AtomicInteger();

  private Reloading<Map<String, String>> tokens(File file) throws Exception {
    Reloading<Map<String, String>> r = Reloading.failingClosed("bearer tokens", List.of(file), () -> {
      loads.incrementAndGet();
      return TokenFile.read(file);
    }, NO_TOKENS, "no bearer token is valid", NEVER);
    r.onChange(changes::incrementAndGet);
    return r;
  }

  private File tokenFile(String content) throws IOException {
    File file = new File(dir, "tokens.txt");
    Files.writeString(file.toPath(), content);
    return file;
  }

  /** Two checks: a change is loaded at the second that sees it unchanged. */
  private static void settle(Reloading<?> r) {
    r.reloadIfChanged();
    r.reloadIfChanged();
  }

  /**
   * A token file written in place is seen by a check half-written: it is not loaded (which would refuse every
   * tunnel whose token is in the other half) until a check finds the file as the previous check did.
   */
  @Test
  void aFileSeenHalfWrittenIsLoadedOnlyOnceItStaysTheSameForOneCheck() throws Exception {
    File file = tokenFile("alpha-t0ken alice\n");
    try (Reloading<Map<String, String>> r = tokens(file)) {
      Files.writeString(file.toPath(), "alpha-t0ken alice\nbravo-t0"); // the writer is here when the check runs
      r.reloadIfChanged();
      assertEquals(Map.of("alpha-t0ken", "alice"), r.get(), "not loaded: it may be half-written");
      Files.writeString(file.toPath(), "alpha-t0ken alice\nbravo-t0ken bob\n");
      r.reloadIfChanged();
      assertEquals(Map.of("alpha-t0ken", "alice"), r.get(), "changed again since the last check");
      assertEquals(1, loads.get(), "no attempt yet, so no ERROR line and no tunnel closed");
      r.reloadIfChanged();
      assertEquals(Map.of("alpha-t0ken", "alice", "bravo-t0ken", "bob"), r.get());
      assertEquals(1, changes.get());
      // A file changed and then changed back before it settled is no change at all.
      Files.writeString(file.toPath(), "");
      r.reloadIfChanged();
      Files.writeString(file.toPath(), "alpha-t0ken alice\nbravo-t0ken bob\n");
      settle(r);
      assertEquals(2, loads.get());
      assertEquals(1, changes.get());
    }
  }

  /** A write that begins after the check found the file settled, while it is read: what was read is not kept. */
  @Test
  void aFileWrittenWhileItIsReadIsNotKept() throws Exception {
    File file = tokenFile("v1");
    try (Reloading<String> r = Reloading.keepingPrevious("TLS certificate", List.of(file), () -> {
      String text = Files.readString(file.toPath());
      if (text.equals("v2-half")) {
        Files.writeString(file.toPath(), "v2-whole"); // the writer goes on while the loader reads
      }
      return text;
    }, NEVER)) {
      Files.writeString(file.toPath(), "v2-half");
      settle(r);
      assertEquals("v1", r.get(), "read while it changed: not kept");
      settle(r);
      assertEquals("v2-whole", r.get());
    }
  }

  @Test
  void aSameLengthEditThatKeepsTheModificationTimeIsNoticed() throws Exception {
    File file = tokenFile("alpha-t0ken alice\n");
    FileTime mtime = Files.getLastModifiedTime(file.toPath());
    try (Reloading<Map<String, String>> r = tokens(file)) {
      assertEquals(Map.of("alpha-t0ken", "alice"), r.get());
      Files.writeString(file.toPath(), "alpha-t0kem alice\n");
      Files.setLastModifiedTime(file.toPath(), mtime);
      settle(r);
      assertEquals(Map.of("alpha-t0kem", "alice"), r.get());
      assertEquals(1, changes.get());
    }
  }

  @Test
  void anEmptyFileMeansNoTokenIsValid() throws Exception {
    File file = tokenFile("alpha-t0ken alice\n");
    try (Reloading<Map<String, String>> r = tokens(file)) {
      Files.writeString(file.toPath(), "");
      settle(r);
      assertEquals(NO_TOKENS, r.get());
      Files.writeString(file.toPath(), "# only a comment\n\n");
      settle(r);
      assertEquals(NO_TOKENS, r.get());
      assertEquals(2, changes.get());
    }
    assertEquals(NO_TOKENS, TokenFile.read(tokenFile("")), "an empty file is valid at start-up too");
  }

  @Test
  void aMissingFileFailsClosedAndIsTriedOncePerChange() throws Exception {
    File file = tokenFile("alpha-t0ken alice\n");
    try (Reloading<Map<String, String>> r = tokens(file)) {
      assertTrue(file.delete());
      settle(r);
      assertSame(NO_TOKENS, r.get());
      settle(r);
      settle(r);
      assertEquals(2, loads.get(), "one attempt (and one ERROR line) per change, not per check");
      assertEquals(1, changes.get());
      Files.writeString(file.toPath(), "bravo-t0ken bob\n");
      settle(r);
      assertEquals(Map.of("bravo-t0ken", "bob"), r.get(), "a file that is back is loaded again");
    }
  }

  @Test
  void anUnreadableOrMalformedFileFailsClosed() throws Exception {
    File file = tokenFile("alpha-t0ken alice\n");
    try (Reloading<Map<String, String>> r = tokens(file)) {
      Files.writeString(file.toPath(), "alpha-t0ken\n");
      settle(r);
      assertSame(NO_TOKENS, r.get(), "a malformed line");
      Files.writeString(file.toPath(), "alpha-t0ken alice\n");
      settle(r);
      assertEquals(Map.of("alpha-t0ken", "alice"), r.get());
      // Tests may run as root, which reads any file: a directory in its place cannot be read by anyone.
      assertTrue(file.delete());
      assertTrue(file.mkdir());
      settle(r);
      assertSame(NO_TOKENS, r.get(), "an unreadable file");
    }
  }

  @Test
  void valuesThatKeepTheirPreviousOneSurviveABadChange() throws Exception {
    File file = tokenFile("v1");
    try (Reloading<String> r = Reloading.keepingPrevious("TLS certificate", List.of(file), () -> {
      String text = Files.readString(file.toPath());
      if (text.isEmpty()) {
        throw new IOException("half-written");
      }
      return text;
    }, NEVER)) {
      Files.writeString(file.toPath(), "");
      settle(r);
      assertEquals("v1", r.get());
      Files.writeString(file.toPath(), "v2");
      settle(r);
      assertEquals("v2", r.get());
    }
  }

  /**
   * A loader that fails with an Error (out of memory on a huge file, say) is a failed load like any other: it would
   * otherwise end the checking schedule for good, silently, and with it token revocation.
   */
  @Test
  void anErrorWhileLoadingIsAFailedLoadAndLaterChangesStillLoad() throws Exception {
    File file = tokenFile("v1");
    try (Reloading<String> r = Reloading.keepingPrevious("TLS certificate", List.of(file), () -> {
      String text = Files.readString(file.toPath());
      if (text.equals("huge")) {
        throw new OutOfMemoryError("Java heap space");
      }
      return text;
    }, NEVER)) {
      Files.writeString(file.toPath(), "huge");
      settle(r);
      assertEquals("v1", r.get());
      Files.writeString(file.toPath(), "v2");
      settle(r);
      assertEquals("v2", r.get());
    }
  }

  @Test
  void aFileThatCannotBeLoadedAtStartUpIsAnError() {
    File missing = new File(dir, "missing.txt");
    assertThrows(IOException.class, () -> tokens(missing));
  }
}
