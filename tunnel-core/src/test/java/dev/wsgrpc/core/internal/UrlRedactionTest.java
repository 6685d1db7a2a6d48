package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

class UrlRedactionTest {

  @Test
  void aUrlWithoutQueryOrUserInfoIsShownAsGiven() {
    assertEquals("wss://h.example:8443/grpc", UrlRedaction.redact("wss://h.example:8443/grpc"));
    assertEquals("ws://h/grpc#frag", UrlRedaction.redact("ws://h/grpc#frag"));
    assertNull(UrlRedaction.redact(null));
  }

  @Test
  void theQueryIsRedactedWhole() {
    assertEquals("ws://h/grpc?<redacted>", UrlRedaction.redact("ws://h/grpc?key=SECRET&x=1"));
    assertEquals("ws://h?<redacted>", UrlRedaction.redact("ws://h?key=SECRET"));
    assertEquals("ws://h/grpc#f?<redacted>", UrlRedaction.redact("ws://h/grpc#f?key=SECRET"));
  }

  @Test
  void userInfoIsRedactedUpToTheLastAtSignOfTheAuthority() {
    assertEquals("ws://<redacted>@h/grpc", UrlRedaction.redact("ws://user:pa@ss@h/grpc"));
    assertEquals("ws://<redacted>@h/grpc?<redacted>", UrlRedaction.redact("ws://u:p@h/grpc?key=SECRET"));
    assertEquals("ws://h/a@b", UrlRedaction.redact("ws://h/a@b"));
  }

  @Test
  void textThatIsNoUriIsRedactedToo() {
    assertEquals("ws://<redacted>@h h/grpc?<redacted>", UrlRedaction.redact("ws://u:p@h h/grpc?key=SE CRET"));
    assertEquals("<redacted>@h?<redacted>", UrlRedaction.redact("u:p@h?k=v"));
  }
}
