package dev.wsgrpc.it;

import static dev.wsgrpc.it.TunnelH2.CONTINUATION;
import static dev.wsgrpc.it.TunnelH2.DATA;
import static dev.wsgrpc.it.TunnelH2.END_HEADERS;
import static dev.wsgrpc.it.TunnelH2.END_STREAM;
import static dev.wsgrpc.it.TunnelH2.HEADERS;
import static dev.wsgrpc.it.TunnelH2.PRIORITY;
import static dev.wsgrpc.it.TunnelH2.PUSH_PROMISE;
import static dev.wsgrpc.it.TunnelH2.SETTINGS;
import static dev.wsgrpc.it.TunnelH2.SETTINGS_ENABLE_PUSH;
import static dev.wsgrpc.it.TunnelH2.SETTINGS_HEADER_TABLE_SIZE;
import static dev.wsgrpc.it.TunnelH2.SETTINGS_INITIAL_WINDOW_SIZE;
import static dev.wsgrpc.it.TunnelH2.SETTINGS_MAX_FRAME_SIZE;
import static dev.wsgrpc.it.TunnelH2.frame;
import static dev.wsgrpc.it.TunnelH2.requestBlock;
import static dev.wsgrpc.it.TunnelH2.settings;
import static dev.wsgrpc.it.TunnelH2.unaryCall;
import static dev.wsgrpc.testing.Http2Wire.windowUpdate;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.Http2Wire;
import dev.wsgrpc.testing.WireFrames;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import io.grpc.ManagedChannel;
import io.netty.handler.codec.http2.Http2Error;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * The hostile-input catalogue: every case sends raw bytes over a real socket to one running server and asserts the
 * exact answer: the HTTP status line, or the WebSocket close code and reason, or (for HTTP/2 inside a tunnel) the
 * GOAWAY or RST_STREAM error code and whether a probe call afterwards still completes. Throughout the barrage a
 * well-behaved client keeps calling on its own tunnel and must never fail; afterwards the server's heap and Netty's
 * direct memory must not have grown beyond a bound. Leaks fail the build through the paranoid leak check.
 *
 * <p>Each subclass runs the whole catalogue against one server it starts once: {@link HostileInputCatalogueTest}
 * the library server in this JVM, {@link GatewayHostileInputCatalogueTest} the jar as a process in proxy mode,
 * {@link RelayHostileInputCatalogueTest} the jar in relay mode. All have a bearer token, a 5 s handshake timeout and
 * 64 KiB frames, so that the answers are the same unless {@link #expected} says otherwise (the Origin rule differs by
 * configuration, see {@link #originAllowList}). Cases share nothing but the server, so the classes may run in
 * parallel.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 300, unit = TimeUnit.SECONDS)
abstract class HostileInputCatalogue {

  static final String TOKEN = "g00d-t0ken";
  static final String ORIGIN = "https://app.example.com";
  /** A session cookie that a target may accept as an ambient credential (see {@link #originAllowList}). */
  static final String SESSION = "s3ss10n";
  static final int MAX_FRAME = 64 * 1024;
  static final String KEY = "dGhlIHNhbXBsZSBub25jZQ==";
  /** Growth allowed after the barrage, measured after a full GC: heap, and Netty's direct memory. */
  static final long HEAP_GROWTH_LIMIT = 64L * 1024 * 1024;
  static final long DIRECT_GROWTH_LIMIT = 64L * 1024 * 1024;

  private final AtomicBoolean stop = new AtomicBoolean();
  private final AtomicInteger goodCalls = new AtomicInteger();
  private final AtomicReference<Throwable> goodFailure = new AtomicReference<>();
  /** What the server under test and the good client opened, closed after the barrage. */
  final Closer closer = new Closer();
  private ManagedChannel goodClient;
  private Thread goodLoop;
  private TunnelServerJar.Memory before;

  /** Starts the server under test (what it opens goes to {@link #closer}); returns a channel for the good client. */
  abstract ManagedChannel startServer() throws Exception;

  abstract int port();

  /** The server's memory after a full GC. */
  abstract TunnelServerJar.Memory memory() throws Exception;

  /**
   * The answer this server gives to case {@code name}, whose answer from the library server is {@code answer};
   * returning a string that starts with {@code "waiting for "} skips the case (until that fix lands).
   */
  String expected(String name, String answer) {
    return answer;
  }

  /**
   * Whether the server allows {@link #ORIGIN} only (the jar's targets); else (the library's target) it has no
   * allow-list and an authenticator that also reads an ambient credential ({@code Cookie: session=SESSION}), so
   * that only pages of the Host's own site may open tunnels (issue 12 item 7).
   */
  boolean originAllowList() {
    return true;
  }

  /** The 403 body for a browser upgrade from {@code origin}, another site than the Host. */
  String crossSiteRefusal(String origin) {
    return "HTTP/1.1 403 Forbidden | " + (originAllowList() ? "expected an allowed Origin but was '" + origin + "'"
        : "expected an Origin of the same site as Host '127.0.0.1' (the authenticator reads credentials browsers "
            + "send by themselves; list the origins allowed to use them) but was '" + origin + "'");
  }

  @BeforeAll
  void start() throws Exception {
    goodClient = closer.add(startServer());
    // One call before the barrage, so that a cold start on a busy machine is not counted against the good client.
    EchoGrpc.newBlockingStub(goodClient).withWaitForReady().withDeadlineAfter(60, TimeUnit.SECONDS)
        .unary(EchoService.payload(1));
    before = memory();
    goodLoop = new Thread(() -> {
      EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(goodClient);
      while (!stop.get()) {
        try {
          stub.withDeadlineAfter(30, TimeUnit.SECONDS).unary(EchoService.payload(100));
          goodCalls.incrementAndGet();
        } catch (RuntimeException e) {
          goodFailure.compareAndSet(null, e);
        }
        try {
          Thread.sleep(5); // after a failure too: calls that fail at once must not spin a core for the rest
        } catch (InterruptedException e) {
          return;
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
      TunnelServerJar.Memory after = memory();
      System.out.println(getClass().getSimpleName() + ": memory before the barrage " + before + ", after " + after
          + "; the good client made " + goodCalls.get() + " calls");
      assertTrue(after.heap() - before.heap() < HEAP_GROWTH_LIMIT,
          "heap grew from " + before + " to " + after + " during the barrage");
      assertTrue(after.direct() - before.direct() < DIRECT_GROWTH_LIMIT,
          "Netty's direct memory grew from " + before + " to " + after + " during the barrage");
    } finally {
      closer.close();
    }
  }

  // ---- building requests and frames -------------------------------------------------------------------------------

  /** A valid, authenticated upgrade request with these header lines added (or replacing, via {@link #without}). */
  static String upgrade(String... extra) {
    StringBuilder b = new StringBuilder("GET /grpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        + "Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY + "\r\nSec-WebSocket-Version: 13\r\n"
        + "Authorization: Bearer " + TOKEN + "\r\n");
    for (String line : extra) {
      b.append(line).append("\r\n");
    }
    return b.append("\r\n").toString();
  }

  /** {@link #upgrade} without the header named {@code name}. */
  static String without(String name, String request) {
    return request.replaceAll("(?im)^" + name + ":[^\\r]*\\r\\n", "");
  }

  static byte[] binary(byte[] payload) {
    return WireFrames.frame(true, 0, 0x2, true, payload);
  }

  static byte[] wsFrame(boolean fin, int rsv, int opcode, byte[] payload) {
    return WireFrames.frame(fin, rsv, opcode, true, payload);
  }

  static byte[] close(int code, byte[] reason) {
    byte[] p = new byte[2 + reason.length];
    p[0] = (byte) (code >>> 8);
    p[1] = (byte) code;
    System.arraycopy(reason, 0, p, 2, reason.length);
    return WireFrames.frame(true, 0, 0x8, true, p);
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.write(p, 0, p.length);
    }
    return out.toByteArray();
  }

  static byte[] repeat(byte[] part, int times) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(part.length * times);
    for (int i = 0; i < times; i++) {
      out.write(part, 0, part.length);
    }
    return out.toByteArray();
  }

  static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  /** HTTP/2 bytes as binary WebSocket frames of at most 60,000 bytes (below the server's 64 KiB limit). */
  static byte[] tunnelled(byte[] h2) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(h2.length + h2.length / 1000 + 16);
    for (int at = 0; at < h2.length; at += 60_000) {
      byte[] f = binary(java.util.Arrays.copyOfRange(h2, at, Math.min(h2.length, at + 60_000)));
      out.write(f, 0, f.length);
    }
    return out.toByteArray();
  }

  // ---- running cases ----------------------------------------------------------------------------------------------

  Socket connect() throws IOException {
    Socket s = new Socket("127.0.0.1", port());
    s.setSoTimeout(30_000);
    return s;
  }

  /**
   * Sends {@code bytes}, which start like an HTTP/2 connection, and returns the status line when the server answers
   * in HTTP/1.1, or {@code "native gRPC: "} and what the server answered in HTTP/2 once the call on stream 1 ended.
   */
  String plainOrNativeAnswer(byte[] bytes) throws IOException {
    try (Socket s = connect()) {
      s.getOutputStream().write(bytes);
      InputStream in = s.getInputStream();
      byte[] first = in.readNBytes(5);
      if (new String(first, StandardCharsets.ISO_8859_1).equals("HTTP/")) {
        String all = "HTTP/" + readAll(in);
        return all.substring(0, all.indexOf("\r\n"));
      }
      TunnelH2.Reader h2 = new TunnelH2.Reader();
      h2.read(first);
      byte[] buf = new byte[8192];
      for (int n; !h2.ended(1) && (n = in.read(buf)) != -1; ) {
        h2.read(java.util.Arrays.copyOf(buf, n));
      }
      return "native gRPC: " + h2.summary(1);
    }
  }

  /** Sends {@code request}, reads until the server closes, and returns the status line of its answer. */
  String statusLineFor(byte[] request) throws IOException {
    try (Socket s = connect()) {
      s.getOutputStream().write(request);
      InputStream in = s.getInputStream();
      // A 101 is the answer (the tunnel is then the case's to use); anything else must be followed by the close.
      byte[] first = in.readNBytes(12);
      String start = new String(first, StandardCharsets.ISO_8859_1);
      String all = start.equals("HTTP/1.1 101") ? start + readLine(in) : start + readAll(in);
      return all.isEmpty() ? "(closed without an answer)" : all.substring(0, all.indexOf("\r\n"));
    }
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    for (int b; (b = in.read()) != -1; ) {
      line.write(b);
      if (b == '\n') {
        break;
      }
    }
    return line.toString(StandardCharsets.ISO_8859_1);
  }

  static String readAll(InputStream in) throws IOException {
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
    return all.toString(StandardCharsets.ISO_8859_1);
  }

  static String readHead(DataInputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      head.write(in.readUnsignedByte());
    }
    String text = head.toString(StandardCharsets.ISO_8859_1);
    if (!text.startsWith("HTTP/1.1 101 ")) {
      throw new AssertionError("expected HTTP 101 but was " + text);
    }
    return text;
  }

  /**
   * Reads server frames until a Close, and returns {@code "close CODE REASON"}, or {@code "cut without a Close"}
   * when the connection ends without one. Binary frames before it go to {@code h2} when given; pings are answered.
   */
  static String readClose(Socket s, DataInputStream in, TunnelH2.Reader h2) throws IOException {
    return readClose(s, in, h2, 0);
  }

  /**
   * {@link #readClose(Socket, DataInputStream, TunnelH2.Reader)}; once the probe call on {@code probeStream} (when
   * positive) has ended, sends a Close 1000 first. The server's Close is answered as a client would, Close and then
   * the end of its output (which spares the wait a server grants a peer to read its Close), and then the server
   * must end the connection.
   */
  static String readClose(Socket s, DataInputStream in, TunnelH2.Reader h2, int probeStream) throws IOException {
    OutputStream out = s.getOutputStream();
    boolean closeSent = false;
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
        int opcode = b0 & 0x0f;
        pong(out, opcode, payload);
        if (opcode == 0x2 && h2 != null) {
          h2.read(payload);
          byte[] acks = h2.takePingAcks();
          if (acks.length > 0 && !closeSent) {
            send(out, binary(acks)); // as a client acknowledges the server's HTTP/2 PINGs
          }
          if (!closeSent && probeStream > 0 && h2.ended(probeStream)) {
            closeSent = send(out, close(1000, new byte[0]));
          }
        }
        if (opcode == 0x8) {
          String answer = payload.length >= 2
              ? "close " + (((payload[0] & 0xff) << 8) | (payload[1] & 0xff))
                  + (payload.length > 2 ? " " + new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8)
                      : "")
              : "close without a code";
          if (!closeSent) {
            send(out, close(1000, new byte[0]));
          }
          try {
            s.shutdownOutput();
            int next = in.read();
            assertEquals(-1, next, "the server closes the connection after its Close frame");
          } catch (SocketException reset) {
            // ended, by a reset
          }
          return answer;
        }
      }
    } catch (EOFException | SocketException e) {
      return "cut without a Close";
    } catch (SocketTimeoutException e) {
      throw new AssertionError("the server neither closed nor answered within 30 s"
          + (h2 == null ? "" : " (HTTP/2 so far: " + h2.summary(probeStream) + ")"));
    }
  }

  /** Writes {@code bytes}; false when the server has already closed (what it sent is read next). */
  private static boolean send(OutputStream out, byte[] bytes) {
    try {
      out.write(bytes);
      out.flush();
      return true;
    } catch (IOException gone) {
      return false;
    }
  }

  /** Answers a server's ping as a client does (else a long case would end as a silent peer). */
  private static void pong(OutputStream out, int opcode, byte[] payload) {
    if (opcode == 0x9) {
      send(out, wsFrame(true, 0, 0xA, payload));
    }
  }

  /** Upgrades, then sends {@code afterUpgrade} (in the same write when {@code pipelined}) and reads the Close. */
  String closeAfter(byte[] afterUpgrade, boolean pipelined) throws IOException {
    try (Socket s = connect()) {
      OutputStream out = s.getOutputStream();
      DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
      if (pipelined) {
        out.write(concat(ascii(upgrade()), afterUpgrade));
        readHead(in);
      } else {
        out.write(ascii(upgrade()));
        readHead(in);
        out.write(afterUpgrade);
      }
      out.flush();
      return readClose(s, in, null);
    }
  }

  /**
   * Upgrades and speaks HTTP/2 in the tunnel: the preface and an empty SETTINGS, then {@code attack}, then a probe
   * unary call on stream {@code probeStream} (when it is positive) and, once its trailers arrive, a Close 1000.
   * When {@code unread} the whole attack is written before anything is read (a peer that does not read the
   * server's answers). Returns the server's HTTP/2 answer and how the tunnel ended.
   */
  String h2Answer(byte[] attack, int probeStream, boolean unread) throws Exception {
    try (Socket s = connect()) {
      if (unread) {
        s.setReceiveBufferSize(4096);
      }
      OutputStream out = s.getOutputStream();
      DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
      out.write(ascii(upgrade()));
      readHead(in);
      TunnelH2.Reader h2 = new TunnelH2.Reader();
      byte[] start = concat(TunnelH2.PREFACE, settings(), attack);
      AtomicReference<String> ended = new AtomicReference<>();
      java.util.concurrent.atomic.AtomicLong progress = new java.util.concurrent.atomic.AtomicLong(System.nanoTime());
      Thread writer = new Thread(() -> {
        try {
          byte[] frames = tunnelled(start);
          for (int at = 0; at < frames.length; at += 65_536) {
            out.write(frames, at, Math.min(65_536, frames.length - at));
            progress.set(System.nanoTime());
          }
          if (probeStream > 0) {
            out.write(tunnelled(unaryCall(probeStream)));
          }
          out.flush();
        } catch (IOException e) {
          ended.set("the server stopped reading: " + e);
        }
      }, "catalogue-writer");
      writer.start();
      if (unread) {
        // Read nothing until the whole attack is written, or until the server has stopped reading it (no progress
        // for two seconds: back-pressure); either way the answer is the same.
        while (writer.isAlive() && System.nanoTime() - progress.get() < TimeUnit.SECONDS.toNanos(2)) {
          writer.join(100);
        }
        s.setReceiveBufferSize(1 << 20);
      }
      String answer = readClose(s, in, h2, probeStream);
      writer.join(TimeUnit.SECONDS.toMillis(60));
      String summary = h2.summary(probeStream);
      return summary.isEmpty() ? answer : summary + "; " + answer;
    }
  }

  /**
   * Cases that found a problem whose fix is not in yet, with what they found; skipped (on every target) until then.
   */
  private static final java.util.Map<String, String> FOUND = java.util.Map.of();

  /** Cases that found a problem whose fix is not in yet on this target: {@link #FOUND} and the target's own. */
  java.util.Map<String, String> found() {
    return FOUND;
  }

  /** What this target must answer to case {@code name}, whose answer from the library server is {@code answer}. */
  private String resolved(String name, String libraryAnswer) {
    return found().getOrDefault(name, expected(name, libraryAnswer));
  }

  private DynamicTest check(String name, String libraryAnswer, Answer answer) {
    String expected = resolved(name, libraryAnswer);
    return dynamicTest(name, () -> {
      Assumptions.assumeFalse(expected.startsWith("waiting for "), expected);
      String actual = answer.get();
      if (Boolean.getBoolean("catalogue.print")) {
        System.out.println("[catalogue] " + getClass().getSimpleName() + " | " + name + " | " + actual);
      }
      assertEquals(expected, actual, name);
    });
  }

  interface Answer {
    String get() throws Exception;
  }

  DynamicTest http(String name, String request, String expectedStatusLine) {
    return http(name, ascii(request), expectedStatusLine);
  }

  DynamicTest http(String name, byte[] request, String expectedStatusLine) {
    return check(name, expectedStatusLine, () -> statusLineFor(request));
  }

  /** A case whose answer is the status line and the whole body of a refusal, as {@code "STATUS LINE | body"}. */
  DynamicTest refusal(String name, String request, String expectedStatusAndBody) {
    return check(name, expectedStatusAndBody, () -> {
      try (Socket s = connect()) {
        s.getOutputStream().write(ascii(request));
        String all = readAll(s.getInputStream());
        int headEnd = all.indexOf("\r\n\r\n");
        return headEnd < 0 ? all : all.substring(0, all.indexOf("\r\n")) + " | " + all.substring(headEnd + 4).trim();
      }
    });
  }

  /**
   * {@link #ws} for a flood the server ends while it is still arriving: written while the answer is read, and a
   * {@link #flood} (a cut may take the place of the Close).
   */
  DynamicTest wsFlood(String name, byte[] afterUpgrade, String expectedClose) {
    return flood(name, expectedClose, () -> {
      try (Socket s = connect()) {
        OutputStream out = s.getOutputStream();
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
        out.write(ascii(upgrade()));
        readHead(in);
        Thread writer = new Thread(() -> send(out, afterUpgrade), "catalogue-writer");
        writer.start();
        String answer = readClose(s, in, null);
        writer.join(TimeUnit.SECONDS.toMillis(60));
        return answer;
      }
    });
  }

  DynamicTest ws(String name, byte[] afterUpgrade, String expectedClose) {
    return check(name, expectedClose, () -> closeAfter(afterUpgrade, false));
  }

  DynamicTest h2(String name, byte[] attack, String expected) {
    return check(name, expected, () -> h2Answer(attack, PROBE, false));
  }

  /**
   * {@link #h2} for a flood the server ends with a GOAWAY while the attacker is still sending (see {@link #flood}).
   */
  DynamicTest h2Flood(String name, byte[] attack, String expected) {
    return flood(name, expected, () -> h2Answer(attack, PROBE, false));
  }

  /**
   * A case whose answer, when it is a GOAWAY, may lose its end or its start without anything being wrong: the server
   * closes with the attacker's bytes unread, which may reset the connection and destroy its Close in the attacker's
   * receive buffer, so a cut is accepted in place of the expected Close (after the expected GOAWAY, if any); and where
   * {@link #floodGoAwayMayBeLost} the GOAWAY itself may be missing before the expected Close.
   */
  DynamicTest flood(String name, String expected, Answer answer) {
    String want = resolved(name, expected);
    int close = want.lastIndexOf("; close ");
    boolean goAway = want.startsWith("GOAWAY ") && close >= 0;
    String cut = goAway ? want.substring(0, close) + "; cut without a Close"
        : want.startsWith("close ") ? "cut without a Close" : null;
    String closeOnly = goAway ? want.substring(close + 2) : null;
    // A Close that names an HTTP/2 error: in relay mode, the upstream's GOAWAY's, so that where the GOAWAY is lost
    // the tunnel ends as the upstream did, with close 1001.
    String unnamed = want.matches("(.*; )?close 10\\d\\d HTTP/2 .*") ? "close 1001" : null;
    return check(name, expected, () -> {
      String actual = answer.get();
      return actual.equals(cut) || (floodGoAwayMayBeLost() && (actual.equals(closeOnly) || actual.equals(unnamed)))
          ? want : actual;
    });
  }

  /**
   * Whether a flood's GOAWAY may be missing before the expected Close on this target without anything being wrong
   * (relay mode: see its override).
   */
  boolean floodGoAwayMayBeLost() {
    return false;
  }

  /**
   * The answer to an HTTP/2 connection error inside the tunnel: gRPC's GOAWAY with its code and debug text, then a
   * Close that says the same for a client that reads no GOAWAY (1008 for ENHANCE_YOUR_CALM, else 1002), its reason
   * cut to a Close's 123 bytes.
   */
  static String goAwayThenClose(String error, String debug) {
    String reason = "HTTP/2 " + error + ": " + debug; // ASCII: a byte a character
    return "GOAWAY " + error + " '" + debug + "'; close " + (error.equals("ENHANCE_YOUR_CALM") ? 1008 : 1002) + " "
        + reason.substring(0, Math.min(reason.length(), 123));
  }

  /** The probe call's stream: above every stream an attack opens. */
  static final int PROBE = 0x7ffffff1;

  // ---- the catalogue ----------------------------------------------------------------------------------------------

  @TestFactory
  Stream<DynamicTest> catalogue() {
    List<DynamicTest> cases = new ArrayList<>();
    upgradeRequests(cases);
    smuggling(cases);
    refusalBodies(cases);
    frames(cases);
    closeCodes(cases);
    http2InTheTunnel(cases);
    floods(cases);
    return cases.stream();
  }

  private void upgradeRequests(List<DynamicTest> cases) {
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
    // The cross-site rule refuses other sites only: the Host's own page may use its ambient credential.
    cases.add(http("same-site upgrade with a session cookie", without("Authorization",
        upgrade("Cookie: session=" + SESSION, "Origin: http://127.0.0.1")), "HTTP/1.1 101 Switching Protocols"));
    cases.add(http("no bearer token", without("Authorization", upgrade()), "HTTP/1.1 401 Unauthorized"));
    cases.add(http("wrong bearer token", upgrade().replace(TOKEN, "guess"), "HTTP/1.1 401 Unauthorized"));
    // A whole call without a token, as a native gRPC client sends it: a server that serves native gRPC on this port
    // must put it behind the same gate as tunnels (issue 12 item 1).
    cases.add(check("HTTP/2 preface where an upgrade belongs", "HTTP/1.1 404 Not Found",
        () -> plainOrNativeAnswer(concat(TunnelH2.PREFACE, settings(), unaryCall(1)))));
    // What the default exposes (issue 12 item 8): a server with an admin listener serves /metrics there only.
    cases.add(http("GET /metrics on the tunnel port", "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Connection: close\r\n\r\n", "HTTP/1.1 404 Not Found"));
    cases.add(check("request trickled one byte a second", "HTTP/1.1 408 Request Timeout, within 10 s", () -> {
      try (Socket s = connect()) {
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
        boolean inTime = System.nanoTime() - started < TimeUnit.SECONDS.toNanos(10);
        return answer.substring(0, Math.max(0, answer.indexOf("\r\n"))) + (inTime ? ", within 10 s" : ", too late");
      }
    }));
    cases.add(check("request that never ends", "HTTP/1.1 408 Request Timeout", () -> {
      try (Socket s = connect()) {
        s.getOutputStream().write(ascii("GET /grpc HTTP/1.1\r\nHost: x\r\n"));
        String answer = readAll(s.getInputStream());
        return answer.substring(0, Math.max(0, answer.indexOf("\r\n")));
      }
    }));
  }

  /** Request smuggling and header injection aimed at the upgrade. */
  private void smuggling(List<DynamicTest> cases) {
    String bad = "HTTP/1.1 400 Bad Request";
    cases.add(http("Content-Length with Transfer-Encoding",
        upgrade("Content-Length: 5", "Transfer-Encoding: chunked") + "0\r\n\r\n", bad));
    cases.add(http("duplicate Content-Length", upgrade("Content-Length: 0", "Content-Length: 5") + "hello", bad));
    cases.add(http("Content-Length: 0 twice", upgrade("Content-Length: 0", "Content-Length: 0"), bad));
    cases.add(http("negative Content-Length", upgrade("Content-Length: -1"), bad));
    cases.add(http("Transfer-Encoding: chunked, identity", upgrade("Transfer-Encoding: chunked, identity")
        + "0\r\n\r\n", bad));
    // RFC 9112 6.3: a final transfer coding other than chunked leaves the body's length unknown; its bytes must not
    // be read as frames.
    cases.add(refusal("Transfer-Encoding: gzip", upgrade("Transfer-Encoding: gzip") + "hello",
        bad + " | expected no Transfer-Encoding or 'chunked' but was gzip"));
    cases.add(refusal("Transfer-Encoding: identity", upgrade("Transfer-Encoding: identity") + "hello",
        bad + " | expected no Transfer-Encoding or 'chunked' but was identity"));
    cases.add(http("bare LF line endings", upgrade().replace("\r\n", "\n"), bad));
    cases.add(http("bare CR inside a header", upgrade("X-A: one\rX-B: two"), bad));
    // RFC 9112 5.2 lets a server replace obs-fold with a space (Netty's decoder does) rather than refuse it.
    cases.add(http("obs-fold continuation line", upgrade("X-Folded: one", " two"),
        "HTTP/1.1 101 Switching Protocols"));
    cases.add(http("obs-fold inside Authorization", upgrade().replace("Authorization: Bearer " + TOKEN,
        "Authorization: Bearer\r\n " + TOKEN), "HTTP/1.1 101 Switching Protocols"));
    cases.add(http("NUL byte in a header value", upgrade("X-Nul: a\u0000b"), bad));
    cases.add(http("NUL byte in a header name", upgrade("X-N\u0000ul: v"), bad));
    cases.add(http("NUL byte in the path", upgrade().replace("/grpc", "/grpc\u0000.png"), "HTTP/1.1 404 Not Found"));
    cases.add(http("space before the colon", upgrade().replace("Upgrade: websocket", "Upgrade : websocket"), bad));
    cases.add(http("absolute-form target for this server",
        upgrade().replace("GET /grpc", "GET http://127.0.0.1/grpc"), "HTTP/1.1 404 Not Found"));
    cases.add(http("absolute-form target for another host",
        upgrade().replace("GET /grpc", "GET http://evil.example/grpc"), "HTTP/1.1 404 Not Found"));
    cases.add(http("authority-form target (CONNECT)", upgrade().replace("GET /grpc", "CONNECT 127.0.0.1:80"),
        "HTTP/1.1 404 Not Found"));
    cases.add(http("asterisk-form target", upgrade().replace("GET /grpc", "OPTIONS *"),
        "HTTP/1.1 404 Not Found"));
    cases.add(http("percent-encoded path", upgrade().replace("GET /grpc", "GET /%67rpc"), "HTTP/1.1 404 Not Found"));
    cases.add(http("lower-case method", upgrade().replace("GET /grpc", "get /grpc"),
        "HTTP/1.1 405 Method Not Allowed"));
    cases.add(http("duplicate Authorization, the second one wrong", upgrade("Authorization: Bearer guess"), bad));
    cases.add(http("duplicate Authorization, both right", upgrade("Authorization: Bearer " + TOKEN), bad));
    cases.add(http("Origin: null", upgrade("Origin: null"), "HTTP/1.1 403 Forbidden"));
    cases.add(http("allowed Origin with a trailing slash", upgrade("Origin: " + ORIGIN + "/"),
        "HTTP/1.1 403 Forbidden"));
    cases.add(http("allowed Origin as a prefix of another host", upgrade("Origin: " + ORIGIN + ".evil.example"),
        "HTTP/1.1 403 Forbidden"));
    cases.add(http("two Origin headers, the first allowed", upgrade("Origin: " + ORIGIN,
        "Origin: https://evil.example"), bad));
    cases.add(check("pipelined second request after a refused upgrade", "HTTP/1.1 401 Unauthorized, one answer",
        () -> {
          try (Socket s = connect()) {
            s.getOutputStream().write(ascii(without("Authorization", upgrade()) + upgrade()));
            String all = readAll(s.getInputStream());
            int answers = all.split("HTTP/1\\.1 ", -1).length - 1;
            return all.substring(0, all.indexOf("\r\n")) + (answers == 1 ? ", one answer" : ", " + answers
                + " answers");
          }
        }));
    cases.add(check("pipelined second request after the upgrade", "close 1002 expected RSV bits 0 (no extension "
        + "was negotiated) but was 4 in a reserved (0x7) frame",
        () -> closeAfter(ascii("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), true)));
    cases.add(check("permessage-deflate offer is ignored", "101, no extension", () -> {
      try (Socket s = connect()) {
        s.getOutputStream().write(ascii(upgrade("Sec-WebSocket-Extensions: permessage-deflate; "
            + "client_max_window_bits", "Sec-WebSocket-Extensions: x-webkit-deflate-frame")));
        String head = readHead(new DataInputStream(new java.io.BufferedInputStream(s.getInputStream())));
        return "101, " + (head.toLowerCase(java.util.Locale.ROOT).contains("sec-websocket-extensions")
            ? "extension accepted" : "no extension");
      }
    }));
    cases.add(check("compressed frame after a permessage-deflate offer", "close 1002 expected RSV bits 0 (no "
        + "extension was negotiated) but was 4 in a binary frame", () -> {
          try (Socket s = connect()) {
            OutputStream out = s.getOutputStream();
            out.write(ascii(upgrade("Sec-WebSocket-Extensions: permessage-deflate")));
            DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
            readHead(in);
            out.write(wsFrame(true, 4, 0x2, new byte[] {(byte) 0xf2, 0x48, (byte) 0xcd, (byte) 0xc9, (byte) 0xc9,
                0x07, 0x00}));
            return readClose(s, in, null);
          }
        }));
  }

  /**
   * The whole answer to refused upgrades (issue 12 items 7 and 8): plain words saying what was expected, never the
   * HTTP decoder's message (its internals, and perhaps the bytes that arrived), nor a secret.
   */
  private void refusalBodies(List<DynamicTest> cases) {
    String badLine = "HTTP/1.1 400 Bad Request | expected a request line such as 'GET /grpc HTTP/1.1' but it was "
        + "malformed";
    String badHeaders = "HTTP/1.1 400 Bad Request | expected header lines of the form 'Name: value' but they were "
        + "malformed";
    cases.add(refusal("refusal body: garbage instead of a request", "\u0001\u0002garbage\r\n\r\n", badLine));
    cases.add(refusal("refusal body: unknown HTTP version", upgrade().replace("HTTP/1.1", "HTTP/7.3"),
        "HTTP/1.1 400 Bad Request | expected HTTP/1.1 but was HTTP/7.3"));
    cases.add(refusal("refusal body: NUL byte in a header name", upgrade("X-N\u0000ul: v"), badHeaders));
    cases.add(refusal("refusal body: header line without a colon", upgrade("NotAHeader"), badHeaders));
    cases.add(refusal("refusal body: bare CR inside a header", upgrade("X-A: one\rX-B: two"), badHeaders));
    cases.add(refusal("refusal body: invalid Content-Length", upgrade("Content-Length: 5x"), badHeaders));
    cases.add(refusal("refusal body: wrong bearer token", upgrade().replace(TOKEN, "s3cret-guess"),
        "HTTP/1.1 401 Unauthorized | the bearer token is not valid"));
    cases.add(refusal("refusal body: Origin of another site", upgrade("Origin: https://evil.example.net"),
        crossSiteRefusal("https://evil.example.net")));
    cases.add(refusal("refusal body: Origin: null", upgrade("Origin: null"), crossSiteRefusal("null")));
    // A page of another site whose browser sends the session cookie by itself (cross-site WebSocket hijacking).
    cases.add(refusal("refusal body: cross-site upgrade with a session cookie", without("Authorization",
        upgrade("Cookie: session=" + SESSION, "Origin: https://evil.example.net")),
        crossSiteRefusal("https://evil.example.net")));
  }

  private void frames(List<DynamicTest> cases) {
    byte[] hello = ascii("hello");
    cases.add(ws("unmasked client frame", WireFrames.frame(true, 0, 0x2, false, hello),
        "close 1002 expected a masked frame (a client masks every frame) but it was not masked"));
    cases.add(ws("RSV1 without an extension", wsFrame(true, 4, 0x2, hello),
        "close 1002 expected RSV bits 0 (no extension was negotiated) but was 4 in a binary frame"));
    cases.add(ws("RSV2 and RSV3", wsFrame(true, 3, 0x2, hello),
        "close 1002 expected RSV bits 0 (no extension was negotiated) but was 3 in a binary frame"));
    cases.add(ws("reserved data opcode 0x3", wsFrame(true, 0, 0x3, hello),
        "close 1002 expected a defined opcode but was reserved opcode 0x3"));
    cases.add(ws("reserved control opcode 0xB", wsFrame(true, 0, 0xB, hello),
        "close 1002 expected a defined opcode but was reserved opcode 0xb"));
    cases.add(ws("fragmented ping", wsFrame(false, 0, 0x9, hello),
        "close 1002 expected control frames to be final but a ping frame was fragmented"));
    cases.add(ws("ping of 126 bytes", wsFrame(true, 0, 0x9, new byte[126]),
        "close 1002 expected a control frame payload of at most 125 bytes but a ping frame announced a "
        + "16-bit length"));
    cases.add(ws("continuation without a start", wsFrame(true, 0, 0x0, hello),
        "close 1002 expected a text or binary frame to start a message but was a "
        + "continuation frame"));
    // The first fragment carries the start of a real preface, so that gRPC waits for more rather than ending the
    // tunnel itself; the interleaved message is then the decoder's to refuse.
    cases.add(ws("new message inside a fragmented one",
        concat(wsFrame(false, 0, 0x2, ascii("PRI * ")), wsFrame(true, 0, 0x2, hello)),
        "close 1002 expected a continuation frame inside a fragmented message but was a "
        + "binary frame"));
    cases.add(ws("text frame", wsFrame(true, 0, 0x1, ascii("{\"json\":1}")),
        "close 1003 expected binary frames but was a text frame"));
    cases.add(ws("empty text frame", wsFrame(true, 0, 0x1, new byte[0]),
        "close 1003 expected binary frames but was a text frame"));
    cases.add(ws("frame over the limit", binary(new byte[MAX_FRAME + 1]),
        "close 1009 Max frame length of 65536 has been exceeded."));
    cases.add(ws("frame claiming 2^63-1 bytes",
        new byte[] {(byte) 0x82, (byte) 0xff, 0x7f, -1, -1, -1, -1, -1, -1, -1, 1, 2, 3, 4},
        "close 1009 Max frame length of 65536 has been exceeded."));
    cases.add(ws("frame claiming 2^32 bytes",
        new byte[] {(byte) 0x82, (byte) 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4},
        "close 1009 Max frame length of 65536 has been exceeded."));
    cases.add(ws("frame length with the top bit set",
        new byte[] {(byte) 0x82, (byte) 0xff, (byte) 0x80, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4},
        "close 1002 expected a 64-bit length with the most significant bit 0 but was "
        + "0x8000000000000005"));
    cases.add(ws("length 5 in the 16-bit form", new byte[] {(byte) 0x82, (byte) 0xfe, 0, 5, 1, 2, 3, 4, 9, 9, 9, 9, 9},
        "close 1002 expected the shortest length encoding but 5 was sent in 2 bytes"));
    cases.add(ws("length 200 in the 64-bit form",
        concat(new byte[] {(byte) 0x82, (byte) 0xff, 0, 0, 0, 0, 0, 0, 0, (byte) 200, 1, 2, 3, 4}, new byte[200]),
        "close 1002 expected the shortest length encoding but 200 was sent in 8 bytes"));
    // The limit is per frame: fragments pass on as they come, here as bytes that are not HTTP/2's preface.
    cases.add(wsFlood("fragments adding up past the frame limit",
        concat(wsFrame(false, 0, 0x2, new byte[MAX_FRAME]), wsFrame(true, 0, 0x0, new byte[MAX_FRAME])),
        "close 1002 expected the HTTP/2 client preface (PRI * HTTP/2.0) but the tunnel began with '"
        + "?".repeat(24) + "...'"));
    byte[] noise = new byte[4096];
    new Random(7).nextBytes(noise);
    noise[0] = (byte) 0xc2; // RSV1 set: never a valid first frame header
    cases.add(ws("random bytes right after the 101", noise,
        "close 1002 expected RSV bits 0 (no extension was negotiated) but was 4 in a "
        + "binary frame"));
    // A client that does not speak HTTP/2 reads no GOAWAY: the Close says what was expected and what arrived.
    cases.add(ws("binary frames that are not HTTP/2", binary(ascii("GET / HTTP/1.1\r\n\r\n" + "x".repeat(100))),
        "close 1002 expected the HTTP/2 client preface (PRI * HTTP/2.0) but the tunnel began with "
        + "'GET / HTTP/1.1????xxxxxx...'"));
    // gRPC's GOAWAY says what was wrong with HTTP/2 after a good preface, and the Close says it again for a client that
    // reads no GOAWAY.
    cases.add(ws("HTTP/2 preface followed by garbage", binary(concat(TunnelH2.PREFACE, noise)),
        "close 1002 HTTP/2 PROTOCOL_ERROR: First received frame was not SETTINGS. Hex dump for first 5 bytes: "
        + String.format("%02x%02x%02x%02x%02x", noise[0], noise[1], noise[2], noise[3], noise[4])));
    cases.add(check("tunnel that never sends the HTTP/2 preface", "close 1001", () -> {
      try (Socket s = connect()) {
        s.getOutputStream().write(ascii(upgrade()));
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
        readHead(in);
        return readClose(s, in, null);
      }
    }));
  }

  private void closeCodes(List<DynamicTest> cases) {
    for (int code : new int[] {1004, 1005, 1006, 1015, 1016, 2999, 5000, 999, 65535}) {
      cases.add(ws("close with code " + code, close(code, new byte[0]), "close 1002 expected a close code of "
          + "1000-1003, 1007-1014 or 3000-4999 but was " + code));
    }
    cases.add(ws("close with a one-byte payload", wsFrame(true, 0, 0x8, new byte[] {3}), "close 1002 expected a "
        + "close payload of 0 or at least 2 bytes but was 1 byte"));
    cases.add(ws("close with a reason that is not UTF-8", close(1000, new byte[] {(byte) 0xff, (byte) 0xfe}),
        "close 1007 expected a UTF-8 close reason but it was not"));
    cases.add(ws("close with a reason of 123 bytes", close(1000, ascii("r".repeat(123))), "close 1000"));
    cases.add(ws("close without a payload", wsFrame(true, 0, 0x8, new byte[0]), "close 1000"));
    for (int code : new int[] {1000, 1001, 1003, 1012, 1014, 3000, 4000, 4999}) {
      cases.add(ws("client close " + code + " is echoed", close(code, ascii("bye")), "close " + code));
    }
    cases.add(ws("binary data after a close", concat(close(1000, new byte[0]), binary(ascii("more"))),
        "close 1000"));
    cases.add(ws("a protocol violation after a close", concat(close(1000, new byte[0]),
        WireFrames.frame(true, 0, 0x2, false, ascii("unmasked"))), "close 1000"));
    cases.add(ws("a second close after a close", concat(close(1000, new byte[0]), close(1002, new byte[0])),
        "close 1000"));
  }

  private void http2InTheTunnel(List<DynamicTest> cases) {
    String ok = "probe call grpc-status 0; close 1000";
    cases.add(h2("a good call (the probe alone)", new byte[0], ok));
    ByteArrayOutputStream rapidReset = new ByteArrayOutputStream();
    for (int stream = 1; stream < 2 * 1000; stream += 2) {
      rapidReset.writeBytes(frame(HEADERS, END_HEADERS, stream, requestBlock("Unary")));
      rapidReset.writeBytes(Http2Wire.rstStream(stream, (int) Http2Error.CANCEL.code()));
    }
    cases.add(h2Flood("rapid reset: 1000 streams opened and cancelled", rapidReset.toByteArray(),
        goAwayThenClose("ENHANCE_YOUR_CALM", "too_many_rststreams")));
    ByteArrayOutputStream continuation = new ByteArrayOutputStream();
    continuation.writeBytes(frame(HEADERS, 0, 1, requestBlock("Unary")));
    byte[] junkHeaders = new byte[1000];
    for (int i = 0; i < junkHeaders.length; i += 10) {
      ByteArrayOutputStream one = new ByteArrayOutputStream();
      TunnelH2.literal(one, String.format("x-c%03d", i / 10), "v");
      System.arraycopy(one.toByteArray(), 0, junkHeaders, i, 10);
    }
    for (int i = 0; i < 2000; i++) {
      continuation.writeBytes(frame(CONTINUATION, 0, 1, junkHeaders));
    }
    cases.add(h2Flood("CONTINUATION flood: 2 MB of header block", continuation.toByteArray(),
        goAwayThenClose("PROTOCOL_ERROR", "Header size exceeded max allowed size (10240)")));
    cases.add(h2("CONTINUATION on another stream", concat(frame(HEADERS, 0, 1, requestBlock("Unary")),
        frame(CONTINUATION, END_HEADERS, 3, new byte[0])),
        goAwayThenClose("PROTOCOL_ERROR", "Continuation stream ID does not match pending headers. Expected 1, but "
            + "received 3.")));
    cases.add(h2("DATA inside an open header block", concat(frame(HEADERS, 0, 1, requestBlock("Unary")),
        frame(DATA, 0, 1, new byte[5])), goAwayThenClose("PROTOCOL_ERROR", "Received frame of type 0 while processing "
        + "headers on stream 1.")));
    cases.add(flood("SETTINGS flood, ACKs unread", ok,
        () -> h2Answer(repeat(settings(), 50_000), PROBE, true)));
    cases.add(flood("PING flood, ACKs unread", goAwayThenClose("ENHANCE_YOUR_CALM", "too_many_pings"),
        () -> h2Answer(repeat(Http2Wire.ping(42), 50_000), PROBE, true)));
    cases.add(h2("header table size of 2^32-1", settings(SETTINGS_HEADER_TABLE_SIZE, 0xffffffffL), ok));
    cases.add(h2("initial window size of 2^31", settings(SETTINGS_INITIAL_WINDOW_SIZE, 0x80000000L),
        goAwayThenClose("FLOW_CONTROL_ERROR", "Failed setting initial window size: Setting INITIAL_WINDOW_SIZE is "
            + "invalid: 2147483648, expected [0, 2147483647]")));
    cases.add(h2("ENABLE_PUSH of 2", settings(SETTINGS_ENABLE_PUSH, 2),
        goAwayThenClose("PROTOCOL_ERROR", "Protocol error: Setting ENABLE_PUSH is invalid: 2, expected [0, 1]")));
    cases.add(h2("MAX_FRAME_SIZE of 1", settings(SETTINGS_MAX_FRAME_SIZE, 1), goAwayThenClose("PROTOCOL_ERROR",
        "Protocol error: Setting MAX_FRAME_SIZE is invalid: 1, expected [16384, 16777215]")));
    cases.add(h2("SETTINGS with a length not a multiple of 6", frame(SETTINGS, 0, 0, new byte[7]),
        goAwayThenClose("FRAME_SIZE_ERROR", "Frame length 7 invalid.")));
    cases.add(h2("SETTINGS on a stream", frame(SETTINGS, 0, 1, new byte[0]),
        goAwayThenClose("PROTOCOL_ERROR", "A stream ID must be zero.")));
    // HPACK bomb: one 4000-byte entry put in the dynamic table, then referenced 1000 times (4 MB of headers from
    // about 1 KB).
    ByteArrayOutputStream bomb = new ByteArrayOutputStream();
    bomb.writeBytes(requestBlock("Unary"));
    bomb.write(0x40); // literal with incremental indexing, new name
    TunnelH2.hpackInt(bomb, 0, 7, 6);
    bomb.writeBytes(ascii("x-bomb"));
    TunnelH2.hpackInt(bomb, 0, 7, 4000);
    bomb.writeBytes(ascii("b".repeat(4000)));
    for (int i = 0; i < 1000; i++) {
      bomb.write(0x80 | 62); // indexed: the newest dynamic entry
    }
    cases.add(h2("HPACK bomb: one 4000-byte header referenced 1000 times",
        frame(HEADERS, END_HEADERS, 1, bomb.toByteArray()), "RST_STREAM PROTOCOL_ERROR, " + ok));
    ByteArrayOutputStream tableUpdate = new ByteArrayOutputStream();
    TunnelH2.hpackInt(tableUpdate, 0x20, 5, 1L << 30);
    tableUpdate.writeBytes(requestBlock("Unary"));
    cases.add(h2("HPACK table size update over the limit", frame(HEADERS, END_HEADERS, 1, tableUpdate.toByteArray()),
        goAwayThenClose("COMPRESSION_ERROR", "HPACK - invalid max dynamic table size")));
    cases.add(h2("HPACK index out of range", frame(HEADERS, END_HEADERS, 1, new byte[] {(byte) 0xff, 0x7f}),
        goAwayThenClose("COMPRESSION_ERROR", "HPACK - illegal index value")));
    cases.add(h2("WINDOW_UPDATE overflowing the connection window",
        concat(windowUpdate(0, Integer.MAX_VALUE), windowUpdate(0, Integer.MAX_VALUE)),
        goAwayThenClose("FLOW_CONTROL_ERROR", "Window size overflow for stream: 0")));
    cases.add(h2("WINDOW_UPDATE overflowing a stream window", concat(frame(HEADERS, END_HEADERS, 1,
        requestBlock("Bidi")), windowUpdate(1, Integer.MAX_VALUE)), "RST_STREAM FLOW_CONTROL_ERROR, " + ok));
    cases.add(h2("WINDOW_UPDATE of 0 on the connection", windowUpdate(0, 0), goAwayThenClose("PROTOCOL_ERROR",
        "Received WINDOW_UPDATE with delta 0 for connection stream")));
    cases.add(h2("DATA on stream 0", frame(DATA, 0, 0, new byte[5]), goAwayThenClose("PROTOCOL_ERROR",
        "Frame of type 0 must be associated with a stream.")));
    cases.add(h2("HEADERS on an even stream", frame(HEADERS, END_HEADERS, 2, requestBlock("Unary")),
        goAwayThenClose("PROTOCOL_ERROR", "Request stream 2 is not correct for client connection")));
    cases.add(h2("stream ids going backwards", concat(unaryCall(5), unaryCall(3)),
        "RST_STREAM STREAM_CLOSED x2, " + ok));
    cases.add(h2("PRIORITY on a stream that depends on itself", frame(PRIORITY, 0, 1, new byte[] {0, 0, 0, 1, 16}),
        "RST_STREAM PROTOCOL_ERROR, " + ok));
    cases.add(h2("PUSH_PROMISE from the client", frame(PUSH_PROMISE, END_HEADERS, 1, new byte[4]),
        goAwayThenClose("PROTOCOL_ERROR", "A client cannot push.")));
    // The server answers once it has read the frame's header and closes with the rest unread (the payload, the
    // probe): like a flood, the reset that may follow can destroy the Close, and behind the relay the GOAWAY.
    cases.add(h2Flood("frame over MAX_FRAME_SIZE", frame(DATA, 0, 1, new byte[16_385]),
        goAwayThenClose("FRAME_SIZE_ERROR", "Frame length: 16385 exceeds maximum: 16384")));
    cases.add(h2("unknown frame type 0xFA", frame(0xfa, 0xff, 1, new byte[100]), ok));
    cases.add(h2("DATA on a closed stream", concat(unaryCall(1), frame(DATA, 0, 1, new byte[5])),
        "RST_STREAM STREAM_CLOSED, " + ok));
    ByteArrayOutputStream openStreams = new ByteArrayOutputStream();
    for (int stream = 1; stream < 2 * 2000; stream += 2) {
      openStreams.writeBytes(frame(HEADERS, END_HEADERS, stream, requestBlock("Bidi")));
    }
    // The 1001st concurrent stream and every one after it is refused (REFUSED_STREAM), and refusals count as resets
    // (200 per 10 s), so the connection ends with GOAWAY ENHANCE_YOUR_CALM after the 200th. Streams already read in
    // the same batch may still be refused before the end takes effect (a busy machine saw 375), and the connection is
    // then cut while the attacker's bytes are unread, so the TCP reset discards whatever this reader had not read
    // yet. What must hold: refusals only, at most the 1000 streams over the limit, and a GOAWAY only after more than
    // 200 refusals; then the end.
    String calm = goAwayThenClose("ENHANCE_YOUR_CALM", "too_many_rststreams");
    String calmClose = calm.substring(calm.indexOf("; close ") + 2);
    String attackerCut = "RST_STREAM REFUSED_STREAM (at most 1000; GOAWAY ENHANCE_YOUR_CALM 'too_many_rststreams' only "
        + "after 200, unless a reset discarded it); " + calmClose + " or a reset";
    java.util.regex.Pattern cut = java.util.regex.Pattern.compile(
        "(GOAWAY ENHANCE_YOUR_CALM 'too_many_rststreams', )?RST_STREAM REFUSED_STREAM x(\\d+); "
        + java.util.regex.Pattern.quote(calmClose) + " or a reset");
    cases.add(check("2000 concurrent streams held open", attackerCut, () -> {
      String answer = h2Answer(openStreams.toByteArray(), PROBE, false)
          .replaceAll("; (" + java.util.regex.Pattern.quote(calmClose) + "|cut without a Close)$",
              java.util.regex.Matcher.quoteReplacement("; " + calmClose + " or a reset"));
      java.util.regex.Matcher m = cut.matcher(answer);
      boolean asExpected = m.matches() && Integer.parseInt(m.group(2)) <= 1000
          && (m.group(1) == null || Integer.parseInt(m.group(2)) >= 201);
      return asExpected ? attackerCut : answer;
    }));
    cases.add(check("a reader that stops reading, with a 2^31-1 window", "probe call grpc-status 0; close 1000",
        () -> {
          try (Socket s = connect()) {
            OutputStream out = s.getOutputStream();
            DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
            out.write(ascii(upgrade()));
            readHead(in);
            byte[] request = EchoRequest.newBuilder().setPayload(com.google.protobuf.ByteString.copyFrom(
                new byte[16_000])).setCount(1000).build().toByteArray();
            out.write(tunnelled(concat(TunnelH2.PREFACE, settings(SETTINGS_INITIAL_WINDOW_SIZE, 0x7fffffffL),
                windowUpdate(0, Integer.MAX_VALUE - 65_535),
                frame(HEADERS, END_HEADERS, 1, requestBlock("ServerStream")), TunnelH2.message(1, request, true))));
            out.flush();
            // The server has 16 MB to send, more than the kernel's buffers on both sides hold, and every HTTP/2
            // window open, so only the socket holds it back: it must stop there (writability) rather than buffer
            // (the memory bound after the barrage checks that). This reader reads nothing until its receive buffer
            // has stopped filling for a second (the server has stopped), then resumes at full speed, and the
            // stream (the probe here) completes.
            InputStream kernel = s.getInputStream();
            int queued = -1;
            for (long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30); System.nanoTime() < deadline; ) {
              Thread.sleep(1000);
              int now = kernel.available();
              if (now == queued) {
                break;
              }
              queued = now;
            }
            TunnelH2.Reader h2 = new TunnelH2.Reader();
            String end = readClose(s, in, h2, 1);
            return h2.summary(1) + "; " + end;
          }
        }));
  }

  private void floods(List<DynamicTest> cases) {
    cases.add(check("flood of ten thousand pings, answers unread", "close 1000", () -> {
      byte[] flood = repeat(wsFrame(true, 0, 0x9, new byte[125]), 10_000);
      try (Socket s = connect()) {
        s.setReceiveBufferSize(4096);
        OutputStream out = s.getOutputStream();
        out.write(ascii(upgrade()));
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
        readHead(in);
        // A real HTTP/2 start first: without one, gRPC's own handshake deadline (the handshake timeout plus a
        // second) ends the tunnel with 1001 if the flood takes that long to get through a busy machine.
        out.write(tunnelled(concat(TunnelH2.PREFACE, settings())));
        out.write(flood);
        out.write(close(1000, new byte[0]));
        s.setReceiveBufferSize(1 << 20); // then read what came back at loopback speed
        return readClose(s, in, null);
      }
    }));
    cases.add(ws("flood of ten thousand unsolicited pongs",
        concat(tunnelled(concat(TunnelH2.PREFACE, settings())), repeat(wsFrame(true, 0, 0xA, new byte[125]), 10_000),
            close(1000, new byte[0])), "close 1000"));
    cases.add(ws("flood of 100,000 empty binary frames",
        concat(tunnelled(concat(TunnelH2.PREFACE, settings())), repeat(binary(new byte[0]), 100_000),
            close(1000, new byte[0])), "close 1000"));
    cases.add(ws("one message in 100,000 empty fragments", concat(tunnelled(concat(TunnelH2.PREFACE, settings())),
        wsFrame(false, 0, 0x2, new byte[0]), repeat(wsFrame(false, 0, 0x0, new byte[0]), 100_000),
        wsFrame(true, 0, 0x0, new byte[0]), close(1000, new byte[0])), "close 1000"));
    cases.add(check("a call sent in 1-byte fragments", "probe call grpc-status 0; close 1000", () -> {
      byte[] call = concat(TunnelH2.PREFACE, settings(), unaryCall(1));
      ByteArrayOutputStream fragments = new ByteArrayOutputStream();
      for (int i = 0; i < call.length; i++) {
        int opcode = i == 0 ? 0x2 : 0x0;
        fragments.writeBytes(wsFrame(i == call.length - 1, 0, opcode, new byte[] {call[i]}));
      }
      try (Socket s = connect()) {
        OutputStream out = s.getOutputStream();
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
        out.write(ascii(upgrade()));
        readHead(in);
        out.write(fragments.toByteArray());
        TunnelH2.Reader h2 = new TunnelH2.Reader();
        String end = readClose(s, in, h2, 1);
        return h2.summary(1) + "; " + end;
      }
    }));
    cases.add(wsFlood("100,000 1-byte fragments of garbage", concat(tunnelled(concat(TunnelH2.PREFACE, settings())),
        wsFrame(false, 0, 0x2, new byte[] {0}), repeat(wsFrame(false, 0, 0x0, new byte[] {0}), 100_000)),
        "close 1002 HTTP/2 PROTOCOL_ERROR: Frame of type 0 must be associated with a stream."));
    cases.add(check("close storm: 200 tunnels opened and closed at once", "200 x close 1001", () -> {
      List<Socket> sockets = new ArrayList<>();
      List<String> answers = new ArrayList<>();
      try {
        for (int i = 0; i < 200; i++) {
          Socket s = connect();
          s.getOutputStream().write(concat(ascii(upgrade()), close(1001, new byte[0])));
          sockets.add(s);
        }
        for (Socket s : sockets) {
          DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
          readHead(in);
          answers.add(readClose(s, in, null));
        }
      } finally {
        for (Socket s : sockets) {
          s.close();
        }
      }
      return answers.stream().distinct().count() == 1 ? answers.size() + " x " + answers.get(0) : answers.toString();
    }));
    cases.add(check("200 connections reset in mid-handshake", "HTTP/1.1 404 Not Found", () -> {
      for (int i = 0; i < 200; i++) {
        try (Socket s = connect()) {
          s.setSoLinger(true, 0); // close sends RST
          s.getOutputStream().write(ascii(upgrade().substring(0, 40 + i % 60)));
        }
      }
      return statusLineFor(ascii(upgrade().replace("/grpc", "/after-resets")));
    }));
  }
}
