package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.Http11Tokens;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Reads the {@code for} parameters of RFC 7239 {@code Forwarded} header lines: one entry per element, in order across
 * every line, so that a chain can be walked from the right. An element that does not name exactly one {@code for}
 * in valid syntax (a missing or repeated {@code for}, a parameter that is not {@code token=value}, an empty element)
 * is an entry of {@code null}: the walk stops there. Commas and semicolons inside well-formed quoted strings do not
 * split.
 *
 * <p>Each line is split from its end, as the chain is walked: a proxy appends its element ({@code , for=...}) to
 * whatever the client sent, so the elements on the right must be read the same whatever stands left of them. A
 * quoted-string (RFC 7230 3.2.6, with {@code \} escapes) is therefore found from its closing quote back to its
 * opening one, and a quote counts as escaped when an odd run of backslashes precedes it: in a well-formed element
 * that finds exactly the quotes a reading from the left would, and it never looks past the element's own start. A
 * client's unclosed quote or trailing backslash ({@code for="x}) thus spoils only the client's own elements; it
 * cannot swallow the elements a proxy appended after it: {@code for="x, for="[2001:db8::7]:4711"} is an unreadable
 * element and then the proxy's {@code [2001:db8::7]:4711}, not one unreadable element that would stop the walk at the
 * proxy itself.
 */
final class ForwardedHeaderParser {

  /** The {@code for} value of each element, unquoted, or null for an element that names none validly. */
  static List<String> forChain(List<String> lines) {
    List<String> chain = new ArrayList<>();
    for (String line : lines) {
      for (String element : split(line, ',')) {
        chain.add(forOf(element));
      }
    }
    return chain;
  }

  private static String forOf(String element) {
    if (element.trim().isEmpty()) {
      return null;
    }
    String found = null;
    for (String pair : split(element, ';')) {
      String p = pair.trim();
      if (p.isEmpty()) {
        continue;
      }
      int eq = p.indexOf('=');
      if (!Http11Tokens.isToken(p.substring(0, Math.max(eq, 0)))) {
        return null;
      }
      String value = value(p.substring(eq + 1));
      if (value == null) {
        return null;
      }
      if (p.substring(0, eq).equalsIgnoreCase("for")) {
        if (found != null) {
          return null;
        }
        found = value;
      }
    }
    return found;
  }

  /**
   * A token as it is, a quoted string without its quotes and escapes, else null; an empty quoted string ({@code
   * for=""}) names no node, so it is null too.
   */
  private static String value(String raw) {
    if (raw.isEmpty()) {
      return null;
    }
    if (raw.charAt(0) != '"') {
      return Http11Tokens.isToken(raw) ? raw : null;
    }
    int end = closingQuote(raw, 0);
    if (end != raw.length() - 1) {
      return null;
    }
    StringBuilder b = new StringBuilder(raw.length());
    for (int i = 1; i < end; i++) {
      char c = raw.charAt(i);
      if (c == '\\') {
        c = raw.charAt(++i);
      }
      if (c < 0x20 && c != '\t' || c == 0x7f) {
        return null;
      }
      b.append(c);
    }
    return b.length() == 0 ? null : b.toString();
  }

  /**
   * Splits on {@code separator} outside quoted strings, reading from the end (see the class comment); keeps empty
   * parts, in their order.
   */
  private static List<String> split(String s, char separator) {
    List<String> parts = new ArrayList<>();
    int end = s.length();
    for (int i = s.length() - 1; i >= 0; i--) {
      char c = s.charAt(i);
      if (c == '"') {
        int open = openingQuote(s, i);
        if (open >= 0) {
          i = open;
        }
      } else if (c == separator) {
        parts.add(s.substring(i + 1, end));
        end = i;
      }
    }
    parts.add(s.substring(0, end));
    Collections.reverse(parts);
    return parts;
  }

  /**
   * For a quote at {@code close} that can close a quoted string (not escaped), the index of the nearest unescaped
   * quote before it, which opens that string; -1 if there is none, and the quote is an ordinary (invalid) character.
   * Linear overall: once a search fails, every quote before it is escaped and fails at once.
   */
  private static int openingQuote(String s, int close) {
    if (escaped(s, close)) {
      return -1;
    }
    for (int i = close - 1; i >= 0; i--) {
      if (s.charAt(i) == '"' && !escaped(s, i)) {
        return i;
      }
    }
    return -1;
  }

  /** Whether an odd run of backslashes precedes index {@code i}. */
  private static boolean escaped(String s, int i) {
    int run = 0;
    while (i - run - 1 >= 0 && s.charAt(i - run - 1) == '\\') {
      run++;
    }
    return (run & 1) == 1;
  }

  /**
   * The index of the quote that closes the one at {@code open}, honouring backslash escapes, read from the left; -1
   * if none. On a well-formed quoted string this is the quote {@link #openingQuote} pairs the other way.
   */
  private static int closingQuote(String s, int open) {
    for (int i = open + 1; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\') {
        i++;
      } else if (c == '"') {
        return i;
      }
    }
    return -1;
  }

  private ForwardedHeaderParser() {}
}
