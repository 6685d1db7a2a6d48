package dev.wsgrpc.core.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** The small pieces of RFC 6455 section 4 and RFC 9110 that both handshake sides need. */
public final class Http11Tokens {

  private static final String ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  private static final SecureRandom RANDOM = new SecureRandom();

  /** A fresh {@code Sec-WebSocket-Key}: 16 random bytes, base64. */
  public static String newKey() {
    byte[] nonce = new byte[16];
    RANDOM.nextBytes(nonce);
    return Base64.getEncoder().encodeToString(nonce);
  }

  /** Whether {@code key} is the base64 form of exactly 16 bytes, as RFC 6455 4.1 requires. */
  public static boolean isValidKey(String key) {
    if (key == null || key.length() != 24) {
      return false;
    }
    try {
      return Base64.getDecoder().decode(key).length == 16;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /** The {@code Sec-WebSocket-Accept} value that answers {@code key}. */
  public static String acceptFor(String key) {
    try {
      MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
      byte[] digest = sha1.digest((key + ACCEPT_GUID).getBytes(StandardCharsets.US_ASCII));
      return Base64.getEncoder().encodeToString(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-1", e);
    }
  }

  /** Splits comma-separated header values into trimmed, non-empty elements, in order. */
  public static List<String> elements(Iterable<String> headerValues) {
    List<String> out = new ArrayList<>();
    for (String value : headerValues) {
      for (String element : value.split(",")) {
        String trimmed = element.trim();
        if (!trimmed.isEmpty()) {
          out.add(trimmed);
        }
      }
    }
    return out;
  }

  /** Whether any comma-separated element of {@code headerValues} equals {@code token}, ignoring case. */
  public static boolean containsToken(Iterable<String> headerValues, String token) {
    for (String element : elements(headerValues)) {
      if (element.equalsIgnoreCase(token)) {
        return true;
      }
    }
    return false;
  }

  /** Whether {@code name} is an HTTP token (RFC 9110 5.6.2), usable as a header name or subprotocol. */
  public static boolean isToken(String name) {
    if (name == null || name.isEmpty()) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /** Whether {@code value} can be sent as a header value: visible ASCII, spaces and tabs, no line breaks. */
  public static boolean isHeaderValue(String value) {
    if (value == null) {
      return false;
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c != '\t' && (c < 0x20 || c == 0x7f || c > 0xff)) {
        return false;
      }
    }
    return true;
  }

  /** Header names whose values are secrets: never logged, never quoted in an error. */
  public static boolean isSensitive(String headerName) {
    String n = headerName.toLowerCase(java.util.Locale.ROOT);
    return n.equals("authorization") || n.equals("proxy-authorization") || n.equals("cookie")
        || n.equals("set-cookie") || n.contains("token") || n.contains("secret") || n.contains("api-key")
        || n.equals("sec-websocket-protocol");
  }

  private Http11Tokens() {}
}
