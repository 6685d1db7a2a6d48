package dev.wsgrpc.distribution;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Runs the Maven that runs this build (its {@code maven.home}) as a separate process, with the JDK of this test,
 * its output kept in a file and shown when it fails.
 */
final class Maven {

  private static final Set<String> NOT_SOURCES = Set.of("target", ".git", "node_modules", ".idea");

  /** The checkout this build runs in (the reactor's root). */
  static Path root() {
    return Paths.get(property("wsgrpc.root")).toAbsolutePath().normalize();
  }

  /** The version the build is building. */
  static String projectVersion() {
    return property("wsgrpc.build.version");
  }

  static String grpcVersion() {
    return property("wsgrpc.grpc.version");
  }

  /** Runs {@code mvn args} in {@code dir} and returns its output; fails with the output's end if it fails. */
  static String run(Path dir, Path log, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(Paths.get(property("wsgrpc.maven.home"), "bin", "mvn").toString());
    command.addAll(Arrays.asList(args));
    ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile())
        .redirectErrorStream(true).redirectOutput(log.toFile());
    builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
    builder.environment().remove("MAVEN_ARGS");
    Process process = builder.start();
    if (!process.waitFor(10, TimeUnit.MINUTES)) {
      process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      throw new AssertionError("mvn " + String.join(" ", args) + " still running after 10 minutes:\n" + tail(log));
    }
    String output = Files.readString(log, StandardCharsets.UTF_8);
    if (process.exitValue() != 0) {
      throw new AssertionError("mvn " + String.join(" ", args) + " in " + dir + " exited with "
          + process.exitValue() + ":\n" + tail(log));
    }
    return output;
  }

  /** Copies the checkout's sources (no build output, no VCS data) to {@code target}. */
  static void copySources(Path from, Path target) throws IOException {
    Files.walkFileTree(from, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
        if (!dir.equals(from) && NOT_SOURCES.contains(dir.getFileName().toString())) {
          return FileVisitResult.SKIP_SUBTREE;
        }
        Files.createDirectories(target.resolve(from.relativize(dir).toString()));
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        if (attrs.isRegularFile()) {
          Files.copy(file, target.resolve(from.relativize(file).toString()), StandardCopyOption.COPY_ATTRIBUTES);
        }
        return FileVisitResult.CONTINUE;
      }
    });
  }

  /** Deletes {@code dir} and everything under it, if it exists. */
  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    Files.walkFileTree(dir, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.delete(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
        Files.delete(d);
        return FileVisitResult.CONTINUE;
      }
    });
  }

  private static String tail(Path log) throws IOException {
    List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 80), lines.size()));
  }

  private static String property(String name) {
    String value = System.getProperty(name);
    if (value == null || value.isEmpty() || value.startsWith("${")) {
      throw new AssertionError("system property " + name + " is not set: run this test through Maven "
          + "(distribution-tests/pom.xml passes it)");
    }
    return value;
  }

  private Maven() {}
}
