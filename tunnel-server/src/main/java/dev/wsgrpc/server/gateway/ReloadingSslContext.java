package dev.wsgrpc.server.gateway;

import dev.wsgrpc.server.WebSocketServerOptions;
import io.netty.handler.ssl.SslContext;
import java.io.File;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A server TLS context read from PEM files and read again when they change, so that a renewed certificate is used
 * for new connections without a restart. Files are checked on a background thread (never on an event loop); a
 * change that cannot be loaded (a half-written file) keeps the previous context and is retried.
 */
final class ReloadingSslContext implements Supplier<SslContext>, AutoCloseable {

  private static final Logger logger = LoggerFactory.getLogger(ReloadingSslContext.class);

  private final File cert;
  private final File key;
  private final boolean offerH2;
  private final ScheduledExecutorService checker;
  private volatile SslContext current;
  private String loadedStamp;

  /** Loads the files now (failing if they cannot be read) and checks them every {@code periodMillis}. */
  ReloadingSslContext(File cert, File key, boolean offerH2, long periodMillis) {
    this.cert = cert;
    this.key = key;
    this.offerH2 = offerH2;
    this.loadedStamp = stamp();
    this.current = WebSocketServerOptions.serverContext(cert, key, offerH2);
    this.checker = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "tls-reload");
      t.setDaemon(true);
      return t;
    });
    checker.scheduleWithFixedDelay(this::reloadIfChanged, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
  }

  @Override
  public SslContext get() {
    return current;
  }

  private String stamp() {
    return cert.lastModified() + ":" + cert.length() + "/" + key.lastModified() + ":" + key.length();
  }

  private void reloadIfChanged() {
    String now = stamp();
    if (now.equals(loadedStamp)) {
      return;
    }
    try {
      current = WebSocketServerOptions.serverContext(cert, key, offerH2);
      loadedStamp = now;
      logger.info("Loaded the new TLS certificate from {}; new connections use it", cert);
    } catch (RuntimeException e) {
      logger.warn("The TLS files {} and {} changed but cannot be loaded ({}); still serving the previous "
          + "certificate. Replace both files, certificate chain and PKCS#8 key, together.", cert, key,
          e.getMessage());
    }
  }

  @Override
  public void close() {
    checker.shutdownNow();
  }
}
