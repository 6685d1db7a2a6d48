package dev.wsgrpc.client;

import dev.wsgrpc.testing.LibraryContents;
import org.junit.jupiter.api.Test;

/** The client library ships no CLI (tunnel-cli), no logging configuration and none of their dependencies. */
class LibraryContentsTest {

  @Test
  void jarHoldsOnlyLibraryClassesAndNoGatewayOrCliDependencyIsOnTheClasspath() {
    LibraryContents.assertLibraryOnly(WebSocketChannels.class, "dev.wsgrpc.client");
  }
}
