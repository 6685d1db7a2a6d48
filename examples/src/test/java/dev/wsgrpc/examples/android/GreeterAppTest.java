package dev.wsgrpc.examples.android;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.examples.hello.HelloServer;
import io.grpc.Server;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The app in a JVM of its own whose classpath holds {@code tunnel-client-okhttp}, the generated stubs and what they
 * pull in: no Netty class is on it, and the app still greets, before and after a network change.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GreeterAppTest {

  /** The app's classpath: this module's classes (for GreeterApp and the stubs' users) and the app's libraries. */
  private static List<String> appClasspath() throws IOException {
    Path file = Paths.get("target", "android-app-classpath.txt");
    assertTrue(Files.isRegularFile(file), file + " is written by the build (maven-dependency-plugin)");
    List<String> entries = new ArrayList<>();
    entries.add(Paths.get("target", "classes").toAbsolutePath().toString());
    entries.addAll(Arrays.asList(new String(Files.readAllBytes(file), StandardCharsets.UTF_8).trim()
        .split(File.pathSeparator)));
    return entries;
  }

  /** The {@code io/netty/} classes in a jar or class directory. */
  private static long nettyClasses(String entry) throws IOException {
    File f = new File(entry);
    if (f.isDirectory()) {
      Path netty = f.toPath().resolve("io/netty");
      if (!Files.exists(netty)) {
        return 0;
      }
      try (Stream<Path> s = Files.walk(netty)) {
        return s.filter(p -> p.toString().endsWith(".class")).count();
      }
    }
    try (ZipFile zip = new ZipFile(f)) {
      return zip.stream().filter(e -> e.getName().startsWith("io/netty/")).count();
    }
  }

  @Test
  void noNettyClassIsOnTheAppsClasspath() throws IOException {
    List<String> classpath = appClasspath();
    assertTrue(classpath.stream().anyMatch(e -> e.contains("tunnel-client-okhttp")), classpath.toString());
    for (String entry : classpath) {
      assertEquals(0, nettyClasses(entry), entry + " holds io.netty classes");
      assertFalse(new File(entry).getName().contains("netty"), entry);
    }
  }

  @Test
  void appGreetsBeforeAndAfterANetworkChangeWithOnlyTheOkHttpClient() throws Exception {
    Server server = HelloServer.start(0);
    try {
      int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
      Process app = new ProcessBuilder(Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
          "-cp", String.join(File.pathSeparator, appClasspath()), GreeterApp.class.getName(),
          "ws://127.0.0.1:" + port + "/grpc").redirectErrorStream(true).start();
      String output = new String(app.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(app.waitFor(60, TimeUnit.SECONDS), output);
      assertEquals(0, app.exitValue(), output);
      assertTrue(output.contains("Hello, android!\nHello, android again!\n"
          + "Hello, one!\nHello, two!\nHello, three!\ntunnels opened: 2\n"), output);
    } finally {
      server.shutdownNow();
      assertTrue(server.awaitTermination(10, TimeUnit.SECONDS), "server did not terminate");
    }
  }
}
