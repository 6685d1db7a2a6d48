package dev.wsgrpc.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code mvn deploy} publishes, checked the way a user receives it: the build's sources are copied aside and
 * deployed with {@code -DaltDeploymentRepository=local::file:...} (nothing is installed into the local
 * repository); then a consumer project (distribution-tests/consumer) is built against that file repository and
 * Maven Central only, in a local repository of its own that holds no wsgrpc artifact beforehand, and run.
 */
class PublishedArtifactsTest {

  private static final String GROUP_PATH = "dev/wsgrpc";
  private static final String APACHE_2 = "Apache License, Version 2.0";

  @TempDir
  static Path work;

  private static Path repository;
  private static String version;
  private static List<String> libraries;

  @BeforeAll
  static void deployTheLibrariesToAFileRepository() throws Exception {
    version = Maven.projectVersion();
    libraries = Pom.read(Maven.root().resolve("wsgrpc-bom/pom.xml")).managedArtifactIds();
    Path sources = work.resolve("sources");
    repository = work.resolve("repository");
    Maven.copySources(Maven.root(), sources);
    List<String> args = new ArrayList<>(List.of("-B", "deploy",
        "-pl", ":wsgrpc-bom," + libraries.stream().map(a -> ":" + a).collect(Collectors.joining(",")), "-am",
        "-Dmaven.test.skip=true", "-Djazzer.skip", "-Dmaven.install.skip=true",
        "-DaltDeploymentRepository=local::file:" + repository.toUri().getPath()));
    String localRepository = System.getProperty("wsgrpc.local.repository");
    if (localRepository != null && !localRepository.isEmpty() && !localRepository.startsWith("${")) {
      args.add("-Dmaven.repo.local=" + localRepository);
    }
    Maven.run(sources, work.resolve("deploy.log"), args.toArray(new String[0]));
  }

  @Test
  void everyLibraryIsPublishedWithSourcesJavadocAModuleNameAndTheBuildsVersion() throws IOException {
    assertFalse(libraries.isEmpty(), "the BOM lists the libraries");
    for (String artifact : libraries) {
      Path dir = repository.resolve(GROUP_PATH).resolve(artifact).resolve(version);
      Path jar = only(dir, artifact, ".jar");
      Path sources = only(dir, artifact, "-sources.jar");
      Path javadoc = only(dir, artifact, "-javadoc.jar");
      only(dir, artifact, ".pom");
      try (JarFile j = new JarFile(jar.toFile())) {
        Attributes main = j.getManifest().getMainAttributes();
        String moduleName = main.getValue("Automatic-Module-Name");
        assertNotNull(moduleName, artifact + " has an Automatic-Module-Name");
        assertTrue(moduleName.matches("dev\\.wsgrpc(\\.[a-z][a-z0-9]*)+"), artifact + ": " + moduleName);
        assertEquals(version, main.getValue("Implementation-Version"), artifact);
      }
      try (JarFile j = new JarFile(sources.toFile())) {
        assertTrue(j.stream().anyMatch(e -> e.getName().endsWith(".java")), artifact + " sources hold .java files");
      }
      try (JarFile j = new JarFile(javadoc.toFile())) {
        assertNotNull(j.getEntry("index.html"), artifact + " javadoc has an index.html");
        assertTrue(j.stream().noneMatch(e -> e.getName().contains("/internal/")),
            artifact + " javadoc leaves internal packages out");
      }
    }
  }

