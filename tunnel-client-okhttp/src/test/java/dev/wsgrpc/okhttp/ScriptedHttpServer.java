package dev.wsgrpc.okhttp;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

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
  private final Script script;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();

  ScriptedHttpServer(Script script) throws IOException {
    this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
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
