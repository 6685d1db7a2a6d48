package dev.wsgrpc.examples.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.ExternalProgram;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The chat room's web page: a member in Chromium (Debian's chromium driven by playwright-core from
 * {@code browser-tests/}, never a downloaded browser) and a member in the terminal client see each other's lines.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ChatPageTest {

  private static final Path BROWSER_TESTS = Paths.get("..", "browser-tests").toAbsolutePath().normalize();

  private static void npm(String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("npm"));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).directory(BROWSER_TESTS.toFile()).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(process.waitFor(10, TimeUnit.MINUTES), "npm " + args[0] + " did not finish");
    Assumptions.assumeTrue(process.exitValue() == 0, "npm " + String.join(" ", args)
        + " failed (no registry?); skipping the chat page:\n" + output);
  }

  @Test
  void aMemberInChromiumAndAMemberInTheTerminalSeeEachOther() throws Exception {
    ExternalProgram.requireInstalled("node", "nodejs");
    ExternalProgram.requireInstalled("npm", "npm");
    ExternalProgram.requireInstalled("chromium", "chromium");
    if (!Files.exists(BROWSER_TESTS.resolve("node_modules/playwright-core/package.json"))) {
      npm("ci", "--no-audit", "--no-fund");
    }
    try (ChatServer server = ChatServer.start(0)) {
      try (ChatTerminal alice = ChatTerminal.open("ws://localhost:" + server.port() + "/grpc", "lobby", "alice")) {
        alice.expect("* you joined #lobby as alice");
        Process page = new ProcessBuilder("node", "chat-driver.mjs", "--page",
            "http://127.0.0.1:" + server.port() + "/", "--room", "lobby", "--name", "page",
            "--await", "<alice> hi from the terminal", "--say", "hi from the browser")
            .directory(BROWSER_TESTS.toFile()).redirectErrorStream(true).start();
        alice.expect("* page joined");
        alice.type("hi from the terminal");
        alice.expect("<page> hi from the browser");
        String output = new String(page.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(page.waitFor(60, TimeUnit.SECONDS), "the page driver did not finish");
        assertEquals(0, page.exitValue(), output);
        List<String> seen = new ArrayList<>();
        for (String line : output.split("\n")) {
          if (line.startsWith("PAGE\t")) {
            seen.add(line.substring(5));
          }
        }
        assertEquals(List.of("* you joined #lobby as page (here: alice, page)", "<alice> hi from the terminal",
            "<page> hi from the browser"), seen, output);
      }
    }
  }
}
