package dev.wsgrpc.server;

import dev.wsgrpc.testing.LibraryContents;
import org.junit.jupiter.api.Test;

/** The server library ships no gateway (tunnel-gateway), no logging configuration and none of their dependencies. */
class LibraryContentsTest {

  @Test
  void jarHoldsOnlyLibraryClassesAndNoGatewayOrCliDependencyIsOnTheClasspath() {
    LibraryContents.assertLibraryOnly(WebSocketServers.class, "dev.wsgrpc.server");
  }
}
