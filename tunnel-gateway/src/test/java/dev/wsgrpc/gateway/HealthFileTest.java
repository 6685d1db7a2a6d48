package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HealthFileTest {

  @Test
  void aWildcardAddressIsDialedOnLoopbackAndASpecificOneAsItIs() throws IOException {
    assertEquals(URI.create("http://127.0.0.1:8080/healthz"), HealthFile.url("0.0.0.0", 8080, false));
    assertEquals(URI.create("https://127.0.0.1:8443/healthz"), HealthFile.url("::", 8443, true));
    assertEquals(URI.create("http://10.1.2.3:9090/healthz"), HealthFile.url("10.1.2.3", 9090, false));
    assertEquals(URI.create("http://[0:0:0:0:0:0:0:1]:9090/healthz"), HealthFile.url("::1", 9090, false));
  }

  @Test
  void whatIsWrittenIsReadBackAndReplacedWhole(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("health");
    HealthFile.write(file, URI.create("http://127.0.0.1:8080/healthz"));
    HealthFile.write(file, URI.create("https://[0:0:0:0:0:0:0:1]:8443/healthz"));
    assertEquals(URI.create("https://[0:0:0:0:0:0:0:1]:8443/healthz"), HealthFile.read(file));
    try (var files = Files.list(dir)) {
      assertEquals(1, files.count(), "no temporary file left beside it");
    }
    HealthFile.delete(file);
    assertFalse(Files.exists(file));
    HealthFile.delete(file); // twice: nothing to delete, no failure
  }

  @Test
  void aMissingOrGarbledFileSaysWhatIsWrong(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("health");
    IOException missing = assertThrows(IOException.class, () -> HealthFile.read(file));
    assertEquals(file + " is missing: the gateway is not listening (yet)", missing.getMessage());
    Files.write(file, "localhost:8080\n".getBytes(StandardCharsets.US_ASCII));
    IOException garbled = assertThrows(IOException.class, () -> HealthFile.read(file));
    assertEquals(file + ": expected the URL of /healthz but was 'localhost:8080'", garbled.getMessage());
    Files.write(file, "ftp://127.0.0.1:21/healthz\n".getBytes(StandardCharsets.US_ASCII));
    assertTrue(assertThrows(IOException.class, () -> HealthFile.read(file)).getMessage().contains("ftp://"));
  }
}
