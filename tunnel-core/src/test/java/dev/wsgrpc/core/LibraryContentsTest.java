package dev.wsgrpc.core;

import dev.wsgrpc.testing.LibraryContents;
import org.junit.jupiter.api.Test;

/** The shared frame layer ships no application code, no logging configuration and none of their dependencies. */
class LibraryContentsTest {

  @Test
  void jarHoldsOnlyLibraryClassesAndNoGatewayOrCliDependencyIsOnTheClasspath() {
    LibraryContents.assertLibraryOnly(WebSocketTunnel.class, "dev.wsgrpc.core");
  }
}
