package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class OriginsTest {

  @Test
  void sameHostAndPortIsTheSameSite() {
    assertTrue(Origins.sameOrigin("https://app.example.com", "app.example.com"));
    assertTrue(Origins.sameOrigin("https://App.Example.com", "app.example.COM:443"));
    assertTrue(Origins.sameOrigin("http://app.example.com:8080", "app.example.com:8080"));
    assertTrue(Origins.sameOrigin("http://[::1]:8080", "[::1]:8080"));
    assertTrue(Origins.sameOrigin("https://app.example.com", "app.example.com"), "a TLS-terminating proxy: http");
  }

  @Test
  void anotherHostPortOrAnUnreadableOriginIsAnotherSite() {
    assertFalse(Origins.sameOrigin("https://evil.example.net", "app.example.com"));
    assertFalse(Origins.sameOrigin("https://app.example.com.evil.net", "app.example.com"));
    assertFalse(Origins.sameOrigin("https://app.example.com:8443", "app.example.com"));
    assertFalse(Origins.sameOrigin("http://app.example.com", "app.example.com:8080"));
    assertFalse(Origins.sameOrigin("null", "app.example.com"));
    assertFalse(Origins.sameOrigin("file://", "app.example.com"));
    assertFalse(Origins.sameOrigin("https://app.example.com", null));
    assertFalse(Origins.sameOrigin(null, "app.example.com"));
    assertFalse(Origins.sameOrigin("https://app example.com", "app.example.com"));
  }
}
