package dev.wsgrpc.gateway;

import java.io.File;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A value read from files and read again when they change (a renewed certificate, an edited token file), so that
 * operators need no restart. Files are checked on a background thread, never on an event loop; a change that cannot
 * be loaded (a half-written file) keeps the previous value, says so at WARN, and is retried.
 */
final class Reloading<T> implements Supplier<T>, AutoCloseable {

  private static final Logger logger = LoggerFactory.getLogger(Reloading.class);

  private final String what;
  private final List<File> files;
  private final Callable<T> load;
  private final ScheduledExecutorService checker;
  private volatile T current;
  private String loadedStamp;

  /**
   * Loads now (throwing what {@code load} throws) and checks the files every {@code periodMillis}.
   *
   * @param what how logs name the value, e.g. "TLS certificate"
   */
  Reloading(String what, List<File> files, Callable<T> load, long periodMillis) throws Exception {
    this.what = what;
    this.files = files;
    this.load = load;
    this.loadedStamp = stamp();
    this.current = load.call();
    this.checker = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "reload-" + what.replace(' ', '-'));
      t.setDaemon(true);
      return t;
    });
    checker.scheduleWithFixedDelay(this::reloadIfChanged, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
  }

  @Override
  public T get() {
    return current;
  }

  private String stamp() {
    return files.stream().map(f -> f.lastModified() + ":" + f.length()).collect(Collectors.joining("/"));
  }

  private void reloadIfChanged() {
    String now = stamp();
    if (now.equals(loadedStamp)) {
      return;
    }
    try {
      current = load.call();
      loadedStamp = now;
      logger.info("Loaded the new {} from {}; new connections use it", what, files);
    } catch (Exception e) {
      logger.warn("{} changed but cannot be loaded ({}); still using the previous {}. Replace the files whole "
          + "(write elsewhere, then move into place).", files, e.getMessage(), what);
    }
  }

  @Override
  public void close() {
    checker.shutdownNow();
  }
}
