package dev.wsgrpc.gateway;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A value read from files and read again when they change (a renewed certificate, an edited token file), so that
 * operators need no restart. Files are checked on a background thread, never on an event loop, by their content (a
 * SHA-256 digest), so an edit that keeps the length and the modification time is noticed too. A change is loaded once
 * the files have stayed the same for one period, so that a file written in place is not read half-written.
 *
 * <p>A change that cannot be loaded (a missing, unreadable or malformed file) is logged once per change and then
 * either keeps the previous value ({@link #keepingPrevious}: a half-written certificate must not end TLS) or
 * replaces it with a fail-closed value ({@link #failingClosed}: a token file that cannot be read must not keep old
 * tokens working). The next change of the files is loaded again.
 */
final class Reloading<T> implements Supplier<T>, AutoCloseable {

  private static final Logger logger = LoggerFactory.getLogger(Reloading.class);

  private final String what;
  private final List<File> files;
  private final Callable<T> load;
  /** The value while the files cannot be loaded, or null to keep the previous one. */
  private final T failClosed;
  private final String failClosedMeaning;
  private final ScheduledExecutorService checker;
  private volatile T current;
  private volatile Runnable onChange = () -> { };
  private String seenStamp;
  /** A changed stamp seen at the last check and not yet loaded: loaded if the next check sees it again. */
  private String settling;

  private Reloading(String what, List<File> files, Callable<T> load, T failClosed, String failClosedMeaning,
      long periodMillis) throws Exception {
    this.what = what;
    this.files = files;
    this.load = load;
    this.failClosed = failClosed;
    this.failClosedMeaning = failClosedMeaning;
    this.seenStamp = stamp();
    this.current = load.call();
    this.checker = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "reload-" + what.replace(' ', '-'));
      t.setDaemon(true);
      return t;
    });
    checker.scheduleWithFixedDelay(this::reloadIfChanged, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
  }

  /**
   * Loads now (throwing what {@code load} throws) and checks the files every {@code periodMillis}; a change that
   * cannot be loaded keeps the previous value, with a WARN line.
   *
   * @param what how logs name the value, e.g. "TLS certificate"
   */
  static <T> Reloading<T> keepingPrevious(String what, List<File> files, Callable<T> load, long periodMillis)
      throws Exception {
    return new Reloading<>(what, files, load, null, null, periodMillis);
  }

  /**
   * Loads now (throwing what {@code load} throws) and checks the files every {@code periodMillis}; while a change
   * cannot be loaded, the value is {@code failClosed}, with an ERROR line that says what that means
   * ({@code meaning}, e.g. "every tunnel is refused").
   */
  static <T> Reloading<T> failingClosed(String what, List<File> files, Callable<T> load, T failClosed,
      String meaning, long periodMillis) throws Exception {
    return new Reloading<>(what, files, load, failClosed, meaning, periodMillis);
  }

  @Override
  public T get() {
    return current;
  }

  /** Runs {@code listener} on the checking thread after each change of the value (loaded or failed closed). */
  void onChange(Runnable listener) {
    this.onChange = listener;
  }

  /** The files' contents as digests, or what kept them from being read; equal stamps mean unchanged files. */
  private String stamp() {
    StringBuilder stamp = new StringBuilder();
    for (File file : files) {
      try {
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file.toPath()));
        stamp.append(Base64.getEncoder().encodeToString(digest));
      } catch (NoSuchFileException e) {
        stamp.append("missing");
      } catch (IOException e) {
        stamp.append("unreadable:").append(e.getClass().getSimpleName());
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("every JVM has SHA-256", e);
      }
      stamp.append('/');
    }
    return stamp.toString();
  }

  /**
   * Checks once (one tick of the timer); package-private so that tests need not wait for it. A change is loaded once
   * the files are the same at two checks in a row, and again after it was read: a file being written in place (an
   * editor, {@code cp}, a renewer that writes the key, then the certificate) is not read half-written, at the cost of
   * one period.
   */
  synchronized void reloadIfChanged() {
    String now = stamp();
    if (now.equals(seenStamp)) {
      settling = null;
      return;
    }
    if (!now.equals(settling)) {
      settling = now; // changed since the last check: wait for one more without a change
      return;
    }
    settling = null;
    T loaded = null;
    Throwable failed = null;
    try {
      loaded = load.call();
    } catch (Exception | Error e) {
      failed = e; // an Error too (a file too large to read, a loader that broke): the schedule must go on
    }
    String after = stamp();
    if (!after.equals(now)) {
      settling = after; // written to while it was read: what was read may be half of it, so wait for it to settle
      return;
    }
    // One attempt (and at most one log line) per change: the next attempt waits for the next change.
    seenStamp = now;
    if (failed == null) {
      current = loaded;
      logger.info("Loaded the new {} from {}; new connections use it", what, files);
    } else {
      Throwable e = failed;
      if (failClosed == null) {
        logger.warn("{} changed but cannot be loaded ({}); still using the previous {}. Replace the files whole "
            + "(write elsewhere, then move into place).", files, describe(e), what);
        return;
      }
      current = failClosed;
      logger.error("{} cannot be loaded ({}): {} until the file is fixed. Replace it whole (write elsewhere, then "
          + "move into place).", files, describe(e), failClosedMeaning);
    }
    try {
      onChange.run();
    } catch (RuntimeException | Error e) {
      logger.error("Applying the new {} failed", what, e);
    }
  }

  private static String describe(Throwable e) {
    if (e instanceof NoSuchFileException) {
      return "missing: " + e.getMessage();
    }
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "not readable: " + e.getMessage();
    }
    return e.getMessage();
  }

  @Override
  public void close() {
    checker.shutdownNow();
  }
}
