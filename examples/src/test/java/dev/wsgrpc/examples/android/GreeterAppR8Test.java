package dev.wsgrpc.examples.android;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.wsgrpc.examples.hello.HelloServer;
import io.grpc.Server;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The android example shrunk and renamed by R8 (Android's shrinker, in class-file output), with the app's rules and
 * the consumer rules its libraries ship, then run against a real tunnel server: a unary call before and after a
 * network change and a bidirectional stream. Proves that nothing in the client needs rules R8 does not have.
 */
@Timeout(value = 15, unit = TimeUnit.MINUTES)
class GreeterAppR8Test {

  private static final Path R8_DIR = Paths.get("target", "r8");

  /** What R8 says when the JDK it is given as the library is newer than the class files it can read. */
  private static final Pattern UNSUPPORTED_CLASS_FILE = Pattern.compile("Unsupported class file major version (\\d+)");

  /** The app's libraries, as on its classpath (see GreeterAppTest). */
  private static List<String> libraries() throws IOException {
    Path file = Paths.get("target", "android-app-classpath.txt");
    assertTrue(Files.isRegularFile(file), file + " is written by the build (maven-dependency-plugin)");
    return Arrays.asList(new String(Files.readAllBytes(file), StandardCharsets.UTF_8).trim().split(File.pathSeparator));
  }

  /**
   * The ProGuard/R8 rules a jar ships for the apps that use it, copied out as files: those under
   * {@code META-INF/com.android.tools/} (R8's own) if it has any, else those under {@code META-INF/proguard/}, as the
   * Android Gradle plugin picks them.
   */
  private static List<Path> consumerRules(String jar, Path into) throws IOException {
    List<Path> rules = new ArrayList<>();
    if (new File(jar).isDirectory()) { // a reactor module's classes, when the build stops before package
      Path dir = Paths.get(jar, "META-INF", "proguard");
      if (Files.isDirectory(dir)) {
        try (Stream<Path> files = Files.list(dir)) {
          for (Path file : files.collect(Collectors.toList())) {
            rules.add(Files.copy(file, into.resolve(file.getFileName()), StandardCopyOption.REPLACE_EXISTING));
          }
        }
      }
      return rules;
    }
    if (!jar.endsWith(".jar")) {
      return rules;
    }
    try (ZipFile zip = new ZipFile(jar)) {
      List<ZipEntry> r8 = new ArrayList<>();
      List<ZipEntry> proguard = new ArrayList<>();
      for (Enumeration<? extends ZipEntry> e = zip.entries(); e.hasMoreElements(); ) {
        ZipEntry entry = e.nextElement();
        if (entry.isDirectory()) {
          continue;
        }
        if (entry.getName().startsWith("META-INF/com.android.tools/r8")) {
          r8.add(entry);
        } else if (entry.getName().startsWith("META-INF/proguard/")) {
          proguard.add(entry);
        }
      }
      for (ZipEntry entry : r8.isEmpty() ? proguard : r8) {
        Path file = into.resolve(Paths.get(jar).getFileName() + "-" + entry.getName().replace('/', '_'));
        try (InputStream in = zip.getInputStream(entry)) {
          Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        }
        rules.add(file);
      }
    }
    return rules;
  }

  private static String run(List<String> command, Path log, long timeoutMinutes) throws Exception {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      assertTrue(process.waitFor(timeoutMinutes, TimeUnit.MINUTES), command.get(command.size() - 1) + " timed out");
    } finally {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    String output = new String(Files.readAllBytes(log), StandardCharsets.UTF_8);
    assertEquals(0, process.exitValue(), output);
    return output;
  }

  private static List<String> entries(Path jar) throws IOException {
    try (ZipFile zip = new ZipFile(jar.toFile())) {
      return zip.stream().map(ZipEntry::getName).collect(Collectors.toList());
    }
  }

  @Test
  void theAppShrunkAndRenamedByR8GreetsAndStreamsThroughATunnel() throws Exception {
    Path r8 = R8_DIR.resolve("r8.jar");
    assertTrue(Files.isRegularFile(r8), r8 + " is copied by the build (maven-dependency-plugin)");
    Path rulesDir = Files.createDirectories(R8_DIR.resolve("consumer-rules"));
    Path app = R8_DIR.resolve("greeter-app.jar");
    Files.deleteIfExists(app);

    String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = new ArrayList<>(Arrays.asList(java, "-Xmx1g", "-cp", r8.toString(),
        "com.android.tools.r8.R8", "--release", "--classfile", "--output", app.toString(),
        "--pg-map-output", R8_DIR.resolve("greeter-app.map").toString(),
        "--lib", System.getProperty("java.home"),
        "--pg-conf", Paths.get("src", "test", "resources", "dev", "wsgrpc", "examples", "android",
            "greeter-app-rules.pro").toString()));
    List<String> libraries = libraries();
    List<Path> shipped = new ArrayList<>();
    for (String library : libraries) {
      shipped.addAll(consumerRules(library, rulesDir));
    }
    // Ours (tunnel-client-okhttp's wsgrpc-okhttp.pro) and OkHttp's; Guava's and Gson's come along too.
    assertTrue(shipped.stream().anyMatch(p -> p.getFileName().toString().endsWith("wsgrpc-okhttp.pro")),
        shipped.toString());
    assertTrue(shipped.stream().anyMatch(p -> p.getFileName().toString().endsWith("okhttp3.pro")), shipped.toString());
    for (Path rule : shipped) {
      command.add("--pg-conf");
      command.add(rule.toString());
    }
    // The program: the app's classes and every library (the Android build shrinks them all together).
    try (Stream<Path> classes = Files.list(Paths.get("target", "classes", "dev", "wsgrpc", "examples", "android"))) {
      classes.filter(p -> p.getFileName().toString().startsWith("GreeterApp")
              && p.getFileName().toString().endsWith(".class"))
          .forEach(p -> command.add(p.toString()));
    }
    command.addAll(libraries);
    Path r8Log = R8_DIR.resolve("r8.log");
    try {
      run(command, r8Log, 12);
    } catch (AssertionError e) {
      // The library R8 is given is the JDK that runs the build (Android's android.jar is not on Maven Central).
      Matcher m = UNSUPPORTED_CLASS_FILE.matcher(Files.readString(r8Log, StandardCharsets.UTF_8));
      assumeFalse(m.find(), () -> "R8 (examples/pom.xml's r8.version) cannot read this JDK's class files (version "
          + m.group(1) + ", Java " + (Integer.parseInt(m.group(1)) - 44) + "): a newer R8, or an older JDK, runs "
          + "this test");
      throw e;
    }

    // Shrunk and renamed: far fewer classes than went in, and this project's client classes have new names.
    List<String> out = entries(app);
    long classesOut = out.stream().filter(n -> n.endsWith(".class")).count();
    long classesIn = 0;
    for (String library : libraries) {
      if (library.endsWith(".jar")) {
        classesIn += entries(Paths.get(library)).stream().filter(n -> n.endsWith(".class")).count();
      }
    }
    assertTrue(classesOut < classesIn / 2, classesOut + " classes out of " + classesIn);
    assertTrue(out.contains("dev/wsgrpc/examples/android/GreeterApp.class"), "the kept entry point");
    assertFalse(out.stream().anyMatch(n -> n.startsWith("dev/wsgrpc/okhttp/")),
        "tunnel-client-okhttp's classes are renamed (moved out of dev/wsgrpc/okhttp/)");
    String map = new String(Files.readAllBytes(R8_DIR.resolve("greeter-app.map")), StandardCharsets.UTF_8);
    assertTrue(map.contains("dev.wsgrpc.okhttp.OkHttpWebSocketChannels -> "), "the map names our renamed classes");

    Server server = HelloServer.start(0);
    try {
      int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
      String output = run(Arrays.asList(java, "-cp", app.toString(), GreeterApp.class.getName(),
          "ws://127.0.0.1:" + port + "/grpc"), R8_DIR.resolve("greeter-app.log"), 2);
      assertTrue(output.contains("Hello, android!\nHello, android again!\n"
          + "Hello, one!\nHello, two!\nHello, three!\ntunnels opened: 2\n"), output);
    } finally {
      server.shutdownNow();
      assertTrue(server.awaitTermination(10, TimeUnit.SECONDS), "server did not terminate");
    }
  }
}
