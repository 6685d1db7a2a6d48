package dev.wsgrpc.server;

import dev.wsgrpc.core.internal.Http11Tokens;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the {@code for} parameters of RFC 7239 {@code Forwarded} header lines: one entry per element, in order across
 * every line, so that a chain can be walked from the right. An element that does not name exactly one {@code for}
 * in valid syntax (a missing or repeated {@code for}, a parameter that is not {@code token=value}, an empty element)
 * is an entry of {@code null}: the walk stops there. Commas and semicolons inside well-formed quoted strings do not
 * split; a quote that is never closed is an ordinary (invalid) character, so it cannot swallow the elements a proxy
 * appended after it.
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

  /** Splits on {@code separator} outside well-formed quoted strings; keeps empty parts. */
  private static List<String> split(String s, char separator) {
    List<String> parts = new ArrayList<>();
    int start = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"') {
        int end = closingQuote(s, i);
        if (end > 0) {
          i = end;
        }
      } else if (c == separator) {
        parts.add(s.substring(start, i));
        start = i + 1;
      }
    }
    parts.add(s.substring(start));
    return parts;
  }

  /** The index of the quote that closes the one at {@code open}, honouring backslash escapes; -1 if none. */
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
