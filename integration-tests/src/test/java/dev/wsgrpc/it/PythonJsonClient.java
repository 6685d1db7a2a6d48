package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.ExternalProgram;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A JSON-over-WebSocket ({@code wsgrpc-json}) client without protobuf code: Python's {@code websockets} (Debian
 * python3-websockets) running {@code src/test/resources/python/json_ws_client.py}.
 */
final class PythonJsonClient {

  /**
   * Calls {@code url}, sending {@code metadata} (a JSON object, or {@code null}) and each message of
   * {@code messages} (a JSON array), then the half-close; returns what it printed: {@code subprotocol ...}, each text
   * message the server sent, {@code close CODE}. With {@code origin} non-null, sends that {@code Origin}.
   */
  static List<String> call(String url, String metadata, String messages, String origin) throws Exception {
    String python = ExternalProgram.requirePythonWithGrpc();
    Process probe = new ProcessBuilder(python, "-c", "import websockets").redirectErrorStream(true).start();
    probe.getInputStream().readAllBytes();
    Assumptions.assumeTrue(probe.waitFor(60, TimeUnit.SECONDS) && probe.exitValue() == 0,
        "python3-websockets is not installed (apt-get install python3-websockets); .ci/run installs it. Skipping.");
    File script = Paths.get("src", "test", "resources", "python", "json_ws_client.py").toFile();
    List<String> command = new ArrayList<>(List.of(python, script.getPath(), url, metadata, messages));
    if (origin != null) {
      command.add(origin);
    }
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(process.waitFor(120, TimeUnit.SECONDS), "the Python client did not finish");
    assertEquals(0, process.exitValue(), output);
    return Arrays.asList(output.strip().split("\n"));
  }

  private PythonJsonClient() {}
}
