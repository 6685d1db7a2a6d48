package dev.wsgrpc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code probe}: values it cannot measure with are refused before anything is dialled, saying what was expected. */
class ProbeCommandTest {

  /** Runs {@code probe ARGS} in this JVM as the jar does; returns its exit code and what it printed on stderr. */
  private static String run(String... args) {
    StringWriter err = new StringWriter();
    CommandLine cli = WsgrpcCli.commandLine();
    cli.setErr(new PrintWriter(err));
    int exit = cli.execute(args);
    return exit + " " + err.toString().replace(System.lineSeparator(), "\n");
  }

  @Test
  void callsAndMessageSizeOutOfRangeAreRefusedWithTheValueAndWhatWasExpected() {
    assertEquals("2 probe: --calls: 0 (expected: > 0)\n", run("probe", "ws://127.0.0.1:1/grpc", "--calls", "0"));
    assertEquals("2 probe: --message-size: -1 (expected: 1 to 67108864)\n",
        run("probe", "ws://127.0.0.1:1/grpc", "--message-size", "-1"));
    // Built in memory before the upload: this size ended the command with an OutOfMemoryError and exit code 1.
    assertEquals("2 probe: --message-size: 2147483647 (expected: 1 to 67108864)\n",
        run("probe", "ws://127.0.0.1:1/grpc", "--message-size", "2147483647"));
  }

  /**
   * A value picocli cannot read, or an option it does not know, gets one line and where the command's options are
   * described (with picocli's suggestions for a mistyped option), not the whole usage, where the line scrolled away.
   */
  @Test
  void anUnreadableValueOrUnknownOptionGetsItsLineAndWhereTheOptionsAre() {
    String hint = "Run 'java -jar wsgrpc-cli.jar probe --help' for the options.\n";
    assertEquals("2 Invalid value for option '--calls': 'many' is not an int\n" + hint,
        run("probe", "ws://127.0.0.1:1/grpc", "--calls", "many"));
    assertEquals("2 Unknown option: '--call=3'\nPossible solutions: --calls\n" + hint,
        run("probe", "ws://127.0.0.1:1/grpc", "--call=3"));
    assertEquals("2 expected a command: forward, probe or interop\n"
        + "Run 'java -jar wsgrpc-cli.jar --help' for the options.\n", run());
  }
}
