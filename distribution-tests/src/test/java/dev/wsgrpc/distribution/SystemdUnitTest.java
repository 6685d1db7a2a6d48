package dev.wsgrpc.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.gateway.TunnelServerMain;
import dev.wsgrpc.testing.ExternalProgram;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** deploy/systemd/wsgrpc-gateway.service: systemd accepts it, rates it hardened, and lets a drain finish. */
class SystemdUnitTest {

  private static final Path UNIT = Maven.root().resolve("deploy/systemd/wsgrpc-gateway.service");

  @Test
  void stopTimeoutExceedsTheGatewaysDrainTimeout() throws Exception {
    Matcher m = Pattern.compile("(?m)^TimeoutStopSec=(\\d+)$").matcher(Files.readString(UNIT));
    assertTrue(m.find(), "the unit sets TimeoutStopSec");
    CommandLine gateway = new CommandLine(new TunnelServerMain());
    gateway.parseArgs();
    Duration drain = gateway.getCommandSpec().findOption("--drain-timeout").getValue();
    assertTrue(Long.parseLong(m.group(1)) > drain.toSeconds(),
        "systemd would SIGKILL the gateway before its drain timeout of " + drain);
  }

  @Test
  void exampleEnvironmentServesMetricsOnLoopbackOnly() throws Exception {
    // gateway.env's TUNNEL_X=v lines as the gateway reads them: --x v.
    java.util.List<String> args = new java.util.ArrayList<>();
    for (String line : Files.readAllLines(UNIT.resolveSibling("gateway.env"))) {
      Matcher m = Pattern.compile("^TUNNEL_([A-Z_]+)=(.*)$").matcher(line);
      if (m.matches()) {
        args.add("--" + m.group(1).toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        args.add(m.group(2));
      }
    }
    CommandLine gateway = new CommandLine(new TunnelServerMain());
    gateway.parseArgs(args.toArray(new String[0]));
    Integer admin = gateway.getCommandSpec().findOption("--admin-port").getValue();
    assertTrue(admin != null && admin > 0, "gateway.env keeps /metrics off the public port: " + args);
    assertEquals("127.0.0.1", gateway.getCommandSpec().findOption("--admin-address").getValue());
  }

  @Test
  void everyExampleLineOfTheEnvironmentFileIsAValueTheGatewayTakesOnceUncommented() throws Exception {
    // systemd takes everything after '=' as the value, comments included: an example uncommented must still work.
    java.util.List<String> args = new java.util.ArrayList<>();
    for (String line : Files.readAllLines(UNIT.resolveSibling("gateway.env"))) {
      Matcher m = Pattern.compile("^(?:# )?TUNNEL_([A-Z_]+)=(.*)$").matcher(line);
      if (m.matches()) {
        assertTrue(m.group(2).matches("\\S+"), "a value and nothing else: " + line);
        args.add("--" + m.group(1).toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        args.add(m.group(2));
      }
    }
    assertTrue(args.size() >= 2 * 6, "the examples: " + args);
    new CommandLine(new TunnelServerMain()).parseArgs(args.toArray(new String[0]));
  }

  @Test
  void theUnitDoesNotStartWithoutItsEnvironmentFile() throws Exception {
    // Without the file the gateway would start in demo mode, serving its test services to anyone.
    assertTrue(Files.readString(UNIT).contains("\nEnvironmentFile=/etc/wsgrpc/gateway.env\n"),
        "EnvironmentFile without '-': a missing file fails the start");
  }

  @Test
  void gatewayDocumentShowsTheUnitAsItIs() throws Exception {
    String unit = Files.readString(UNIT);
    String body = unit.substring(unit.indexOf("[Unit]")).strip();
    String doc = Files.readString(Maven.root().resolve("docs/GATEWAY.md"));
    assertTrue(doc.contains("```ini\n" + body + "\n```"), "docs/GATEWAY.md's systemd section differs from " + UNIT);
  }

  @Test
  void systemdAcceptsTheUnitAndRatesItsExposureLow(@TempDir Path dir) throws Exception {
    String analyze = ExternalProgram.requireInstalled("systemd-analyze", "systemd");
    Path copy = dir.resolve("wsgrpc-gateway.service");
    Files.copy(UNIT, copy);
    assertEquals("", run(dir, analyze, "verify", copy.toString()), "systemd-analyze verify finds nothing");
    // Exposure from 0 (locked down) to 10 (unprotected), the threshold in tenths: fails above 2.0 (now 1.7).
    run(dir, analyze, "security", "--offline=yes", "--threshold=20", copy.toString());
  }

  private static String run(Path dir, String... command) throws Exception {
    Path out = dir.resolve("out.txt");
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(out.toFile()).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    String output = Files.readString(out, StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), String.join(" ", command) + ":\n" + output);
    return output.strip();
  }
}
