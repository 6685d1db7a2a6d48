package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.ExternalProgram;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link ExternalProgram} leaves no program running when it fails to start one: the caller gets no object to close,
 * and a child process outlives the JVM (an nginx left on a port, a Python replica serving nothing).
 */
class ExternalProgramTest {

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