  @Test
  void onlyTheLibrariesTheirParentAndTheBomArePublished() throws IOException {
    Set<String> expected = new TreeSet<>(libraries);
    expected.add("wsgrpc-parent");
    expected.add("wsgrpc-bom");
    try (Stream<Path> published = Files.list(repository.resolve(GROUP_PATH))) {
      assertEquals(expected, published.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new)));
    }
  }

  @Test
  void everyModuleOutsideTheBomIsNeverDeployed() throws IOException {
    Pom parent = Pom.read(Maven.root().resolve("pom.xml"));
    for (String module : parent.texts("modules/module")) {
      Pom pom = Pom.read(Maven.root().resolve(module).resolve("pom.xml"));
      String artifact = pom.text("artifactId");
      boolean skipped = "true".equals(pom.text("properties/maven.deploy.skip"));
      if (artifact.equals("wsgrpc-bom")) {
        assertFalse(skipped, "the BOM is deployed");
      } else if (libraries.contains(artifact)) {
        assertFalse(skipped, artifact + " is in the BOM, so it is deployed");
      } else {
        assertTrue(skipped, artifact + " is not in wsgrpc-bom: its pom must set maven.deploy.skip (test, example and "
            + "tool modules are never deployed), or the BOM must list it");
      }
    }
  }

  @Test
  void publishedPomsNameTheLicenceHomeSourceAndDevelopers() throws IOException {
    for (String artifact : List.of("wsgrpc-parent", "wsgrpc-bom")) {
      Pom pom = Pom.read(only(repository.resolve(GROUP_PATH).resolve(artifact).resolve(version), artifact, ".pom"));
      assertEquals(APACHE_2, pom.text("licenses/license/name"), artifact);
      assertEquals("https://www.apache.org/licenses/LICENSE-2.0.txt", pom.text("licenses/license/url"), artifact);
      assertNotNull(pom.text("name"), artifact);
      assertNotNull(pom.text("description"), artifact);
      assertTrue(pom.text("url").startsWith("https://"), artifact);
      assertTrue(pom.text("scm/url").startsWith("https://"), artifact);
      assertTrue(pom.text("scm/connection").startsWith("scm:git:"), artifact);
      assertNotNull(pom.text("developers/developer/name"), artifact);
    }
    Pom bom = Pom.read(Maven.root().resolve("wsgrpc-bom/pom.xml"));
    assertEquals(version, bom.text("version"), "wsgrpc-bom has no parent: its version must follow the build's");
    for (String artifact : libraries) {
      Pom pom = Pom.read(only(repository.resolve(GROUP_PATH).resolve(artifact).resolve(version), artifact, ".pom"));
      assertEquals("wsgrpc-parent", pom.text("parent/artifactId"), artifact + " inherits the metadata");
      assertNotNull(pom.text("name"), artifact);
      assertNotNull(pom.text("description"), artifact);
    }
    assertTrue(Files.readString(Maven.root().resolve("LICENSE"), StandardCharsets.UTF_8)
        .contains("Apache License\n                           Version 2.0, January 2004"));
  }

  @Test
  void readmeGivesTheBuildsCoordinatesAndTestedVersions() throws IOException {
    String readme = Files.readString(Maven.root().resolve("README.md"), StandardCharsets.UTF_8);
    assertTrue(readme.contains("<artifactId>wsgrpc-bom</artifactId>\n      <version>" + version + "</version>"), "Maven");
    assertTrue(readme.contains("platform(\"dev.wsgrpc:wsgrpc-bom:" + version + "\")"), "Gradle");
    assertTrue(readme.contains("<artifactId>grpc-bom</artifactId>\n      <version>" + Maven.grpcVersion()), "grpc");
    assertTrue(readme.contains("platform(\"io.grpc:grpc-bom:" + Maven.grpcVersion() + "\")"), "grpc, Gradle");
    assertTrue(readme.contains("| grpc-java (`grpc-netty`) | " + Maven.grpcVersion() + " |"), "grpc tested");
    assertTrue(readme.contains("| Netty | " + System.getProperty("wsgrpc.netty.version") + " |"), "Netty tested");
    for (String artifact : libraries) {
      assertTrue(readme.contains("`" + artifact + "`"), "the README names " + artifact);
    }
  }

  @Test
  void aConsumerBuiltFromThePublishedRepositoryAloneMakesACallThroughATunnel() throws Exception {
    Path consumer = work.resolve("consumer");
    Maven.copySources(Maven.root().resolve("distribution-tests/consumer"), consumer);
    Path settings = work.resolve("consumer-settings.xml");
    Files.writeString(settings, "<settings>\n"
        + "  <profiles>\n"
        + "    <profile>\n"
        + "      <id>wsgrpc-deployed</id>\n"
        + "      <repositories>\n"
        + "        <repository>\n"
        + "          <id>wsgrpc-deployed</id>\n"
        + "          <url>" + repository.toUri() + "</url>\n"
        + "          <releases><enabled>true</enabled></releases>\n"
        + "          <snapshots><enabled>true</enabled></snapshots>\n"
        + "        </repository>\n"
        + "      </repositories>\n"
        + "    </profile>\n"
        + "  </profiles>\n"
        + "  <activeProfiles><activeProfile>wsgrpc-deployed</activeProfile></activeProfiles>\n"
        + "</settings>\n", StandardCharsets.UTF_8);
    // A local repository of the consumer's own, kept between runs so that Central's artifacts are downloaded once;
    // every wsgrpc artifact is removed first, so they can come from the deployed repository only. Locked: builds
    // of other checkouts on this machine may use it at the same time.
    Path local = Paths.get(System.getProperty("user.home"), ".cache", "wsgrpc", "consumer-repository");
    Files.createDirectories(local);
    String output;
    try (FileChannel lockFile = FileChannel.open(local.resolve(".lock"), StandardOpenOption.CREATE,
        StandardOpenOption.WRITE);
         FileLock lock = lockFile.lock()) {
      Maven.deleteTree(local.resolve(GROUP_PATH));
      output = Maven.run(consumer, work.resolve("consumer.log"), "-B", "-s", settings.toString(),
          "-Dmaven.repo.local=" + local, "-Dwsgrpc.version=" + version, "-Dgrpc.version=" + Maven.grpcVersion(),
          "compile", "exec:exec");
      assertTrue(Files.isDirectory(local.resolve(GROUP_PATH).resolve("tunnel-client").resolve(version)),
          "tunnel-client came from the deployed repository");
    }
    assertTrue(output.contains("consumer: health SERVING over ws://127.0.0.1:"), output);
  }

  /**
   * docs/ANDROID.md (Size) promises that the OkHttp client adds under 124 KiB to an app that has gRPC on OkHttp, and
   * the published jar is what an app adds (its dependencies are grpc-okhttp and OkHttp, which that app has).
   */
  @Test
  void theOkHttpClientJarAnAppAddsStaysUnder124KiB() throws IOException {
    String artifact = "tunnel-client-okhttp";
    Path jar = only(repository.resolve(GROUP_PATH).resolve(artifact).resolve(version), artifact, ".jar");
    long size = Files.size(jar);
    assertTrue(size < 124 * 1024, "expected the " + artifact + " jar under 126,976 bytes (124 KiB, docs/ANDROID.md) "
        + "but it was " + size);
  }

  /** The one file in {@code dir} named {@code artifact-<version or snapshot stamp><suffix>}. */
  private static Path only(Path dir, String artifact, String suffix) throws IOException {
    assertTrue(Files.isDirectory(dir), dir + " was deployed");
    List<Path> matches;
    try (Stream<Path> files = Files.list(dir)) {
      matches = files.filter(f -> {
        String name = f.getFileName().toString();
        if (!name.startsWith(artifact + "-") || !name.endsWith(suffix)) {
          return false;
        }
        String middle = name.substring(artifact.length() + 1, name.length() - suffix.length());
        return !middle.endsWith("-sources") && !middle.endsWith("-javadoc") && !middle.endsWith("-all");
      }).collect(Collectors.toList());
    }
    assertEquals(1, matches.size(), "one " + artifact + "*" + suffix + " in " + dir + ": " + matches);
    return matches.get(0);
  }
}
