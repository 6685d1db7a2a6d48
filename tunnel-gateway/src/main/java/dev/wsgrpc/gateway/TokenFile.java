package dev.wsgrpc.gateway;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the {@code --auth-tokens} file: one {@code TOKEN PRINCIPAL} pair per line, separated by white space;
 * blank lines and lines starting with {@code #} are ignored. A file without tokens means that no token is valid.
 * Errors name the line, never the token.
 */
final class TokenFile {

  static Map<String, String> read(File file) throws IOException {
    List<String> lines = Files.readAllLines(file.toPath(), StandardCharsets.UTF_8);
    Map<String, String> tokens = new HashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).trim();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String[] parts = line.split("\\s+");
      if (parts.length != 2) {
        throw new IOException(file + " line " + (i + 1) + ": expected 'TOKEN PRINCIPAL' but found "
            + parts.length + " field(s)");
      }
      if (tokens.put(parts[0], parts[1]) != null) {
        throw new IOException(file + " line " + (i + 1) + ": a token appears twice");
      }
    }
    return Collections.unmodifiableMap(tokens);
  }

  private TokenFile() {}
}
