package dev.wsgrpc.distribution;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The JDKs these tests run what we ship on: the build's own, and the newest other one on the machine (this kind of
 * machine has Temurin's next to Debian's OpenJDK), so that what users run on the current Java release is tested too.
 */
final class Jdks {

  /** Names another JDK to use as the newest, instead of looking under {@link #JVM_DIR}. */
  static final String NEWEST_PROPERTY = "wsgrpc.test.newestJdk";

  private static final Path JVM_DIR = Paths.get("/usr/lib/jvm");
  private static final Pattern JAVA_VERSION = Pattern.compile("(?m)^JAVA_VERSION=\"(\\d+)");

  /** A JDK's home and its feature release (17, 25, ...). */
  record Jdk(Path home, int feature) {

    Path java() {
      return home.resolve("bin").resolve("java");
    }

    /**
     * The options users are told to give this JDK for the jars (docs/GATEWAY.md, "Java versions"): from 24 on, the
     * JDK warns at protobuf-java's first use of {@code sun.misc.Unsafe}'s memory access unless it is allowed.
     */
    List<String> jarOptions() {
      return feature >= 24 ? List.of("--sun-misc-unsafe-memory-access=allow") : List.of();
    }

    @Override
    public String toString() {
      return "JDK " + feature + " (" + home + ")";
    }
  }

  private Jdks() {}

  /** The JDK running the tests. */
  static Jdk build() {
    return new Jdk(Paths.get(System.getProperty("java.home")), Runtime.version().feature());
  }

  /**
   * The newest JDK of a later release than the build's: the one {@value #NEWEST_PROPERTY} names, else the newest
   * under /usr/lib/jvm; empty if there is none.
   */
  static Optional<Jdk> newest() {
    String named = System.getProperty(NEWEST_PROPERTY);
    List<Path> homes = new ArrayList<>();
    if (named != null && !named.isEmpty()) {
      homes.add(Paths.get(named));
    } else if (Files.isDirectory(JVM_DIR)) {
      try (Stream<Path> dirs = Files.list(JVM_DIR)) {
        dirs.filter(d -> !Files.isSymbolicLink(d)).forEach(homes::add);
      } catch (IOException e) {
        throw new AssertionError("cannot list " + JVM_DIR, e);
      }
    }
    return homes.stream()
        .map(Jdks::at)
        .flatMap(Optional::stream)
        .filter(jdk -> jdk.feature() > build().feature() && Files.isExecutable(jdk.java()))
        .max(Comparator.comparingInt(Jdk::feature));
  }

  /** Why {@link #newest()} is empty, for a test that needs it to say why it does not run. */
  static String noneNewer() {
    String named = System.getProperty(NEWEST_PROPERTY);
    String where = named == null || named.isEmpty()
        ? "under " + JVM_DIR + " (name one with -D" + NEWEST_PROPERTY + "=JAVA_HOME)"
        : "at " + named + " (-D" + NEWEST_PROPERTY + ")";
    return "no JDK of a later release than the build's (" + build().feature() + ") " + where;
  }

  /** The JDK or Java runtime at {@code home}, as its {@code release} file names it; empty if it names none. */
  static Optional<Jdk> at(Path home) {
    Path release = home.resolve("release");
    if (!Files.isRegularFile(release)) {
      return Optional.empty();
    }
    try {
      Matcher m = JAVA_VERSION.matcher(Files.readString(release, StandardCharsets.UTF_8));
      return m.find() ? Optional.of(new Jdk(home, Integer.parseInt(m.group(1)))) : Optional.empty();
    } catch (IOException e) {
      throw new AssertionError("cannot read " + release, e);
    }
  }
}
