package dev.wsgrpc.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The runnable jars, with their dependencies inside, as users download them. */
class RunnableJarsTest {

  /** Artifacts that a dependency carries inside itself (shaded by its own build), with that dependency. */
  private static final Map<String, String> EMBEDDED = Map.of("org.jctools:jctools-core:", "io.netty:netty-common:");

  private static final Pattern POM_PROPERTIES = Pattern.compile("META-INF/maven/[^/]+/[^/]+/pom\\.properties");

  /** Each runnable jar and the program name its {@code --version} starts with. */
  static Stream<Arguments> jars() {
    return Stream.of(
        Arguments.of(jar("tunnel-cli", "wsgrpc-cli.jar"), "wsgrpc-cli"),
        Arguments.of(jar("tunnel-gateway", "tunnel-server.jar"), "wsgrpc tunnel-server"));
  }

  @ParameterizedTest
  @MethodSource("jars")
  void carriesTheApacheLicenceAndListsEveryBundledArtifactWithItsLicence(Path jar, String program) throws IOException {
    try (JarFile j = new JarFile(jar.toFile())) {
      String licence = read(j, "META-INF/LICENSE");
      assertTrue(licence.contains("Apache License") && licence.contains("Version 2.0, January 2004"), jar + "");
      String thirdParty = read(j, "META-INF/THIRD-PARTY.txt");
      List<String> bundled = new ArrayList<>();
      for (JarEntry e : (Iterable<JarEntry>) j.stream()::iterator) {
        if (POM_PROPERTIES.matcher(e.getName()).matches()) {
          Properties p = new Properties();
          try (InputStream in = j.getInputStream(e)) {
            p.load(in);
          }
          String coordinates = p.getProperty("groupId") + ":" + p.getProperty("artifactId") + ":";
          if (!coordinates.startsWith("dev.wsgrpc:")) {
            bundled.add(coordinates);
          }
        }
      }
      assertTrue(bundled.size() > 10, "bundled artifacts found in " + jar + ": " + bundled);
      for (String coordinates : bundled) {
        String listed = EMBEDDED.getOrDefault(coordinates, coordinates);
        String line = thirdParty.lines().filter(l -> l.contains("(" + listed)).findFirst().orElse(null);
        assertNotNull(line, coordinates + " is bundled in " + jar + " but not listed in META-INF/THIRD-PARTY.txt");
        assertTrue(line.trim().startsWith("("), "the line names a licence first: " + line);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("jars")
  void versionComesFromTheBuild(Path jar, String program) throws Exception {
    Path out = Files.createTempFile("version", ".out");
    try {
      Process process = new ProcessBuilder(Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
          "-jar", jar.toString(), "--version").redirectErrorStream(true).redirectOutput(out.toFile()).start();
      assertTrue(process.waitFor(60, TimeUnit.SECONDS), "--version returns");
      String output = Files.readString(out, StandardCharsets.UTF_8);
      assertEquals(0, process.exitValue(), output);
      assertTrue(output.startsWith(program + " " + Maven.projectVersion() + " (grpc-java "), output);
    } finally {
      Files.deleteIfExists(out);
    }
  }

  private static Path jar(String module, String name) {
    Path jar = Maven.root().resolve(module).resolve("target").resolve(name);
    if (!Files.isRegularFile(jar)) {
      throw new AssertionError(jar + " is missing: run the build from the repository root (mvn -B verify), which "
          + "packages " + module + " before these tests");
    }
    return jar;
  }

  private static String read(JarFile j, String name) throws IOException {
    JarEntry e = j.getJarEntry(name);
    assertNotNull(e, name + " in " + j.getName());
    try (InputStream in = j.getInputStream(e)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
