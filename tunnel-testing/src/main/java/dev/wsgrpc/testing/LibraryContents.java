package dev.wsgrpc.testing;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Checks that a library module (tunnel-core, tunnel-client, tunnel-server) ships the library only: its main output
 * holds nothing but classes of its own packages (no gateway or CLI classes, no {@code logback.xml} or other
 * resource), and no class of what only the gateway and the CLI use is on its classpath. The root pom's
 * {@code library-dependencies} enforcer rule checks the declared dependencies; this checks what the build produced.
 */
public final class LibraryContents {

  /** One class of each dependency that belongs to the gateway or the CLI, never to a library. */
  static final List<String> APPLICATION_ONLY_CLASSES = Collections.unmodifiableList(Arrays.asList(
      "dev.wsgrpc.gateway.TunnelServerMain",
      "dev.wsgrpc.cli.WsgrpcCli",
      "dev.wsgrpc.interop.InteropCases",
      "picocli.CommandLine",
      "io.prometheus.metrics.core.metrics.Counter",
      "io.grpc.protobuf.services.HealthStatusManager",
      "io.grpc.testing.integration.TestServiceGrpc",
      "io.netty.channel.epoll.Epoll",
      "org.HdrHistogram.Histogram"));

  /** Both checks: {@link #assertOnlyOwnClasses} and {@link #assertNoApplicationDependency}. */
  public static void assertLibraryOnly(Class<?> libraryClass, String packagePrefix) {
    assertOnlyOwnClasses(libraryClass, packagePrefix);
    assertNoApplicationDependency();
  }

  /**
   * Fails unless every file of the main output that holds {@code libraryClass} is a class in {@code packagePrefix}
   * (e.g. {@code "dev.wsgrpc.server"}) or one of its subpackages, or a {@code META-INF/} entry.
   */
  public static void assertOnlyOwnClasses(Class<?> libraryClass, String packagePrefix) {
    String root = packagePrefix.replace('.', '/') + '/';
    List<String> strays = new ArrayList<>();
    for (String entry : entries(libraryClass)) {
      if (!entry.startsWith("META-INF/") && !(entry.startsWith(root) && entry.endsWith(".class"))) {
        strays.add(entry);
      }
    }
    if (!strays.isEmpty()) {
      throw new AssertionError("expected only classes of " + packagePrefix + " in " + location(libraryClass)
          + " but it also holds " + strays);
    }
  }

  /** Fails if a class of the gateway, the CLI, or a dependency only they use, can be loaded. */
  public static void assertNoApplicationDependency() {
    List<String> found = new ArrayList<>();
    for (String name : APPLICATION_ONLY_CLASSES) {
      try {
        Class.forName(name, false, LibraryContents.class.getClassLoader());
        found.add(name);
      } catch (ClassNotFoundException expected) {
        // not on the classpath: as it should be
      }
    }
    if (!found.isEmpty()) {
      throw new AssertionError("expected no gateway or CLI dependency on a library's classpath but found " + found);
    }
  }

  /** The files (directory) or entries (jar) of the main output holding {@code libraryClass}, '/'-separated. */
  private static List<String> entries(Class<?> libraryClass) {
    Path location = location(libraryClass);
    try {
      if (Files.isDirectory(location)) {
        try (Stream<Path> files = Files.walk(location)) {
          return files.filter(Files::isRegularFile)
              .map(p -> location.relativize(p).toString().replace('\\', '/'))
              .collect(Collectors.toList());
        }
      }
      try (ZipFile jar = new ZipFile(location.toFile())) {
        return jar.stream().filter(e -> !e.isDirectory()).map(ZipEntry::getName).collect(Collectors.toList());
      }
    } catch (IOException e) {
      throw new AssertionError("cannot list " + location, e);
    }
  }

  private static Path location(Class<?> libraryClass) {
    try {
      return Paths.get(libraryClass.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException e) {
      throw new AssertionError(e);
    }
  }

  private LibraryContents() {}
}
