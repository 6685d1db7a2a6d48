package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.client.WebSocketClientOptions;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.server.AccessPolicy;
import dev.wsgrpc.server.BearerTokens;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import dev.wsgrpc.testing.proto.EchoGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * The hostile-input catalogue: every case sends raw bytes over a real socket to one running server and asserts the
 * exact HTTP status or WebSocket close code it answers, and that it then closes the connection. Throughout the
 * barrage a well-behaved client keeps calling on its own tunnel and must never fail; afterwards the server's heap
 * must not have grown beyond a bound. Leaks fail the build through the paranoid leak check.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class HostileInputCatalogueTest {

  private static final String TOKEN = "g00d-t0ken";
  private static final String KEY = "dGhlIHNhbXBsZSBub25jZQ==";
  private static final int MAX_FRAME = 64 * 1024;
  private static final long HEAP_GROWTH_LIMIT = 64L * 1024 * 1024;

  private Server server;
  private int port;
  private ManagedChannel goodClient;
  private Thread goodLoop;
  private final AtomicBoolean stop = new AtomicBoolean();
  private final AtomicInteger goodCalls = new AtomicInteger();
  private final AtomicReference<Throwable> goodFailure = new AtomicReference<>();
  private long heapBefore;

  @BeforeAll
  void start() throws Exception {
    server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", 0), WebSocketServerOptions.newBuilder()
            .access(AccessPolicy.newBuilder().authenticator(BearerTokens.of(Map.of(TOKEN, "good")))
                    .allowedOrigins(List.of("https://app.example.com")).build())
            .settings(TunnelSettings.newBuilder().handshakeTimeout(Duration.ofSeconds(2))
                    .maxInboundFramePayload(MAX_FRAME).build())
            .build())
        .addService(new EchoService())
        .build().start();
    port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    goodClient = WebSocketChannels.newChannelBuilder(WebSocketClientOptions.newBuilder("ws://127.0.0.1:" + port
        + "/grpc").header("Authorization", "Bearer " + TOKEN).build()).build();
    heapBefore = usedHeap();
    goodLoop = new Thread(() -> {
      EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(goodClient);
      while (!stop.get()) {
        try {
          stub.withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(100));
          goodCalls.incrementAndGet();
          Thread.sleep(5);
        } catch (InterruptedException e) {
          return;
        } catch (RuntimeException e) {
          goodFailure.compareAndSet(null, e);
        }
      }
    }, "good-client");
    goodLoop.start();
  }

  @AfterAll
  void stopAll() throws Exception {
    stop.set(true);
    goodLoop.join(60_000);
    try {
      if (goodFailure.get() != null) {
        throw new AssertionError("the good client failed during the barrage", goodFailure.get());
      }
      assertTrue(goodCalls.get() > 0, "the good client made no calls");
      long growth = usedHeap() - heapBefore;
      assertTrue(growth < HEAP_GROWTH_LIMIT, "heap grew by " + growth + " bytes during the barrage");
    } finally {
      goodClient.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private static long usedHeap() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    Runtime r = Runtime.getRuntime();
    return r.totalMemory() - r.freeMemory();
  }

  // ---- building requests and frames -------------------------------------------------------------------------------

  /** A valid, authenticated upgrade request with these header lines added (or replacing, via {@link #without}). */
  private static String upgrade(String... extra) {
    StringBuilder b = new StringBuilder("GET /grpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        + "Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY + "\r\nSec-WebSocket-Version: 13\r\n"
        + "Authorization: Bearer " + TOKEN + "\r\n");
    for (String line : extra) {
      b.append(line).append("\r\n");
    }
    return b.append("\r\n").toString();
  }

  /** {@link #upgrade} without the header named {@code name}. */
  private static String without(String name, String request) {
    return request.replaceAll("(?im)^" + name + ":[^\\r]*\\r\\n", "");
  }

  /** A client frame: FIN flag, RSV bits, opcode, masked with a fixed key (unless {@code masked} is false). */
  private static byte[] frame(boolean fin, int rsv, int opcode, boolean masked, byte[] payload) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write((fin ? 0x80 : 0) | (rsv << 4) | opcode);
    int len = payload.length;
    int maskBit = masked ? 0x80 : 0;
    if (len < 126) {
      out.write(maskBit | len);
    } else if (len < 65536) {
      out.write(maskBit | 126);
      out.write(len >>> 8);
      out.write(len);
    } else {
      out.write(maskBit | 127);
      for (int shift = 56; shift >= 0; shift -= 8) {
        out.write((int) ((long) len >>> shift));
      }
    }
    byte[] mask = {0x11, 0x22, 0x33, 0x44};
    if (masked) {
      out.write(mask, 0, 4);
    }
    for (int i = 0; i < len; i++) {
      out.write(masked ? payload[i] ^ mask[i & 3] : payload[i]);
    }
    return out.toByteArray();
  }

  private static byte[] binary(byte[] payload) {
    return frame(true, 0, 0x2, true, payload);
  }

  private static byte[] close(int code, byte[] reason) {
    byte[] p = new byte[2 + reason.length];
    p[0] = (byte) (code >>> 8);
    p[1] = (byte) code;
    System.arraycopy(reason, 0, p, 2, reason.length);
    return frame(true, 0, 0x8, true, p);
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.write(p, 0, p.length);
    }
    return out.toByteArray();
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  private static final byte[] PREFACE = ascii("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

  // ---- running cases ----------------------------------------------------------------------------------------------

  /** Sends {@code request}, reads until the server closes, and returns the status line of its answer. */
  private String statusLineFor(byte[] request) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(30_000);
      s.getOutputStream().write(request);
      String all = readAll(s.getInputStream());
      return all.isEmpty() ? "(closed without an answer)" : all.substring(0, all.indexOf("\r\n"));
    }
  }

  private static String readAll(InputStream in) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    byte[] buf = new byte[8192];
    try {
      int n;
      while ((n = in.read(buf)) != -1) {
        all.write(buf, 0, n);
      }
    } catch (SocketException reset) {
      // a reset after the answer still leaves the answer
    }
    return all.toString(StandardCharsets.ISO_8859_1.name());
  }

  /**
   * Upgrades, sends {@code afterUpgrade}, then returns the close code of the server's Close frame, or -1 when the
   * server closed the connection without one (binary frames it sends meanwhile are skipped).
   */
  private int closeCodeAfter(byte[] afterUpgrade) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(30_000);
      OutputStream out = s.getOutputStream();
      out.write(ascii(upgrade()));
      DataInputStream in = new DataInputStream(s.getInputStream());
      readHead(in);
      out.write(afterUpgrade);
      out.flush();
      return readCloseCode(in);
    }
  }

  private static String readHead(DataInputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1.name()).endsWith("\r\n\r\n")) {
      head.write(in.readUnsignedByte());
    }
    String text = head.toString(StandardCharsets.ISO_8859_1.name());
    if (!text.startsWith("HTTP/1.1 101 ")) {
      throw new AssertionError("expected HTTP 101 but was " + text);
    }
    return text;
  }

  /** Reads server frames until a Close (returns its code) or the end of the connection (returns -1). */
  private static int readCloseCode(DataInputStream in) throws IOException {
    try {
      while (true) {
        int b0 = in.readUnsignedByte();
        int b1 = in.readUnsignedByte();
        long len = b1 & 0x7f;
        if (len == 126) {
          len = in.readUnsignedShort();
        } else if (len == 127) {
          len = in.readLong();
        }
        byte[] payload = new byte[(int) len];
        in.readFully(payload);
        if ((b0 & 0x0f) == 0x8) {
          int code = payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
          // After its Close the server must end the connection.
          int next = in.read();
          assertEquals(-1, next, "the server closes the connection after its Close frame");
          return code;
        }
      }
    } catch (EOFException | SocketException e) {
      return -1;
    } catch (SocketTimeoutException e) {
      throw new AssertionError("the server neither closed nor answered within 30 s");
    }
  }

  private DynamicTest http(String name, String request, String expectedStatusLine) {
    return http(name, ascii(request), expectedStatusLine);
  }

  private DynamicTest http(String name, byte[] request, String expectedStatusLine) {
    return dynamicTest(name, () -> assertEquals(expectedStatusLine, statusLineFor(request), name));
  }

  private DynamicTest ws(String name, byte[] afterUpgrade, int expectedCloseCode) {
    return dynamicTest(name, () -> assertEquals(expectedCloseCode, closeCodeAfter(afterUpgrade), name));
  }

  // ---- the catalogue ----------------------------------------------------------------------------------------------

  @TestFactory
  Stream<DynamicTest> catalogue() {
    List<DynamicTest> cases = new ArrayList<>();
    String bad = "HTTP/1.1 400 Bad Request";
    // The request line.
    cases.add(http("garbage instead of a request", "\u0001\u0002garbage\r\n\r\n", bad));
    cases.add(http("request line without a version", "GET /grpc\r\n\r\n", bad));
    cases.add(http("HTTP/1.0 upgrade", upgrade().replace("HTTP/1.1", "HTTP/1.0"), bad));
    cases.add(http("unknown HTTP version", upgrade().replace("HTTP/1.1", "HTTP/7.3"), bad));
    cases.add(http("POST upgrade", upgrade().replace("GET ", "POST "), "HTTP/1.1 405 Method Not Allowed"));
    cases.add(http("DELETE upgrade", upgrade().replace("GET ", "DELETE "), "HTTP/1.1 405 Method Not Allowed"));
    cases.add(http("unknown path", upgrade().replace("/grpc", "/admin"), "HTTP/1.1 404 Not Found"));
    cases.add(http("path traversal", upgrade().replace("/grpc", "/x/../grpc"), "HTTP/1.1 404 Not Found"));
    cases.add(http("request line over the limit", upgrade().replace("/grpc", "/grpc?" + "q".repeat(8000)),
        "HTTP/1.1 414 Request-URI Too Long"));
    // Headers.
    cases.add(http("no Host", without("Host", upgrade()), bad));
    cases.add(http("two Host headers", upgrade("Host: evil.example"), bad));
    cases.add(http("no Upgrade", without("Upgrade", upgrade()), bad));
    cases.add(http("Upgrade: h2c", upgrade().replace("Upgrade: websocket", "Upgrade: h2c"), bad));
    cases.add(http("no Connection", without("Connection", upgrade()), bad));
    cases.add(http("Connection: keep-alive only", upgrade().replace("Connection: Upgrade", "Connection: keep-alive"),
        bad));
    cases.add(http("no Sec-WebSocket-Key", without("Sec-WebSocket-Key", upgrade()), bad));
    cases.add(http("key of 8 bytes", upgrade().replace(KEY, "AAAAAAAAAAA="), bad));
    cases.add(http("key that is not base64", upgrade().replace(KEY, "!!!!not*base64!!!!!!!!!="), bad));
    cases.add(http("two keys", upgrade("Sec-WebSocket-Key: " + KEY), bad));
    cases.add(http("no version", without("Sec-WebSocket-Version", upgrade()), bad));
    cases.add(http("version 8", upgrade().replace("Version: 13", "Version: 8"), "HTTP/1.1 426 Upgrade Required"));
    cases.add(http("two versions", upgrade("Sec-WebSocket-Version: 8"), "HTTP/1.1 426 Upgrade Required"));
    cases.add(http("only other subprotocols", upgrade("Sec-WebSocket-Protocol: mqtt, chat"), bad));
    cases.add(http("one huge header", upgrade("X-Big: " + "a".repeat(20_000)),
        "HTTP/1.1 431 Request Header Fields Too Large"));
    StringBuilder many = new StringBuilder();
    for (int i = 0; i < 2000; i++) {
      many.append("X-H").append(i).append(": v\r\n");
    }
    cases.add(http("two thousand headers", upgrade().replace("\r\n\r\n", "\r\n" + many + "\r\n"),
        "HTTP/1.1 431 Request Header Fields Too Large"));
    cases.add(http("header line without a colon", upgrade("NotAHeader"), bad));
    cases.add(http("body on the upgrade", upgrade("Content-Length: 5") + "hello", bad));
    cases.add(http("chunked body on the upgrade", upgrade("Transfer-Encoding: chunked") + "5\r\nhello\r\n0\r\n\r\n",
        bad));
    cases.add(http("Origin outside the allow-list", upgrade("Origin: https://evil.example.net"),
        "HTTP/1.1 403 Forbidden"));
    cases.add(http("no bearer token", without("Authorization", upgrade()), "HTTP/1.1 401 Unauthorized"));
    cases.add(http("wrong bearer token", upgrade().replace(TOKEN, "guess"), "HTTP/1.1 401 Unauthorized"));
    cases.add(http("HTTP/2 preface where an upgrade belongs", PREFACE, "HTTP/1.1 404 Not Found"));
    cases.add(dynamicTest("request trickled one byte a second", () -> {
      try (Socket s = new Socket("127.0.0.1", port)) {
        s.setSoTimeout(30_000);
        OutputStream out = s.getOutputStream();
        byte[] request = ascii(upgrade());
        long started = System.nanoTime();
        int sent = 0;
        try {
          while (s.getInputStream().available() == 0 && sent < request.length) {
            out.write(request[sent++]);
            out.flush();
            Thread.sleep(1000);
          }
        } catch (SocketException closed) {
          // the server cut us off mid-trickle
        }
        String answer = readAll(s.getInputStream());
        assertTrue(answer.startsWith("HTTP/1.1 408 Request Timeout\r\n"), answer);
        assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(10), "cut off within the timeout");
      }
    }));
    cases.add(dynamicTest("request that never ends", () -> {
      try (Socket s = new Socket("127.0.0.1", port)) {
        s.setSoTimeout(30_000);
        s.getOutputStream().write(ascii("GET /grpc HTTP/1.1\r\nHost: x\r\n"));
        assertTrue(readAll(s.getInputStream()).startsWith("HTTP/1.1 408 Request Timeout\r\n"));
      }
    }));
    // Frames after the 101.
    byte[] hello = ascii("hello");
    cases.add(ws("unmasked client frame", frame(true, 0, 0x2, false, hello), 1002));
    cases.add(ws("RSV1 without an extension", frame(true, 4, 0x2, true, hello), 1002));
    cases.add(ws("RSV2 and RSV3", frame(true, 3, 0x2, true, hello), 1002));
    cases.add(ws("reserved data opcode 0x3", frame(true, 0, 0x3, true, hello), 1002));
    cases.add(ws("reserved control opcode 0xB", frame(true, 0, 0xB, true, hello), 1002));
    cases.add(ws("fragmented ping", frame(false, 0, 0x9, true, hello), 1002));
    cases.add(ws("ping of 126 bytes", frame(true, 0, 0x9, true, new byte[126]), 1002));
    cases.add(ws("continuation without a start", frame(true, 0, 0x0, true, hello), 1002));
    // The first fragment carries the start of a real preface, so that gRPC waits for more rather than ending the
    // tunnel itself; the interleaved message is then the decoder's to refuse.
    cases.add(ws("new message inside a fragmented one",
        concat(frame(false, 0, 0x2, true, ascii("PRI * ")), frame(true, 0, 0x2, true, hello)), 1002));
    cases.add(ws("close with reserved code 1005", close(1005, new byte[0]), 1002));
    cases.add(ws("close with code 999", close(999, new byte[0]), 1002));
    cases.add(ws("close with a one-byte payload", frame(true, 0, 0x8, true, new byte[] {3}), 1002));
    cases.add(ws("close with a reason that is not UTF-8", close(1000, new byte[] {(byte) 0xff, (byte) 0xfe}), 1007));
    cases.add(ws("text frame", frame(true, 0, 0x1, true, ascii("{\"json\":1}")), 1003));
    cases.add(ws("frame over the limit", binary(new byte[MAX_FRAME + 1]), 1009));
    cases.add(ws("frame claiming 2^63-1 bytes",
        new byte[] {(byte) 0x82, (byte) 0xff, 0x7f, -1, -1, -1, -1, -1, -1, -1, 1, 2, 3, 4}, 1009));
    cases.add(ws("frame length with the top bit set",
        new byte[] {(byte) 0x82, (byte) 0xff, (byte) 0x80, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4}, 1002));
    cases.add(ws("length 5 in the 16-bit form", new byte[] {(byte) 0x82, (byte) 0xfe, 0, 5, 1, 2, 3, 4, 9, 9, 9, 9, 9},
        1002));
    byte[] noise = new byte[4096];
    new Random(7).nextBytes(noise);
    noise[0] = (byte) 0xc2; // RSV1 set: never a valid first frame header
    cases.add(ws("random bytes right after the 101", noise, 1002));
    cases.add(ws("binary frames that are not HTTP/2", binary(ascii("GET / HTTP/1.1\r\n\r\n" + "x".repeat(100))),
        1001));
    cases.add(ws("HTTP/2 preface followed by garbage", binary(concat(PREFACE, noise)), 1001));
    cases.add(ws("client close 1000 is echoed", close(1000, ascii("bye")), 1000));
    cases.add(ws("client close 4000 (private use) is echoed", close(4000, new byte[0]), 4000));
    cases.add(dynamicTest("flood of ten thousand pings, answers unread", () -> {
      byte[] ping = frame(true, 0, 0x9, true, new byte[125]);
      ByteArrayOutputStream flood = new ByteArrayOutputStream();
      for (int i = 0; i < 10_000; i++) {
        flood.write(ping, 0, ping.length);
      }
      try (Socket s = new Socket("127.0.0.1", port)) {
        s.setSoTimeout(30_000);
        s.setReceiveBufferSize(4096);
        OutputStream out = s.getOutputStream();
        out.write(ascii(upgrade()));
        DataInputStream in = new DataInputStream(s.getInputStream());
        readHead(in);
        try {
          out.write(flood.toByteArray());
          out.write(close(1000, new byte[0]));
        } catch (SocketException closed) {
          // the server may end the tunnel first
        }
        int code = readCloseCode(in);
        assertTrue(code == 1000 || code == -1, "ends cleanly, was " + code);
      }
    }));
    cases.add(dynamicTest("close storm: 200 tunnels opened and closed at once", () -> {
      List<Socket> sockets = new ArrayList<>();
      try {
        for (int i = 0; i < 200; i++) {
          Socket s = new Socket("127.0.0.1", port);
          s.setSoTimeout(30_000);
          s.getOutputStream().write(concat(ascii(upgrade()), close(1001, new byte[0])));
          sockets.add(s);
        }
        for (Socket s : sockets) {
          DataInputStream in = new DataInputStream(s.getInputStream());
          readHead(in);
          assertEquals(1001, readCloseCode(in));
        }
      } finally {
        for (Socket s : sockets) {
          s.close();
        }
      }
    }));
    cases.add(dynamicTest("200 connections reset in mid-handshake", () -> {
      for (int i = 0; i < 200; i++) {
        try (Socket s = new Socket("127.0.0.1", port)) {
          s.setSoLinger(true, 0); // close sends RST
          s.getOutputStream().write(ascii(upgrade().substring(0, 40 + i % 60)));
        }
      }
      assertEquals("HTTP/1.1 404 Not Found", statusLineFor(ascii(upgrade().replace("/grpc", "/after-resets"))));
    }));
    return cases.stream();
  }
}
