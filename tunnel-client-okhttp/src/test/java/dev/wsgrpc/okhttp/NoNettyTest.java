package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What an app that depends on this module gets: its runtime classpath, as Maven resolved it for this build. */
class NoNettyTest {

  private static List<String> runtimeJars() throws Exception {
    String classpath = new String(Files.readAllBytes(Paths.get("target", "runtime-classpath.txt")),
        StandardCharsets.UTF_8).trim();
    List<String> names = new ArrayList<>();
    for (String entry : classpath.split(File.pathSeparator)) {
      names.add(new File(entry).getName());
    }
    return names;
  }

  @Test
  void runtimeClasspathHasNoNettyAndNoNettyBasedModule() throws Exception {
    List<String> jars = runtimeJars();
    assertTrue(jars.stream().anyMatch(j -> j.startsWith("grpc-okhttp-")), "grpc-okhttp expected in " + jars);
    assertTrue(jars.stream().anyMatch(j -> j.startsWith("okhttp-")), "okhttp expected in " + jars);
    for (String jar : jars) {
      assertTrue(!jar.contains("netty") && !jar.startsWith("tunnel-core") && !jar.startsWith("tunnel-client-")
          && !jar.startsWith("tunnel-server"), "expected no Netty on the runtime classpath but found " + jar);
    }
  }

  @Test
  void runtimeClasspathIsGrpcOkHttpOkHttpAndTheirDependenciesOnly() throws Exception {
    List<String> allowed = Arrays.asList("grpc-", "okhttp-", "okio-", "kotlin-stdlib", "annotations-", "guava-",
        "failureaccess-", "listenablefuture-", "jsr305-", "error_prone_annotations-", "j2objc-annotations-",
        "perfmark-api-", "animal-sniffer-annotations-", "checker-qual-", "jspecify-", "gson-");
    List<String> unexpected = new ArrayList<>();
    for (String jar : runtimeJars()) {
      if (allowed.stream().noneMatch(jar::startsWith)) {
        unexpected.add(jar);
      }
    }
    assertEquals(List.of(), unexpected, "expected only gRPC, OkHttp and their own dependencies at run time");
  }
}
