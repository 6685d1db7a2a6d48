package dev.wsgrpc.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Http11TokensTest {

  @Test
  void acceptForMatchesTheRfc6455Section13Example() {
    assertEquals("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", Http11Tokens.acceptFor("dGhlIHNhbXBsZSBub25jZQ=="));
  }

  @Test
  void newKeyIsSixteenRandomBytesInBase64() {
    String a = Http11Tokens.newKey();
    String b = Http11Tokens.newKey();
    assertEquals(24, a.length());
    assertEquals(16, Base64.getDecoder().decode(a).length);
    assertTrue(Http11Tokens.isValidKey(a));
    assertNotEquals(a, b, "every handshake gets a fresh nonce");
  }

  @Test
  void isValidKeyAcceptsSixteenBytesInBase64() {
    assertTrue(Http11Tokens.isValidKey("dGhlIHNhbXBsZSBub25jZQ=="));
    assertTrue(Http11Tokens.isValidKey("AAAAAAAAAAAAAAAAAAAAAA=="));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "",
      "dGhlIHNhbXBsZQ==",               // 10 bytes
      "dGhlIHNhbXBsZSBub25jZQ=",        // padding cut
      "dGhlIHNhbXBsZSBub25jZQ===",      // too long
      "AAAAAAAAAAAAAAAAAAAAAAAA",       // 24 characters but 18 bytes
      "!!!!!!!!!!!!!!!!!!!!!!==",       // not base64
      " dGhlIHNhbXBsZSBub25jZQ=",       // whitespace
      "dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==",
  })
  void isValidKeyRejectsOtherLengthsAndGarbage(String key) {
    assertFalse(Http11Tokens.isValidKey(key), key);
  }

  @Test
  void isValidKeyRejectsNull() {
    assertFalse(Http11Tokens.isValidKey(null));
  }

  @Test
  void elementsSplitsCommaListsAcrossHeaderLines() {
    assertEquals(Arrays.asList("keep-alive", "Upgrade", "x"),
        Http11Tokens.elements(Arrays.asList(" keep-alive ,Upgrade", ", ,", "x,")));
    assertEquals(Collections.emptyList(), Http11Tokens.elements(Collections.emptyList()));
  }

  @Test
  void containsTokenMatchesCommaListElementsIgnoringCase() {
    assertTrue(Http11Tokens.containsToken(List.of("Upgrade"), "upgrade"));
    assertTrue(Http11Tokens.containsToken(List.of("keep-alive, UPGRADE"), "upgrade"));
    assertTrue(Http11Tokens.containsToken(List.of("keep-alive", "Upgrade"), "upgrade"));
    assertTrue(Http11Tokens.containsToken(List.of("WebSocket"), "websocket"));
  }

  @Test
  void containsTokenDoesNotMatchPartsOfElements() {
    assertFalse(Http11Tokens.containsToken(List.of("Upgrade-Insecure-Requests"), "upgrade"));
    assertFalse(Http11Tokens.containsToken(List.of("keep-alive upgrade"), "upgrade"));
    assertFalse(Http11Tokens.containsToken(List.of("websocket2"), "websocket"));
    assertFalse(Http11Tokens.containsToken(Collections.emptyList(), "upgrade"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"wsgrpc.v1", "Authorization", "X-Api-Key", "a", "!#$%&'*+-.^_`|~09AZaz"})
  void isTokenAcceptsRfc9110Tokens(String name) {
    assertTrue(Http11Tokens.isToken(name), name);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "a b", "a,b", "a/b", "a:b", "a\"b", "(a)", "a;b", "a=b", "[a]", "{a}", "a\tb",
      "caf\u00e9", "a\nb"})
  void isTokenRejectsSeparatorsAndNonAscii(String name) {
    assertFalse(Http11Tokens.isToken(name), name);
  }

  @Test
  void isTokenRejectsNull() {
    assertFalse(Http11Tokens.isToken(null));
  }

  @Test
  void isHeaderValueAcceptsVisibleTextSpacesAndTabs() {
    assertTrue(Http11Tokens.isHeaderValue("Bearer abc.def-ghi"));
    assertTrue(Http11Tokens.isHeaderValue("a\tb c"));
    assertTrue(Http11Tokens.isHeaderValue(""));
    assertTrue(Http11Tokens.isHeaderValue("caf\u00e9"), "obs-text (0x80-0xff) is allowed");
  }

  @ParameterizedTest
  @ValueSource(strings = {"a\nb", "a\rb", "a\r\nX-Injected: 1", "\u0000", "\u007f", "\u0100", "\u2028"})
  void isHeaderValueRejectsLineBreaksAndControlCharacters(String value) {
    assertFalse(Http11Tokens.isHeaderValue(value));
  }

  @Test
  void isHeaderValueRejectsNull() {
    assertFalse(Http11Tokens.isHeaderValue(null));
  }

  @Test
  void whereNotAHeaderValueNamesOnlyTheFirstBadCharacterAndItsIndex() {
    assertEquals("U+0001 at index 6", Http11Tokens.whereNotAHeaderValue("SECRET\u0001TOKEN"));
    assertEquals("U+000D at index 1", Http11Tokens.whereNotAHeaderValue("a\r\nb"));
    assertEquals("U+007F at index 0", Http11Tokens.whereNotAHeaderValue("\u007f"));
    assertEquals("U+4E2D at index 2", Http11Tokens.whereNotAHeaderValue("ab\u4e2d"));
    assertNull(Http11Tokens.whereNotAHeaderValue("caf\u00e9\tok"));
    assertNull(Http11Tokens.whereNotAHeaderValue(null));
  }

  @Test
  void whereNotATokenNamesOnlyTheFirstBadCharacterAndItsIndex() {
    assertEquals("' ' at index 3", Http11Tokens.whereNotAToken("Bad Name"));
    assertEquals("'/' at index 9", Http11Tokens.whereNotAToken("bearer.ab/cd=="));
    assertEquals("U+000A at index 1", Http11Tokens.whereNotAToken("X\nY"));
    assertNull(Http11Tokens.whereNotAToken("X-Auth-Key"));
    assertNull(Http11Tokens.whereNotAToken(""));
    assertNull(Http11Tokens.whereNotAToken(null));
  }
}
