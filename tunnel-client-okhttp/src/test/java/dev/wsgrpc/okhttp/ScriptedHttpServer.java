package dev.wsgrpc.okhttp;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import javax.net.ssl.SSLContext;

/**
 * A loopback server that reads one HTTP request head per connection and hands it to a {@link Script}; the
 * connection is closed when the script returns. Plain sockets and a thread: it shares no code with the client under
 * test.
 */
final class ScriptedHttpServer implements AutoCloseable {

  /** What the server does with a connection after reading its request head (without the empty line). */
  interface Script {
    void play(Socket client, String requestHead) throws IOException;
  }

  private final ServerSocket listener;
  private final boolean tls;
  private final Script script;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();

  ScriptedHttpServer(Script script) throws IOException {
    this(null, script);
  }

  /**
   * Over TLS with {@code tls}'s server sockets (the script reads and writes plaintext), or plain when null. A TLS
   * server's certificate is {@link TestTls#CERTIFICATES}' (for {@code localhost}).
   */
  ScriptedHttpServer(SSLContext tls, Script script) throws IOException {
    InetAddress loopback = InetAddress.getLoopbackAddress();
    this.listener = tls == null ? new ServerSocket(0, 50, loopback)
        : tls.getServerSocketFactory().createServerSocket(0, 50, loopback);
    this.tls = tls != null;
    this.script = script;
    Thread t = new Thread(this::acceptLoop, "scripted-http");
    t.setDaemon(true);
    t.start();
  }

