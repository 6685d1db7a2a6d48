package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/** The same cases run on the OkHttp client's copy of the rule, in OkHttpWebSocketOptionsTest: keep them in step. */
class UrlRedactionTest {

  @Test
  void aUrlWithoutQueryFragmentOrUserInfoIsShownAsGiven() {
    assertEquals("wss://h.example:8443/grpc", UrlRedaction.redact("wss://h.example:8443/grpc"));
    assertEquals("ws://[::1]:8080/grpc", UrlRedaction.redact("ws://[::1]:8080/grpc"));
    assertEquals("ws://h", UrlRedaction.redact("ws://h"));
    assertNull(UrlRedaction.redact(null));
  }

  @Test
  void theQueryIsRedactedWhole() {
    assertEquals("ws://h/grpc?<redacted>", UrlRedaction.redact("ws://h/grpc?key=SECRET&x=1"));
    assertEquals("ws://h?<redacted>", UrlRedaction.redact("ws://h?key=SECRET"));
    assertEquals("ws://h/grpc?<redacted>", UrlRedaction.redact("ws://h/grpc?key=SECRET#x"));
    assertEquals("ws://h/grpc?<redacted>", UrlRedaction.redact("ws://h/grpc?next=http://x/y"));
  }

  @Test
  void theFragmentIsRedactedWhole() {
    assertEquals("ws://h/grpc#<redacted>", UrlRedaction.redact("ws://h/grpc#access_token=SECRET"));
    assertEquals("ws://h/grpc#<redacted>", UrlRedaction.redact("ws://h/grpc#f?key=SECRET"));
    assertEquals("ws://h#<redacted>", UrlRedaction.redact("ws://h#SECRET"));
  }

  @Test
  void userInfoIsRedactedUpToTheLastAtSign() {
    assertEquals("ws://<redacted>@h/grpc", UrlRedaction.redact("ws://user:pa@ss@h/grpc"));
    assertEquals("ws://<redacted>@h/grpc?<redacted>", UrlRedaction.redact("ws://u:p@h/grpc?key=SECRET"));
    assertEquals("ws://<redacted>@h/grpc#<redacted>", UrlRedaction.redact("ws://u:p@h/grpc#SECRET"));
    assertEquals("ws://<redacted>@[::1]:8080/grpc", UrlRedaction.redact("ws://u:SECRET@[::1]:8080/grpc"));
    assertEquals("wss://<redacted>@[2001:db8::1]/grpc?<redacted>",
        UrlRedaction.redact("wss://u:SECRET@[2001:db8::1]/grpc?k=v"));
  }

  @Test
  void userInfoHoldingASlashIsRedactedWholeAndSoIsAPathHoldingAnAtSign() {
    assertEquals("ws://<redacted>@host/grpc", UrlRedaction.redact("ws://user:pa/ss@host/grpc"));
    assertEquals("ws://<redacted>@host/grpc?<redacted>", UrlRedaction.redact("ws://user:pa/ss@host/grpc?k=v"));
    assertEquals("ws://<redacted>@b", UrlRedaction.redact("ws://h/a@b"));
  }

  @Test
  void anAtSignAfterAQuestionMarkOrHashRedactsEverythingAfterTheScheme() {
    // User info holding a '?' or '#', or a query or fragment holding an '@': the text cannot tell, so neither shows.
    assertEquals("ws://<redacted>", UrlRedaction.redact("ws://user:p?ss@host/grpc"));
    assertEquals("ws://<redacted>", UrlRedaction.redact("ws://user:p#ss@host/grpc"));
    assertEquals("ws://<redacted>", UrlRedaction.redact("ws://h/grpc?token=abc@SECRET"));
    assertEquals("ws://<redacted>", UrlRedaction.redact("ws://h/grpc?email=a@b.example&key=SECRET"));
    assertEquals("ws://<redacted>", UrlRedaction.redact("ws://h/grpc#access_token=abc@SECRET"));
    assertEquals("ws://<redacted>", UrlRedaction.redact("ws://u:p@h/grpc?e=a@b"));
  }

  @Test
  void textThatIsNoUriIsRedactedToo() {
    assertEquals("ws://<redacted>@h h/grpc?<redacted>", UrlRedaction.redact("ws://u:p@h h/grpc?key=SE CRET"));
    assertEquals("<redacted>@h?<redacted>", UrlRedaction.redact("u:p@h?k=v"));
    assertEquals("<redacted>@h/grpc", UrlRedaction.redact("u:p://x@h/grpc"));
    assertEquals("<redacted>", UrlRedaction.redact("u:p?x@h?next=ws://y"));
  }
}
