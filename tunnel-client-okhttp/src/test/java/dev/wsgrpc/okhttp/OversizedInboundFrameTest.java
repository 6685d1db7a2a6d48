package dev.wsgrpc.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A server announcing a message over {@code maxInboundFramePayload} is refused at the frame's header: the call fails
 * RESOURCE_EXHAUSTED at once and the server reads Close 1009, however large the announced payload. Before, OkHttp
 * read the whole message into memory first (the call waited for 2^40 bytes, or the JVM ran out of memory); over wss
 * it still did until the plaintext inside TLS was followed.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class OversizedInboundFrameTest {

  /** 2^40 bytes announced, far more than any test JVM's heap. */
  private static final long HUGE = 1L << 40;

  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  @ParameterizedTest(name = "tls: {0}")
  @ValueSource(booleans = {false, true})
  void aMessageAnnouncedOverTheLimitFailsTheCallAtOnceAndTheServerReadsClose1009(boolean tls) throws Exception {
    byte[] header = binaryHeader(HUGE);
    checkRefused(tls, header, header.length);
  }

  @ParameterizedTest(name = "tls: {0}")
  @ValueSource(booleans = {false, true})
  void aHeaderSplitAcrossTwoWritesIsRefusedAsWell(boolean tls) throws Exception {
    byte[] header = binaryHeader(HUGE);
    checkRefused(tls, header, 3);
  }

  @ParameterizedTest(name = "tls: {0}")
  @ValueSource(booleans = {false, true})
  void aSixteenBitLengthJustOverAFourKibLimitIsRefused(boolean tls) throws Exception {
    CompletableFuture<String> close = new CompletableFuture<>();
    String url = serve(tls, binaryHeader(4097), 4, close);
    Status status = callFails(TestTls.options(url)
        .settings(TunnelSettings.newBuilder().maxInboundFramePayload(4096).build()).build());
    assertEquals("Max frame length of 4096 has been exceeded. (from " + url + "; sent close 1009 (Message Too Big))",
        status.getDescription());
    assertEquals("1009 Max frame length of 4096 has been exceeded.", close.get(10, TimeUnit.SECONDS));
  }

  /**
   * A continuation frame taking its message over the limit: OkHttp is handed the end of the open message before the
   * Close, so the server reads Close 1009 (OkHttp, stopped inside the message, dropped the connection: EOF).
   */
  @ParameterizedTest(name = "tls: {0}")
  @ValueSource(booleans = {false, true})
  void aContinuationOverTheLimitInsideAMessageIsRefusedWithClose1009(boolean tls) throws Exception {
    CompletableFuture<String> close = new CompletableFuture<>();
    byte[] first = Arrays.copyOf(new byte[] {0x02, 126, 0x0F, (byte) 0xA0}, 4 + 4000); // no FIN, 4000 bytes
    byte[] frames = Arrays.copyOf(first, first.length + 2 + 100);
    frames[first.length] = (byte) 0x80; // FIN, continuation of 100 bytes: 4100 in the message
    frames[first.length + 1] = 100;
    ScriptedHttpServer server = ScriptedHttpServer.afterTheCallStarts(TestTls.server(tls), "", frames,
        frames.length, close);
    toClose.add(server);
    toClose.add(() -> close.complete("none"));
    String url = server.url();
    Status status = callFails(TestTls.options(url)
        .settings(TunnelSettings.newBuilder().maxInboundFramePayload(4096).build()).build());
    assertEquals("Max frame length of 4096 has been exceeded. (from " + url + "; sent close 1009 (Message Too Big))",
        status.getDescription());
    assertEquals("1009 Max frame length of 4096 has been exceeded.", close.get(10, TimeUnit.SECONDS));
  }

  /**
   * Interim answers before the 101 (a CDN's 103 Early Hints), which OkHttp reads past: the frames after the 101 are
   * still followed (the limit let them all through unchecked, and OkHttp read the 2^40 bytes).
   */
  @ParameterizedTest(name = "tls: {0}")
  @ValueSource(booleans = {false, true})
  void aMessageOverTheLimitIsRefusedAfterInterimAnswersBeforeThe101(boolean tls) throws Exception {
    CompletableFuture<String> close = new CompletableFuture<>();
    ScriptedHttpServer server = ScriptedHttpServer.afterTheCallStarts(TestTls.server(tls),
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
        Arrays.copyOf(binaryHeader(HUGE), 10 + 100), 10, close);
    toClose.add(server);
    toClose.add(() -> close.complete("none"));
    String url = server.url();
    Status status = callFails(TestTls.options(url).build());
    assertEquals("Max frame length of 1048576 has been exceeded. (from " + url
        + "; sent close 1009 (Message Too Big))", status.getDescription());
    assertEquals("1009 Max frame length of 1048576 has been exceeded.", close.get(10, TimeUnit.SECONDS));
  }

  private void checkRefused(boolean tls, byte[] header, int firstWrite) throws Exception {
    CompletableFuture<String> close = new CompletableFuture<>();
    String url = serve(tls, header, firstWrite, close);
    long start = System.nanoTime();
    Status status = callFails(TestTls.options(url).build());
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals("Max frame length of 1048576 has been exceeded. (from " + url
        + "; sent close 1009 (Message Too Big))", status.getDescription());
    // Far from the 10 s deadline, the first TLS handshake of a busy machine's JVM included.
    assertTrue(millis < 8_000, "the call failed after " + millis + " ms, its deadline is 10 s");
    assertEquals("1009 Max frame length of 1048576 has been exceeded.", close.get(10, TimeUnit.SECONDS));
  }

  private Status callFails(OkHttpWebSocketOptions options) {
    ManagedChannel channel = OkHttpWebSocketChannels.newChannelBuilder(options).build();
    toClose.add(() -> channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> EchoGrpc.newBlockingStub(channel)
        .withDeadlineAfter(10, TimeUnit.SECONDS).unary(TestEcho.payload(1)));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
    return e.getStatus();
  }

  /** An unmasked FIN binary frame header announcing {@code length} bytes, in the shortest form. */
  private static byte[] binaryHeader(long length) {
    if (length <= 125) {
      return new byte[] {(byte) 0x82, (byte) length};
    }
    if (length <= 0xffff) {
      return new byte[] {(byte) 0x82, 126, (byte) (length >> 8), (byte) length};
    }
    byte[] h = new byte[10];
    h[0] = (byte) 0x82;
    h[1] = 127;
    for (int i = 0; i < 8; i++) {
      h[2 + i] = (byte) (length >>> (56 - 8 * i));
    }
    return h;
  }

  /**
   * A server that answers the upgrade with a 101 and HTTP/2 SETTINGS, waits for the call's HTTP/2 HEADERS, then
   * writes {@code header} in two writes (the first of {@code firstWrite} bytes) and 100 bytes of payload, and
   * completes {@code close} with the code and reason of the first Close the client sends.
   */
  private String serve(boolean tls, byte[] header, int firstWrite, CompletableFuture<String> close)
      throws IOException {
    ScriptedHttpServer server = ScriptedHttpServer.afterTheCallStarts(TestTls.server(tls), "",
        Arrays.copyOf(header, header.length + 100), firstWrite, close);
    toClose.add(server);
    toClose.add(() -> close.complete("none"));
    return server.url();
  }
}
