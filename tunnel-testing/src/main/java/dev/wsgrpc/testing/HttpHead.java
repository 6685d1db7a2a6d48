package dev.wsgrpc.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** A raw HTTP/1.1 request or response as a test reads it off the wire: start line, headers, and what follows. */
public final class HttpHead {
  /** The text as given. */
  public final String raw;
  /** The request line or status line. */
  public final String startLine;
  /** Header values by lower-case name, in order. */
  public final Map<String, List<String>> headers = new LinkedHashMap<>();
  /** Everything after the blank line. */
  public final String body;

  /** Parses {@code raw}; fails the test when it holds no complete head. */
  public HttpHead(String raw) {
    this.raw = raw;
    int end = raw.indexOf("\r\n\r\n");
    assertTrue(end >= 0, "a complete message head: " + raw);
    String[] lines = raw.substring(0, end).split("\r\n");
    startLine = lines[0];
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      headers.computeIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
          .add(lines[i].substring(colon + 1).trim());
    }
    body = raw.substring(end + 4);
  }

  /** The value of header {@code name} (any case), or null; fails the test when the header appears more than once. */
  public String header(String name) {
    List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
    if (values == null) {
      return null;
    }
    assertEquals(1, values.size(), name + ": " + values);
    return values.get(0);
  }
}