  /**
   * Writes the answer a function makes of the request's {@code Sec-WebSocket-Key} (null: answer nothing and keep
   * the connection open until the client closes it).
   */
  ScriptedHttpServer(Function<String, String> answer) throws IOException {
    this((s, head) -> {
      String response = answer.apply(webSocketKey(head));
      InputStream in = s.getInputStream();
      if (response != null) {
        s.getOutputStream().write(response.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
        s.shutdownOutput();
      }
      while (in.read() != -1) {
        // Silent, or the answer is out: let the client close first.
      }
    });
  }

  /**
   * A WebSocket server for one call: it answers the upgrade with a 101 and an empty HTTP/2 SETTINGS in a binary
   * message (grpc-okhttp starts calls once the server's SETTINGS came), waits for the call's HTTP/2 HEADERS (so that
   * the call is on the tunnel), then writes {@code bytes} in two writes (the first of {@code firstWrite} bytes), and
   * completes {@code close} with the code and reason of the first Close the client sends, or with "EOF before a
   * Close".
   */
  static ScriptedHttpServer afterTheCallStarts(byte[] bytes, int firstWrite, CompletableFuture<String> close)
      throws IOException {
    return afterTheCallStarts("", bytes, firstWrite, close);
  }

  /** As {@link #afterTheCallStarts(byte[], int, CompletableFuture)}, with {@code interim} (1xx answers) before the 101. */
  static ScriptedHttpServer afterTheCallStarts(String interim, byte[] bytes, int firstWrite,
      CompletableFuture<String> close) throws IOException {
    return afterTheCallStarts(null, interim, bytes, firstWrite, close);
  }

  /** As {@link #afterTheCallStarts(String, byte[], int, CompletableFuture)}, over TLS with {@code tls} if not null. */
  static ScriptedHttpServer afterTheCallStarts(SSLContext tls, String interim, byte[] bytes, int firstWrite,
      CompletableFuture<String> close) throws IOException {
    return new ScriptedHttpServer(tls, afterTheCallStartsScript(interim, bytes, firstWrite, close));
  }

  /** The script of {@link #afterTheCallStarts(SSLContext, String, byte[], int, CompletableFuture)}. */
  static Script afterTheCallStartsScript(String interim, byte[] bytes, int firstWrite,
      CompletableFuture<String> close) {
    return (Socket s, String head) -> {
      s.setTcpNoDelay(true);
      OutputStream out = s.getOutputStream();
      out.write((interim + "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Accept: " + UpgradeAnswer.acceptFor(webSocketKey(head)) + "\r\n"
          + "Sec-WebSocket-Protocol: wsgrpc.v1\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.write(new byte[] {(byte) 0x82, 9, 0, 0, 0, 0x4, 0, 0, 0, 0, 0});
      out.flush();
      DataInputStream in = new DataInputStream(s.getInputStream());
      try {
        awaitHeaders(in);
        out.write(bytes, 0, firstWrite);
        out.flush();
        out.write(bytes, firstWrite, bytes.length - firstWrite);
        out.flush();
        while (true) {
          byte[] frame = readFrame(in);
          if (frame[0] == 0x8) {
            int code = ((frame[1] & 0xff) << 8) | (frame[2] & 0xff);
            close.complete(code + " " + new String(frame, 3, frame.length - 3, StandardCharsets.UTF_8));
            return;
          }
        }
      } catch (IOException e) {
        close.complete("EOF before a Close");
      }
    };
  }

  /** Reads the client's binary messages until its HTTP/2 bytes (after the 24-byte preface) hold a HEADERS frame. */
  private static void awaitHeaders(DataInputStream in) throws IOException {
    ByteArrayOutputStream h2 = new ByteArrayOutputStream();
    int at = 24;
    while (true) {
      byte[] frame = readFrame(in);
      h2.write(frame, 1, frame.length - 1);
      byte[] b = h2.toByteArray();
      while (b.length >= at + 9) {
        if (b[at + 3] == 0x1) {
          return;
        }
        at += 9 + (((b[at] & 0xff) << 16) | ((b[at + 1] & 0xff) << 8) | (b[at + 2] & 0xff));
      }
    }
  }

  /** One (masked) client frame: its opcode, then its unmasked payload. */
  private static byte[] readFrame(DataInputStream in) throws IOException {
    int first = in.readUnsignedByte();
    int second = in.readUnsignedByte();
    long length = second & 0x7f;
    if (length == 126) {
      length = in.readUnsignedShort();
    } else if (length == 127) {
      length = in.readLong();
    }
    byte[] mask = new byte[4];
    if ((second & 0x80) != 0) {
      in.readFully(mask);
    }
    byte[] frame = new byte[1 + (int) length];
    frame[0] = (byte) (first & 0x0f);
    in.readFully(frame, 1, (int) length);
    for (int i = 0; i < length; i++) {
      frame[1 + i] ^= mask[i % 4];
    }
    return frame;
  }

  /** The request's {@code Sec-WebSocket-Key}, or null. */
  static String webSocketKey(String requestHead) {
    String key = null;
    for (String line : requestHead.split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith("sec-websocket-key:")) {
        key = line.substring(line.indexOf(':') + 1).trim();
      }
    }
    return key;
  }

  int port() {
    return listener.getLocalPort();
  }

  /** The tunnel URL of this server: {@code ws://127.0.0.1:port/grpc}, or {@code wss://localhost:port/grpc}. */
  String url() {
    return (tls ? "wss://localhost:" : "ws://127.0.0.1:") + port() + "/grpc";
  }

  private void acceptLoop() {
    while (!listener.isClosed()) {
      try {
        Socket s = listener.accept();
        sockets.add(s);
        Thread t = new Thread(() -> serve(s), "scripted-http-conn");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(Socket s) {
    try {
      InputStream in = s.getInputStream();
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) != -1) {
        head.write(b);
        String h = head.toString(StandardCharsets.ISO_8859_1.name());
        if (h.endsWith("\r\n\r\n")) {
          script.play(s, h.substring(0, h.length() - 4));
          break;
        }
      }
    } catch (IOException e) {
      // The client went away.
    } finally {
      closeQuietly(s);
    }
  }

  static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // Already closed.
    }
  }

  @Override
  public void close() throws IOException {
    listener.close();
    for (Socket s : sockets) {
      closeQuietly(s);
    }
  }
}
