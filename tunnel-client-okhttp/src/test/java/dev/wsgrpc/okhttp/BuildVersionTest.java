package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BuildVersionTest {

  @Test
  void versionIsFilledInByTheBuild() {
    assertTrue(BuildVersion.VERSION.matches("\\d+\\.\\d+\\.\\d+([-.][A-Za-z0-9.-]+)?"), BuildVersion.VERSION);
  }
}
