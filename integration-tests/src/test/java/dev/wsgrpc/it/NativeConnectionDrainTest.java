package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.it.UpstreamReplicas.JavaReplica;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.Http2Wire;
import dev.wsgrpc.client.WebSocketChannels;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A drain of the jar reaches native gRPC connections at once, as it reaches tunnels, in every mode: GOAWAY while the
 * port stays open and a tunnel still holds the drain (in relay mode the gateway's own, with its PING, followed by a
 * second GOAWAY once the PING is acknowledged), the native call in flight finishes, then the connection closes. The
 * native client is written from the wire up, so that nothing but the gateway decides when its GOAWAY comes (a gRPC
 * client would hang up by itself once it has no call left).
 */
class NativeConnectionDrainTest {

  private static final String CHECK = "/" + HealthGrpc.getCheckMethod().getFullMethodName();
  /** An empty {@code HealthCheckRequest} as one gRPC message: uncompressed, length 0. */
  private static final byte[] EMPTY_MESSAGE = new byte[5];

  private final Closer closer = new Closer();

  @AfterEach
  void stop() throws Exception {
    closer.close();
  }

  @ParameterizedTest
  @ValueSource(strings = {"demo", "proxy", "relay"})
  void sigtermSendsGoAwayToNativeConnectionsWhileATunnelStillHoldsTheDrain(String mode) throws Exception {
    List<String> args = new ArrayList<>(List.of("--port", "0", "--drain-timeout", "90s"));
    if (!mode.equals("demo")) { // demo mode: no upstream
      JavaReplica upstream = closer.add(new JavaReplica("java-a"));
      args.addAll(List.of("--mode", mode, "--upstream", upstream.address()));
    }
    TunnelServerJar jar = closer.add(TunnelServerJar.start(args.toArray(new String[0])));
    String url = jar.awaitUrl();
    InetSocketAddress address = new InetSocketAddress("127.0.0.1", jar.port());

    // A tunnel whose call waits for its request: it holds the drain until the test sends the request.
    ManagedChannel channel = closer.add(WebSocketChannels.newChannel(url));
    ClientCall<HealthCheckRequest, HealthCheckResponse> held = channel.newCall(HealthGrpc.getCheckMethod(),
        CallOptions.DEFAULT.withDeadlineAfter(120, TimeUnit.SECONDS));
    CompletableFuture<Status> heldEnded = new CompletableFuture<>();
    held.start(new ClientCall.Listener<HealthCheckResponse>() {
      @Override
      public void onClose(Status status, Metadata trailers) {
        heldEnded.complete(status);
      }
    }, new Metadata());
    held.request(1);
    jar.awaitLog("tunnel open");

    // A native connection with a call in flight, waiting for its request too.
    NativeClient client = closer.add(new NativeClient(address));
    client.send(Http2Wire.headers(1, Http2Wire.FLAG_END_HEADERS, Http2Wire.grpcRequestBlock(CHECK, "localhost")));
    assertTrue(metrics(jar.port()).contains("wsgrpc_native_connections_open 1.0"), metrics(jar.port()));

    jar.terminate();
    jar.awaitLog("Draining");
    Http2Wire.Frame goAway = client.readUntil(Http2Wire.GOAWAY);
    assertEquals(Http2Wire.NO_ERROR, goAway.goAwayErrorCode());
    assertFalse(jar.stderr().contains("Stopped:"), "the GOAWAY came before the drain ended:\n" + jar.stderr());
    // The second GOAWAY (the client acknowledged the PING that came with the first) names the call in flight.
    goAway = client.readUntil(Http2Wire.GOAWAY);
    assertEquals(1, java.nio.ByteBuffer.wrap(goAway.payload).getInt(0), "the last stream the server takes");

    // The call in flight still finishes, with its trailers; then the connection closes.
    client.send(Http2Wire.frame(Http2Wire.DATA, Http2Wire.FLAG_END_STREAM, 1, EMPTY_MESSAGE));
    Http2Wire.Frame last;
    do {
      last = client.readUntil(Http2Wire.HEADERS);
    } while ((last.flags & Http2Wire.FLAG_END_STREAM) == 0);
    assertEquals(1, last.streamId);
    client.awaitEnd();

    // The tunnel's call finishes too, and with it the drain.
    assertFalse(heldEnded.isDone(), "the tunnel's call was still waiting for its request");
    held.sendMessage(HealthCheckRequest.getDefaultInstance());
    held.halfClose();
    assertEquals(Status.Code.OK, heldEnded.get(60, TimeUnit.SECONDS).getCode());
    assertEquals(0, jar.awaitExit(Duration.ofSeconds(60)), jar.stderr());
    assertTrue(jar.stderr().contains("1 open tunnel(s) get GOAWAY and have 90s to finish their calls, as do 1 native "
        + "gRPC connection(s)"), jar.stderr());
    assertTrue(jar.stderr().contains("Stopped: 1 tunnel(s) drained, 0 closed at the drain deadline; native gRPC "
        + "connections: 1 drained, 0 closed at the drain deadline"), jar.stderr());
  }

  private static String metrics(int port) throws IOException {
    return new String(new URL("http://127.0.0.1:" + port + "/metrics").openStream().readAllBytes(),
        StandardCharsets.UTF_8);
  }

  /** HTTP/2 with prior knowledge on a plain socket: acknowledges the server's SETTINGS and PINGs as it reads. */
  private static final class NativeClient implements AutoCloseable {
    private final Socket socket = new Socket();
    private final OutputStream out;
    private final DataInputStream in;

    NativeClient(InetSocketAddress address) throws IOException {
      socket.connect(address, 60_000);
      socket.setSoTimeout(60_000); // less than the drain timeout: a GOAWAY only at the deadline fails the test
      out = socket.getOutputStream();
      in = new DataInputStream(socket.getInputStream());
      send(Http2Wire.concat(Http2Wire.PREFACE, Http2Wire.settings()));
      readUntil(Http2Wire.SETTINGS); // the server's SETTINGS: admitted, and reported to the gateway's tracker
    }

    void send(byte[] bytes) throws IOException {
      out.write(bytes);
      out.flush();
    }

    Http2Wire.Frame readUntil(int type) throws IOException {
      while (true) {
        Http2Wire.Frame f = Http2Wire.read(in);
        if (f.type == Http2Wire.SETTINGS && (f.flags & Http2Wire.FLAG_ACK) == 0) {
          send(Http2Wire.settingsAck());
        } else if (f.type == Http2Wire.PING && (f.flags & Http2Wire.FLAG_ACK) == 0) {
          send(Http2Wire.frame(Http2Wire.PING, Http2Wire.FLAG_ACK, 0, f.payload));
        }
        if (f.type == type) {
          return f;
        }
      }
    }

    /**
     * Reads until the server closes the connection. A reset counts too: an ACK of ours (of a flow-control PING the
     * upstream sent with its answer) may reach the server after it decided to close, and closing with unread bytes
     * resets the connection.
     */
    void awaitEnd() throws IOException {
      try {
        while (true) {
          readUntil(-1);
        }
      } catch (EOFException e) {
        // closed, as expected
      } catch (java.net.SocketException e) {
        if (!String.valueOf(e.getMessage()).contains("Connection reset")) {
          throw e;
        }
      }
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
