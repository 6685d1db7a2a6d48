package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * R8 readiness: this module's classes look nothing up by name (no reflection, no ServiceLoader), so R8 can shrink and
 * rename them without keep rules (the jar's {@code META-INF/proguard/wsgrpc-okhttp.pro} holds rules for grpc-okhttp
 * code only; examples' GreeterAppR8Test runs an app shrunk by R8). A class that starts to need reflection fails
 * here, and must then get rules in that file.
 */
class NoReflectionTest {

  private static final List<String> LOOKUPS = List.of("java/lang/reflect/", "forName", "getDeclaredMethod",
      "getDeclaredField", "getMethod", "java/util/ServiceLoader");

  @Test
  void noClassOfThisModuleUsesReflectionOrServiceLoader() throws IOException {
    Path classes = Paths.get("target", "classes", "dev", "wsgrpc", "okhttp");
    List<String> found = new ArrayList<>();
    int checked = 0;
    try (Stream<Path> files = Files.walk(classes)) {
      for (Path p : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".class"))::iterator) {
        checked++;
        // Constant-pool strings are stored as modified UTF-8, which is ASCII for these names.
        String bytes = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
        for (String lookup : LOOKUPS) {
          if (bytes.contains(lookup)) {
            found.add(classes.relativize(p) + ": " + lookup);
          }
        }
      }
    }
    assertTrue(checked > 10, "expected this module's classes under " + classes);
    assertEquals(List.of(), found, "reflection needs R8 keep rules in META-INF/proguard/");
  }
}
