package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class WsgrpcVersionTest {

  /** The build passes its own project.version to the test JVM (tunnel-core's pom). */
  private static final String BUILD_VERSION = System.getProperty("wsgrpc.build.version");

  @Test
  void versionIsTheProjectVersionOfTheBuild() {
    assertEquals(BUILD_VERSION, WsgrpcVersion.version());
  }

  @Test
  void userAgentIsProductSlashVersion() {
    assertEquals("wsgrpc-java/" + BUILD_VERSION, WsgrpcVersion.userAgent("wsgrpc-java"));
  }
}
