package dev.wsgrpc.core.internal;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * The version this copy of wsgrpc was built as. It comes from the build (tunnel-core's filtered resource
 * {@code META-INF/wsgrpc/version.properties}, which the shaded jars carry too), never from a string typed in the
 * code; {@code --version} and every {@code User-Agent} use it.
 */
public final class WsgrpcVersion {

  /** What {@link #version()} answers when the resource is missing or was not filtered (a broken build). */
  static final String UNKNOWN = "unknown";

  static final String RESOURCE = "META-INF/wsgrpc/version.properties";

  private static final String VERSION = load();

  /** The project version, e.g. {@code 0.1.0} or {@code 0.2.0-SNAPSHOT}. */
  public static String version() {
    return VERSION;
  }

  /** {@code product/version}, e.g. {@code wsgrpc-java/0.1.0}: the {@code User-Agent} of upgrade requests. */
  public static String userAgent(String product) {
    return product + "/" + VERSION;
  }

  private static String load() {
    try (InputStream in = WsgrpcVersion.class.getResourceAsStream("/" + RESOURCE)) {
      if (in == null) {
        return UNKNOWN;
      }
      Properties properties = new Properties();
      properties.load(in);
      String version = properties.getProperty("version", "").trim();
      return version.isEmpty() || version.startsWith("${") ? UNKNOWN : version;
    } catch (IOException e) {
      return UNKNOWN;
    }
  }

  private WsgrpcVersion() {}
}
