package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.BindException;
import org.junit.jupiter.api.Test;

class StartFailureTest {

  /** A port taken over epoll: grpc-java's words, then Netty's without the system call, on one line. */
  @Test
  void theCausesAreOneLineWithoutNettysSystemCall() {
    IOException taken = new IOException("Failed to bind to address /0.0.0.0:8080",
        new BindException("bind(..) failed with error(-98): Address already in use"));
    assertEquals("Failed to bind to address /0.0.0.0:8080: Address already in use", StartFailure.describe(taken));
  }
}
