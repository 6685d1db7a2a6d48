package dev.wsgrpc.distribution;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The gateway's start-up lines, read from the file its output goes to. */
final class StartupLines {

  /** The line naming the tunnel URL, with the port the gateway listens on (from 0 or not). */
  static final Pattern DIAL = Pattern.compile(", dial ws://[^:/]+:(\\d+)/");

  /** The line naming the admin listener, with its port. */
  static final Pattern ADMIN = Pattern.compile("admin listener on http://[^:/]+:(\\d+)");

  private StartupLines() {}

  /**
   * Waits until {@code log} holds a line that {@code line} matches and returns the port it names; fails with the
   * output if {@code gateway} exits first or a minute passes.
   */
  static int awaitPort(Process gateway, Pattern line, Path log) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    long pause = 10;
    while (true) {
      String output = Files.readString(log, StandardCharsets.UTF_8);
      Matcher m = line.matcher(output);
      if (m.find()) {
        return Integer.parseInt(m.group(1));
      }
      if (!gateway.isAlive() || System.nanoTime() > deadline) {
        throw new AssertionError("the gateway printed no line matching '" + line + "' within 60 s (alive: "
            + gateway.isAlive() + "):\n" + output);
      }
      Thread.sleep(pause);
      pause = Math.min(pause * 2, 200);
    }
  }
}
