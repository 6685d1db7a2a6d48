package dev.wsgrpc.okhttp;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.function.Function;

/**
 * A loopback server that reads one HTTP request per connection and writes the answer a function makes of the
 * request's {@code Sec-WebSocket-Key} (null: answer nothing and keep the connection open). Plain sockets and a
 * thread: it shares no code with the client under test.
 */
final class ScriptedHttpServer implements AutoCloseable {

  private final ServerSocket listener;
  private final Function<String, String> answer;

  ScriptedHttpServer(Function<String, String> answer) throws IOException {
    this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.answer = answer;
    Thread t = new Thread(this::acceptLoop, "scripted-http");
    t.setDaemon(true);
    t.start();
  }

  int port() {
    return listener.getLocalPort();
  }

  private void acceptLoop() {
    while (!listener.isClosed()) {
      try {
        Socket s = listener.accept();
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
          break;
        }
      }
      String key = null;
      for (String line : head.toString(StandardCharsets.ISO_8859_1.name()).split("\r\n")) {
        if (line.toLowerCase(Locale.ROOT).startsWith("sec-websocket-key:")) {
          key = line.substring(line.indexOf(':') + 1).trim();
        }
      }
      String response = answer.apply(key);
      if (response == null) {
        while (in.read() != -1) {
          // Silent: read until the client gives up.
        }
      } else {
        s.getOutputStream().write(response.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
        s.shutdownOutput();
        while (in.read() != -1) {
          // Let the client close first.
        }
      }
    } catch (IOException e) {
      // The client went away.
    } finally {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing
      }
    }
  }

  @Override
  public void close() throws IOException {
    listener.close();
  }
}
