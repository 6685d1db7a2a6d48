package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.integration.Messages.ResponseParameters;
import io.grpc.testing.integration.Messages.StreamingOutputCallRequest;
import io.grpc.testing.integration.Messages.StreamingOutputCallResponse;
import io.grpc.testing.integration.TestServiceGrpc;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Revocation in {@code tunnel-server.jar --auth-tokens FILE} fails closed: a token edited out of the file (even by an
 * edit that keeps the file's length and modification time) closes the tunnels it opened with WebSocket close 1008
 * and opens no new ones; an emptied or deleted file refuses everyone.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class TokenRevocationTest {

  private final List<ManagedChannel> channels = new ArrayList<>();
  private TunnelServerJar jar;

  @AfterEach
  void stop() throws Exception {
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (jar != null) {
      jar.close();
    }
  }

  private ManagedChannel channel(String url, String token) {
    ManagedChannel c = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder(url)
        .header("Authorization", "Bearer " + token).build()).build();
    channels.add(c);
    return c;
  }

  /** A bidirectional call kept open on the tunnel: it ends only when the tunnel does. */
  private static final class OpenCall {
    final LinkedBlockingQueue<StreamingOutputCallResponse> responses = new LinkedBlockingQueue<>();
    final CompletableFuture<Status> end = new CompletableFuture<>();
    final StreamObserver<StreamingOutputCallRequest> requests;

    OpenCall(ManagedChannel channel) {
      requests = TestServiceGrpc.newStub(channel).fullDuplexCall(new StreamObserver<StreamingOutputCallResponse>() {
        @Override
        public void onNext(StreamingOutputCallResponse value) {
          responses.add(value);
        }

        @Override
        public void onError(Throwable t) {
          end.complete(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
          end.complete(Status.OK);
        }
      });
    }

    /** One request and its response: the call (and so the tunnel) is alive. */
    void ping() throws InterruptedException {
      requests.onNext(StreamingOutputCallRequest.newBuilder()
          .addResponseParameters(ResponseParameters.newBuilder().setSize(10)).build());
      assertTrue(responses.poll(30, TimeUnit.SECONDS) != null, "a response on the open call");
    }

    /** Waits (at most 30 s: two reload periods and plenty more) for the tunnel to end; returns how. */
    Status awaitEnd() throws Exception {
      return end.get(30, TimeUnit.SECONDS);
    }
  }

  private static void assertClosedWith1008(Status status) {
    assertEquals(Status.Code.PERMISSION_DENIED, status.getCode(), status.toString()); // the client maps 1008 so
    assertTrue(status.getDescription().contains("1008 (Policy Violation): the bearer token was revoked"),
        status.toString());
  }

  private static boolean serves(ManagedChannel channel) {
    try {
      return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance()).getStatus() == HealthCheckResponse.ServingStatus.SERVING;
    } catch (StatusRuntimeException e) {
      assertTrue(e.getStatus().getDescription().contains("but was 401 Unauthorized"), e.getStatus().toString());
      return false;
    }
  }

  private static int count(String text, String part) {
    return text.split(java.util.regex.Pattern.quote(part), -1).length - 1;
  }

  @Test
  void revokedTokensCloseTheirTunnelsWith1008AndAnEmptiedOrDeletedFileRefusesEveryone() throws Exception {
    File tokens = new File(Files.createTempDirectory("tokens").toFile(), "tokens.txt");
    Files.writeString(tokens.toPath(), "alpha-t0ken alice\nbravo-t0ken bob\n");
    jar = TunnelServerJar.start("--port", "0", "--auth-tokens", tokens.getPath());
    String url = jar.awaitUrl();
    OpenCall alice = new OpenCall(channel(url, "alpha-t0ken"));
    alice.ping();
    OpenCall bob = new OpenCall(channel(url, "bravo-t0ken"));
    bob.ping();

    // alice's token changes in place: same length, and the modification time put back as it was.
    FileTime mtime = Files.getLastModifiedTime(tokens.toPath());
    long length = tokens.length();
    Files.writeString(tokens.toPath(), "alpha-t0kem alice\nbravo-t0ken bob\n");
    Files.setLastModifiedTime(tokens.toPath(), mtime);
    assertEquals(length, tokens.length());
    assertClosedWith1008(alice.awaitEnd());
    assertFalse(serves(channel(url, "alpha-t0ken")), "the revoked token opens no new tunnel");
    assertTrue(serves(channel(url, "alpha-t0kem")), "its replacement does");
    bob.ping(); // bob's tunnel, whose token did not change, stays open
    jar.awaitLog("close=server/1008");

    // An emptied file: no token is valid.
    Files.writeString(tokens.toPath(), "");
    assertClosedWith1008(bob.awaitEnd());
    assertFalse(serves(channel(url, "bravo-t0ken")));
    jar.awaitLog("No bearer token is valid now");

    // Tokens again, then the file deleted: everyone refused, and an ERROR says why.
    int loaded = count(jar.stderr(), "Loaded the new bearer tokens");
    Files.writeString(tokens.toPath(), "charlie-t0ken carol\n");
    while (count(jar.stderr(), "Loaded the new bearer tokens") == loaded) {
      Thread.sleep(20); // the jar's log is a file: poll it, as TunnelServerJar.awaitLog does
    }
    OpenCall carol = new OpenCall(channel(url, "charlie-t0ken"));
    carol.ping();
    assertTrue(tokens.delete());
    assertClosedWith1008(carol.awaitEnd());
    assertFalse(serves(channel(url, "charlie-t0ken")));
    jar.awaitLog("cannot be loaded (missing: ");
    assertFalse(jar.stderr().contains("t0ke"), "tokens never reach the logs:\n" + jar.stderr());
  }
}
