package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wsgrpc.it.UpstreamReplicas.JavaReplica;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.Http2Wire;
import dev.wsgrpc.testing.RawTunnelClient;
import java.io.EOFException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Idle tunnels time out in both gateway modes (issue 12 item 9, {@code --idle-timeout}): a tunnel whose last call
 * has ended gets a GOAWAY and then close 1001, without the client doing anything. The client is written from the
 * wire up, so nothing but the gateway can end the tunnel (a gRPC client would manage its own idle channel). The
 * relay's timer on a fake clock: UpstreamRelayHandlerTest.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class IdleTunnelTimeoutTest {

  private final Closer closer = new Closer();

  @AfterEach
  void stop() throws Exception {
    closer.close();
  }

  /** Starts the jar with a 1 s idle timeout, makes one call in a raw tunnel, and returns how the tunnel ended. */
  private String idleTunnelEnd(String... mode) throws Exception {
    JavaReplica upstream = new JavaReplica("upstream");
    closer.add(upstream);
    List<String> args = new ArrayList<>(List.of("--port", "0", "--bind", "127.0.0.1", "--upstream",
        upstream.address(), "--idle-timeout", "1s"));
    args.addAll(List.of(mode));
    TunnelServerJar jar = TunnelServerJar.start(args.toArray(new String[0]));
    closer.add(jar);
    jar.awaitUrl();
    try (RawTunnelClient client = RawTunnelClient.connect(new InetSocketAddress("127.0.0.1", jar.port()), "/grpc",
        "wsgrpc.v1", Duration.ofSeconds(90))) {
      client.sendPrefaceAndSettings();
      client.send(TunnelH2.unaryCall(1));
      TunnelH2.Reader reader = new TunnelH2.Reader();
      List<String> goAways = new ArrayList<>();
      try {
        while (true) {
          Http2Wire.Frame f = TunnelH2.readAsAClient(client, reader);
          if (f.type == Http2Wire.GOAWAY) {
            goAways.add("GOAWAY " + TunnelH2.errorName(f.goAwayErrorCode())
                + (f.goAwayDebugData().isEmpty() ? "" : " '" + f.goAwayDebugData() + "'"));
          }
        }
      } catch (EOFException end) {
        // the tunnel ended
      }
      return "call grpc-status " + reader.grpcStatus.get(1) + ", then " + String.join(", ", goAways) + "; close "
          + client.closeCode();
    }
  }

  @Test
  void proxyModeClosesAnIdleTunnel() throws Exception {
    // grpc-java's maxConnectionIdle: a graceful GOAWAY in two steps (the second after the client's PING ACK).
    assertEquals("call grpc-status 0, then GOAWAY NO_ERROR 'max_idle', GOAWAY NO_ERROR 'max_idle'; close 1001",
        idleTunnelEnd());
  }

  @Test
  void relayModeClosesAnIdleTunnel() throws Exception {
    // The relay's own drain, as grpc-java's: two GOAWAYs between the upstream's frames (the second after the client's
    // ACK of the relay's PING), and close 1001 as no call is left.
    assertEquals("call grpc-status 0, then GOAWAY NO_ERROR, GOAWAY NO_ERROR; close 1001",
        idleTunnelEnd("--mode", "relay"));
  }
}
