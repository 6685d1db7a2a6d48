package dev.wsgrpc.benchmarks;

import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** Writes maps, lists, strings, numbers and booleans as indented JSON; enough for results.json. */
final class Json {

  static String write(Object value) {
    StringBuilder out = new StringBuilder();
    write(out, value, "");
    return out.append('\n').toString();
  }

  private static void write(StringBuilder out, Object value, String indent) {
    if (value == null) {
      out.append("null");
    } else if (value instanceof String s) {
      quote(out, s);
    } else if (value instanceof Double d) {
      if (d.isNaN() || d.isInfinite()) {
        out.append("null");
      } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
        out.append(d.longValue());
      } else {
        out.append(Math.round(d * 10000) / 10000.0);
      }
    } else if (value instanceof Number || value instanceof Boolean) {
      out.append(value);
    } else if (value instanceof Map<?, ?> map) {
      if (map.isEmpty()) {
        out.append("{}");
        return;
      }
      out.append("{\n");
      Iterator<? extends Map.Entry<?, ?>> it = map.entrySet().iterator();
      while (it.hasNext()) {
        Map.Entry<?, ?> e = it.next();
        out.append(indent).append("  ");
        quote(out, String.valueOf(e.getKey()));
        out.append(": ");
        write(out, e.getValue(), indent + "  ");
        out.append(it.hasNext() ? ",\n" : "\n");
      }
      out.append(indent).append('}');
    } else if (value instanceof List<?> list) {
      boolean simple = list.stream().allMatch(v -> v instanceof Number || v instanceof String);
      out.append('[');
      for (int i = 0; i < list.size(); i++) {
        if (!simple) {
          out.append('\n').append(indent).append("  ");
        }
        write(out, list.get(i), indent + "  ");
        if (i < list.size() - 1) {
          out.append(simple ? ", " : ",");
        }
      }
      if (!simple && !list.isEmpty()) {
        out.append('\n').append(indent);
      }
      out.append(']');
    } else {
      quote(out, value.toString());
    }
  }

  private static void quote(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  private Json() {}
}
