package dev.wsgrpc.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every Java block of the root README compiles against this build's libraries, so that an API change cannot leave
 * the first code a reader copies behind. Each block becomes the body of a method whose parameters stand for what the
 * README leaves to the reader ({@code tokens}, {@code password}, {@code token}, a {@code GreeterImpl}).
 */
class ReadmeSnippetsTest {

  private static final String IMPORTS = String.join("\n",
      "import dev.wsgrpc.client.*;",
      "import dev.wsgrpc.core.*;",
      "import dev.wsgrpc.server.*;",
      "import dev.wsgrpc.examples.hello.proto.GreeterGrpc;",
      "import io.grpc.Grpc;",
      "import io.grpc.ManagedChannel;",
      "import io.grpc.Server;",
      "import java.io.File;",
      "import java.time.Duration;",
      "import java.util.List;",
      "import java.util.Map;",
      "import java.util.concurrent.TimeUnit;");

  @Test
  void everyJavaBlockOfTheRootReadmeCompiles(@TempDir Path out) throws IOException {
    List<String> blocks = javaBlocks(Files.readAllLines(Path.of("..", "README.md")));
    assertTrue(blocks.size() >= 3, "expected the README's client and server blocks but found " + blocks.size());
    List<JavaFileObject> sources = new ArrayList<>();
    for (int i = 0; i < blocks.size(); i++) {
      sources.add(source("Snippet" + i, IMPORTS + "\n"
          + "class Snippet" + i + " {\n"
          + "  interface Tokens { String current(); }\n"
          + "  static class GreeterImpl extends GreeterGrpc.GreeterImplBase {}\n"
          + "  void run(Tokens tokens, String password, String token) throws Exception {\n"
          + blocks.get(i) + "\n"
          + "  }\n"
          + "}\n"));
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    assertNotNull(javac, "a JDK, not a JRE, runs the tests");
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, Locale.ROOT, null)) {
      StringWriter output = new StringWriter();
      boolean compiled = javac.getTask(output, files, diagnostics,
          List.of("-d", out.toString(), "-classpath", classPath(), "-proc:none"), null, sources).call();
      String errors = diagnostics.getDiagnostics().stream()
          .filter(d -> d.getKind() == Diagnostic.Kind.ERROR)
          .map(d -> (d.getSource() == null ? "" : d.getSource().getName() + ":" + d.getLineNumber() + ": ")
              + d.getMessage(Locale.ROOT))
          .collect(Collectors.joining("\n"));
      assertEquals("", errors, "README.md's Java blocks must compile; " + output);
      assertTrue(compiled, output.toString());
    }
  }

  /** The lines between each opening fence with {@code java} and its closing fence. */
  static List<String> javaBlocks(List<String> lines) {
    List<String> blocks = new ArrayList<>();
    StringBuilder block = null;
    for (String line : lines) {
      if (block == null) {
        if (line.trim().equals("```java")) {
          block = new StringBuilder();
        }
      } else if (line.trim().equals("```")) {
        blocks.add(block.toString());
        block = null;
      } else {
        block.append(line).append('\n');
      }
    }
    return blocks;
  }

  /** The test's class path for javac: the JVM's, and Surefire's own list of it (the same entries, harmless). */
  private static String classPath() {
    return System.getProperty("java.class.path") + File.pathSeparator
        + System.getProperty("surefire.test.class.path", "");
  }

  private static JavaFileObject source(String className, String code) {
    return new SimpleJavaFileObject(URI.create("string:///" + className + ".java"), JavaFileObject.Kind.SOURCE) {
      @Override
      public CharSequence getCharContent(boolean ignoreEncodingErrors) {
        return code;
      }
    };
  }
}
