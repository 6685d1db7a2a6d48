package dev.wsgrpc.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The round trips a client waits for before its first call completes, counted at a {@link LatencyRelay} from the
 * order of what flows each way (not from timing): the tunnel may cost the HTTP upgrade and nothing else.
 *
 * <p>What the counts are and why: over h2c the server sends its SETTINGS as soon as the connection is accepted, so
 * the request (which grpc-java sends once it has the server's SETTINGS) goes after half a round trip and the call
 * completes after one counted round trip. Over ws the upgrade request is the first round trip, and the server's
 * SETTINGS come right behind the 101 response, so the request goes with the HTTP/2 preface: one round trip more. Over
 * h2 (TLS 1.3) the handshake is one round trip and the server sends its SETTINGS only once the handshake is done, so
 * the request waits one more, and the call completes after three; over wss the upgrade request goes with the client's
 * Finished and the 101 brings the SETTINGS: three as well, no round trip more than h2.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RoundTripsTest {

  /** Far longer than the processing of a handshake step even on a busy machine, which keeps the order of events. */
  private static final Duration ONE_WAY = Duration.ofMillis(100);

  @Test
  void wsCostsOneRoundTripMoreThanH2cAndWssNoneMoreThanH2() throws Exception {
    Map<String, Integer> turns = new LinkedHashMap<>();
    StringBuilder flows = new StringBuilder();
    TestCertificates certs = TestCertificates.create();
    try (Transports transports = new Transports(2)) {
      for (LocalServerSetup setup : List.of(DirectSetup.h2c(), TunnelSetup.ws(), DirectSetup.h2(),
          TunnelSetup.wss())) {
        try {
          setup.start(transports, new BenchService(), certs);
          turns.put(setup.name(), fewestTurns(setup, flows));
        } finally {
          setup.close();
        }
      }
    }
    assertEquals(1, turns.get("h2c"), "round trips to the first call over h2c: " + turns + flows);
    assertEquals(turns.get("h2c") + 1, turns.get("ws"), "ws against h2c: " + turns + flows);
    assertEquals(turns.get("h2"), turns.get("wss"), "wss against h2: " + turns + flows);
  }

  /**
   * The fewest round trips of three new channels' first calls through the relay. A step that is slow for reasons of
   * its own (a cold JIT, a busy machine) can only make a count higher, never lower.
   */
  private static int fewestTurns(LocalServerSetup setup, StringBuilder flows) throws Exception {
    int fewest = Integer.MAX_VALUE;
    try (LatencyRelay relay = LatencyRelay.start(new InetSocketAddress("127.0.0.1", setup.port()), ONE_WAY)) {
      for (int i = 0; i < 3; i++) {
        ManagedChannel channel = setup.newChannelTo(relay.port());
        try {
          EchoGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).unary(UnaryLatency.REQUEST);
          fewest = Math.min(fewest, relay.last().turns());
          flows.append('\n').append(setup.name()).append(": ").append(relay.last());
        } finally {
          Channels.shutdown(channel);
        }
      }
      assertEquals(3, relay.connections().size(), "one connection per channel");
    }
    return fewest;
  }
}
