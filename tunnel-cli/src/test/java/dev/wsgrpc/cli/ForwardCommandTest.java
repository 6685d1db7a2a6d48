package dev.wsgrpc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

/** {@code forward}: a listener it cannot open is reported with its address, and the command ends; a bad --to too. */
class ForwardCommandTest {

  @Test
  void aListenAddressInUseIsNamedInTheFailure() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      StringWriter err = new StringWriter();
      picocli.CommandLine cli = WsgrpcCli.commandLine(); // as the jar runs it
      cli.setErr(new PrintWriter(err));
      int exit = cli.execute("forward", "--listen", "127.0.0.1:" + taken.getLocalPort(), "--to",
          "ws://127.0.0.1:1/grpc");
      // It said "forward: Address already in use", without the address.
      assertEquals("1 forward: cannot listen on 127.0.0.1:" + taken.getLocalPort() + ": Address already in use\n",
          exit + " " + err.toString().replace(System.lineSeparator(), "\n"));
    }
  }

  @Test
  void aUrlThatIsNotAWebSocketOneIsRefusedUnderToItsFlag() {
    StringWriter err = new StringWriter();
    picocli.CommandLine cli = WsgrpcCli.commandLine(); // as the jar runs it
    cli.setErr(new PrintWriter(err));
    int exit = cli.execute("forward", "--to", "http://127.0.0.1:1/grpc");
    // It said "url: ...", a name forward has no option for.
    assertEquals("2 forward: --to: http://127.0.0.1:1/grpc (expected: a ws:// or wss:// URL)\n",
        exit + " " + err.toString().replace(System.lineSeparator(), "\n"));
  }
}
