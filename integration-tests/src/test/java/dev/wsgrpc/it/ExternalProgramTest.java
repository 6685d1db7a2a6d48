package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.ExternalProgram;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link ExternalProgram} leaves no program running when it fails to start one: the caller gets no object to close,
 * and a child process outlives the JVM (an nginx left on a port, a Python replica serving nothing).
 */
class ExternalProgramTest {

  /**
   * Ports for programs come from this JVM's block below the ephemeral range (surefire's fork number picks the block),
   * once each, so the other test JVM and every port-0 bind of either never take one meanwhile.
   */
  @Test
  void freePortsComeOnceEachFromThisJvmsBlockBelowTheEphemeralRange() throws Exception {
    String given = System.getProperty("wsgrpc.portBlock"); // the POM's, absent in an IDE's run
    assertTrue(given == null || given.matches("[0-9]+"), "wsgrpc.portBlock: '" + given + "' (expected a fork number)");
    int block = Integer.getInteger("wsgrpc.portBlock", 0) % 6;
    Set<Integer> ports = new HashSet<>();
    for (int i = 0; i < 50; i++) {
      int port = ExternalProgram.freePort();
      assertTrue(port >= 20_000 + block * 2_000 && port < 22_000 + block * 2_000, port + " in block " + block);
      ports.add(port);
      try (ServerSocket listener = new ServerSocket()) {
        listener.bind(new InetSocketAddress("127.0.0.1", port));
      }
    }
    assertEquals(50, ports.size(), "a port handed out twice: " + ports);
  }

  @Test
  void aProgramThatNeverListensIsKilledWhenTheWaitGivesUp() throws Exception {
    int port = ExternalProgram.freePort(); // nothing listens there
    ExternalProgram sleeper = ExternalProgram.start("sleep", "sleep", "600");
    try {
      AssertionError e = assertThrows(AssertionError.class,
          () -> sleeper.awaitListening(port, Duration.ofMillis(300)));
      assertTrue(e.getMessage().startsWith("sleep did not listen on " + port + " within PT0.3S"), e.getMessage());
      assertTrue(sleeper.process().waitFor(30, TimeUnit.SECONDS), "the program was left running");
    } finally {
      sleeper.close();
    }
  }
}
