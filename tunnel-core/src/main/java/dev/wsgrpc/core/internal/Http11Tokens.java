package dev.wsgrpc.core.internal;

import io.netty.util.concurrent.FastThreadLocal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/** The small pieces of RFC 6455 section 4 and RFC 9110 that both handshake sides need. */
public final class Http11Tokens {

  private static final byte[] ACCEPT_GUID =
      "258EAFA5-E914-47DA-95CA-C5AB0DC85B11".getBytes(StandardCharsets.US_ASCII);

  /** One SHA-1 per thread (event loops are long-lived): a lookup of the provider per handshake cost more. */
  private static final FastThreadLocal<MessageDigest> SHA1 = new FastThreadLocal<MessageDigest>() {
    @Override
    protected MessageDigest initialValue() throws NoSuchAlgorithmException {
      return MessageDigest.getInstance("SHA-1");
    }
  };

  /**
   * A fresh {@code Sec-WebSocket-Key}: 16 random bytes, base64, from the thread's {@link ThreadLocalRandom}.
   *
   * <p>RFC 6455 section 4.1 asks for a nonce "randomly selected" for each connection. It is no secret (it is sent
   * as it is, and answered in the clear): it only shows that the server read this very request (section 1.3), so
   * a fresh value per connection is all it needs. What an attacker must not predict is the masking key (section
   * 10.3), which {@link FrameMask#nextKey} draws from a strong generator. Netty's own client draws this nonce from
   * a thread-local generator too; the shared {@code SecureRandom} used before cost a lock per connection and,
   * under churn, a read of {@code /dev/urandom} every other one.
   */
  public static String newKey() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    byte[] nonce = new byte[16];
    long a = random.nextLong();
    long b = random.nextLong();
    for (int i = 0; i < 8; i++) {
      nonce[i] = (byte) (a >>> (i << 3));
      nonce[i + 8] = (byte) (b >>> (i << 3));
    }
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
    MessageDigest sha1 = SHA1.get();
    sha1.update(key.getBytes(StandardCharsets.US_ASCII));
    // digest() resets the instance for the next handshake on this thread.
    return Base64.getEncoder().encodeToString(sha1.digest(ACCEPT_GUID));
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
    return name != null && !name.isEmpty() && firstNonTokenChar(name) < 0;
  }

  /**
   * Where {@code name} stops being an HTTP token, for a refusal that must not quote it (it may be a pasted
   * credential): the character and its index, e.g. {@code "' ' at index 3"} or {@code "U+000A at index 1"}; null when
   * {@code name} is a token, null or empty.
   */
  public static String whereNotAToken(String name) {
    int i = name == null ? -1 : firstNonTokenChar(name);
    return i < 0 ? null : describeCharAt(name, i);
  }

  private static int firstNonTokenChar(String name) {
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
      if (!ok) {
        return i;
      }
    }
    return -1;
  }

  /** Whether {@code value} can be sent as a header value: visible Latin-1, spaces and tabs, no line breaks. */
  public static boolean isHeaderValue(String value) {
    return value != null && firstNonHeaderValueChar(value) < 0;
  }

  /**
   * Where {@code value} stops being a header value ({@link #isHeaderValue}), for a refusal that must not quote it
   * (any header's value may be a secret): the character and its index, e.g. {@code "U+000A at index 6"}; null when
   * {@code value} is one, or is null.
   */
  public static String whereNotAHeaderValue(String value) {
    int i = value == null ? -1 : firstNonHeaderValueChar(value);
    return i < 0 ? null : describeCharAt(value, i);
  }

  private static int firstNonHeaderValueChar(String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c != '\t' && (c < 0x20 || c == 0x7f || c > 0xff)) {
        return i;
      }
    }
    return -1;
  }

  /** {@code "'c' at index i"} for printable ASCII, else {@code "U+XXXX at index i"}: one character, never more. */
  private static String describeCharAt(String s, int i) {
    char c = s.charAt(i);
    return (c >= 0x20 && c < 0x7f ? "'" + c + "'" : String.format("U+%04X", (int) c)) + " at index " + i;
  }

  /**
   * {@code subprotocol} as errors and logs show it: a {@code bearer.<token>} one (a credential) as
   * {@code bearer.<redacted>}, any other as it is; null stays null.
   */
  public static String shownSubprotocol(String subprotocol) {
    return subprotocol != null && subprotocol.regionMatches(true, 0, "bearer.", 0, 7)
        ? subprotocol.substring(0, 7) + "<redacted>" : subprotocol;
  }

  /**
   * A value a peer sent (a path, a header, a method), as an answer or a log line may quote it: at most 64
   * characters (then {@code ...}), anything but printable ASCII as {@code ?}.
   */
  public static String printable(String value) {
    return printable(value, 64);
  }

  /**
   * As {@link #printable(String)}, with at most {@code maxChars} characters: for a log line that must keep a whole
   * path, say.
   */
  public static String printable(String value, int maxChars) {
    StringBuilder out = new StringBuilder(Math.min(value.length(), maxChars));
    for (int i = 0; i < value.length() && i < maxChars; i++) {
      char c = value.charAt(i);
      out.append(c >= 0x20 && c < 0x7f ? c : '?');
    }
    return value.length() > maxChars ? out.append("...").toString() : out.toString();
  }

  private Http11Tokens() {}
}
