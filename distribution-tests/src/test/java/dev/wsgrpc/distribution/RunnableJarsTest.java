package dev.wsgrpc.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.wsgrpc.distribution.Jdks.Jdk;
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
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The runnable jars, with their dependencies inside, as users download them. */
class RunnableJarsTest {

  /** Artifacts that a dependency carries inside itself (shaded by its own build), with that dependency. */
  private static final Map<String, String> EMBEDDED = Map.of("org.jctools:jctools-core:", "io.netty:netty-common:");

  private static final Pattern POM_PROPERTIES = Pattern.compile("META-INF/maven/[^/]+/[^/]+/pom\\.properties");

  /** Variables the JVM takes options from: the jars run with the options these tests give them only. */
  private static final Set<String> JVM_OPTION_VARIABLES = Set.of("JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS",
      "_JAVA_OPTIONS");

  /** What the JVM prints before a warning of its own (restricted methods, sun.misc.Unsafe, ...). */
  private static final String JVM_WARNING = "WARNING:";

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

  @ParameterizedTest
  @MethodSource("jars")
  void manifestLetsNettyLoadItsNativeLibraryWithoutAWarning(Path jar, String program) throws IOException {
    try (JarFile j = new JarFile(jar.toFile())) {
      assertEquals("ALL-UNNAMED", j.getManifest().getMainAttributes().getValue("Enable-Native-Access"),
          "Java 24+ warns at Netty's System.loadLibrary without it (" + jar + ")");
    }
  }

  /**
   * Both jars on the newest JDK of the machine, as docs/GATEWAY.md tells users to run them there: the gateway (demo
   * mode, epoll, every buffer tracked) serves the CLI's interop cases, drains on SIGTERM, and neither process prints
   * a warning of the JVM's or a leak.
   */
  @Test
  void gatewayAndCliRunOnTheNewestJdkWithoutAWarning(@TempDir Path work) throws Exception {
    Jdk jdk = Jdks.newest().orElse(null);
    assumeTrue(jdk != null, Jdks::noneNewer);
    Path gatewayLog = work.resolve("gateway.log");
    Process gateway = javaJar(jdk, jar("tunnel-gateway", "tunnel-server.jar"), "--bind", "127.0.0.1", "--port", "0")
        .redirectOutput(gatewayLog.toFile()).start();
    try {
      int port = StartupLines.awaitPort(gateway, StartupLines.DIAL, gatewayLog);
      Path cliLog = work.resolve("cli.log");
      Process cli = javaJar(jdk, jar("tunnel-cli", "wsgrpc-cli.jar"), "interop", "ws://127.0.0.1:" + port + "/grpc")
          .redirectOutput(cliLog.toFile()).start();
      try {
        assertTrue(cli.waitFor(5, TimeUnit.MINUTES), "the interop cases end");
      } finally {
        cli.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      String cliOutput = Files.readString(cliLog, StandardCharsets.UTF_8);
      assertEquals(0, cli.exitValue(), jdk + ":\n" + cliOutput);
      assertTrue(cliOutput.contains(" passed, 0 failed"), cliOutput);
      assertClean(jdk, "wsgrpc-cli.jar", cliOutput);

      gateway.destroy();
      assertTrue(gateway.waitFor(60, TimeUnit.SECONDS), "the gateway stops after SIGTERM");
      String gatewayOutput = Files.readString(gatewayLog, StandardCharsets.UTF_8);
      assertEquals(0, gateway.exitValue(), gatewayOutput);
      assertTrue(gatewayOutput.contains("Stopped:"), gatewayOutput);
      assertFalse(gatewayOutput.contains("Native epoll is unavailable"), jdk + ":\n" + gatewayOutput);
      assertClean(jdk, "tunnel-server.jar", gatewayOutput);
    } finally {
      gateway.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** {@code java [options for jdk] -Dio.netty.leakDetection.level=paranoid -jar jar args}, stderr with stdout. */
  private static ProcessBuilder javaJar(Jdk jdk, Path jar, String... args) {
    List<String> command = new ArrayList<>();
    command.add(jdk.java().toString());
    command.addAll(jdk.jarOptions());
    command.addAll(List.of("-Dio.netty.leakDetection.level=paranoid", "-jar", jar.toString()));
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().keySet().removeIf(k -> k.startsWith("TUNNEL_") || JVM_OPTION_VARIABLES.contains(k));
    return builder;
  }

  private static void assertClean(Jdk jdk, String program, String output) {
    assertFalse(output.contains(JVM_WARNING), program + " on " + jdk + " printed a warning:\n" + output);
    assertFalse(output.contains("LEAK:"), program + " on " + jdk + " leaked a buffer:\n" + output);
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
