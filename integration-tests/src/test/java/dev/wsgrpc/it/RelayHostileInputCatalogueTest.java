package dev.wsgrpc.it;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The hostile-input catalogue against {@code tunnel-server.jar} in relay mode ({@code --mode relay}): the jar passes
 * each tunnel's HTTP/2 bytes to the upstream unchanged, counting RST_STREAM, SETTINGS and PING frames itself. Native
 * gRPC is off ({@code --no-native-grpc}: relay mode refuses it with {@code --auth-tokens}), and {@code /healthz} and
 * {@code /metrics} are on an admin port ({@code --admin-port}), from which the memory is read.
 */
class RelayHostileInputCatalogueTest extends JarHostileInputCatalogue {

  @Override
  List<String> modeOptions() {
    return List.of("--mode", "relay", "--no-native-grpc", "--admin-port", "0");
  }

  @Override
  int metricsPort() {
    return jar.adminPort();
  }

  /** What the catalogue found in relay mode only, not fixed yet (for the lead to assign). */
  private static final Map<String, String> RELAY_FOUND = Map.of();

  @Override
  Map<String, String> found() {
    Map<String, String> all = new HashMap<>(super.found());
    all.putAll(RELAY_FOUND);
    return all;
  }

  /**
   * The relay sends its own GOAWAY ENHANCE_YOUR_CALM only while the upstream's byte stream is between two frames (so
   * that it cannot land inside one; docs/GATEWAY.md, Protection), and a GOAWAY from the upstream (the CONTINUATION
   * flood's PROTOCOL_ERROR, the FRAME_SIZE_ERROR of a frame over MAX_FRAME_SIZE) may be destroyed by the reset of the
   * upstream connection, which the upstream closes with the attacker's bytes unread: either way the client then gets
   * the Close alone.
   */
  @Override
  boolean floodGoAwayMayBeLost() {
    return true;
  }

  @Override
  String expected(String name, String answer) {
    switch (name) {
      case "rapid reset: 1000 streams opened and cancelled":
        // The relay counts RST_STREAM frames itself (--max-rst-frames 200 per 10 s) and ends the tunnel before the
        // flood reaches the upstream: GOAWAY ENHANCE_YOUR_CALM with its own debug text, then close 1008 naming the
        // limit (docs/GATEWAY.md, Protection).
        return "GOAWAY ENHANCE_YOUR_CALM 'too_many_rst_streams'; close 1008 more than 200 RST_STREAM frames in 10 s";
      case "SETTINGS flood, ACKs unread":
        // grpc-java answers every SETTINGS; the relay allows 100 SETTINGS frames per 10 s (--max-control-frames)
        // so that a flood never reaches the upstream.
        return "GOAWAY ENHANCE_YOUR_CALM 'too_many_settings'; close 1008 more than 100 SETTINGS frames in 10 s";
      case "PING flood, ACKs unread":
        // The relay's own PING limit (100 per 10 s without data from the upstream in between), then close 1008
        // instead of grpc-java's GOAWAY and the close naming it.
        return "GOAWAY ENHANCE_YOUR_CALM 'too_many_pings'; close 1008 more than 100 PING frames in 10 s without "
            + "data in between";
      case "2000 concurrent streams held open":
        // Concurrent calls are the upstream's limit in relay mode (its SETTINGS_MAX_CONCURRENT_STREAMS passes through
        // unchanged, docs/GATEWAY.md); this upstream, a plain grpc-java server, sets none, so all 2000 streams stay
        // open there and the probe call still succeeds. (The library and proxy mode refuse the 1001st.)
        return "probe call grpc-status 0; close 1000";
      case "tunnel that never sends the HTTP/2 preface":
        // The relay's own deadline (--handshake-timeout, from the upstream connection on), saying why.
        return "close 1001 expected the HTTP/2 preface and SETTINGS within 5000 ms of the connection to the upstream "
            + "but they did not arrive";
      default:
        return super.expected(name, answer);
    }
  }
}
