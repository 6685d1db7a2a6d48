package dev.wsgrpc.okhttp;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback HTTP CONNECT proxy for the cases a real proxy will not play: it reads each request head, records it,
 * then either answers 200 and relays bytes to the host and port the request named, or plays a script (a refusal,
 * garbage, an endless head, a close mid-answer, silence). The real proxy of the integration tests is tinyproxy.
 */
final class FakeConnectProxy implements AutoCloseable {

  /** What the proxy does after reading a request head. */
  interface Script {
    void play(Socket client, String requestHead) throws IOException;
  }

  /** Opens the tunnel: answers 200 and relays both ways to the target the request named (resolved here). */
  static final Script RELAY = (client, head) -> {
    String target = head.substring("CONNECT ".length(), head.indexOf(' ', "CONNECT ".length()));
    int colon = target.lastIndexOf(':');
    Socket upstream = new Socket(target.substring(0, colon).replace("[", "").replace("]", ""),
        Integer.parseInt(target.substring(colon + 1)));
    client.getOutputStream().write("HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    Thread back = new Thread(() -> pump(upstream, client), "fake-proxy-pump");
    back.setDaemon(true);
    back.start();
    pump(client, upstream);
  };

  /** Answers {@code bytes} and closes. */
  static Script answer(String bytes) {
    return (client, head) -> client.getOutputStream().write(bytes.getBytes(StandardCharsets.ISO_8859_1));
  }

  private final ServerSocket listener;
  private final Script script;
  private final List<String> requests = new CopyOnWriteArrayList<>();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();

  FakeConnectProxy(Script script) throws IOException {
    this.script = script;
    this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(this::acceptLoop, "fake-connect-proxy");
    t.setDaemon(true);
    t.start();
  }

  int port() {
    return listener.getLocalPort();
  }

  /** Each request head received, in order, without the empty line. */
  List<String> requests() {
    return requests;
  }

  private void acceptLoop() {
    while (!listener.isClosed()) {
      try {
        Socket s = listener.accept();
        sockets.add(s);
        Thread t = new Thread(() -> serve(s), "fake-connect-proxy-conn");
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
          String request = h.substring(0, h.length() - 4);
          requests.add(request);
          script.play(s, request);
          break;
        }
      }
    } catch (IOException e) {
      // The client went away.
    } finally {
      close(s);
    }
  }

  private static void pump(Socket from, Socket to) {
    byte[] buffer = new byte[16 * 1024];
    try {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      int n;
      while ((n = in.read(buffer)) != -1) {
        out.write(buffer, 0, n);
      }
    } catch (IOException e) {
      // Either side closed.
    } finally {
      close(from);
      close(to);
    }
  }

  private static void close(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // Already closed.
    }
  }

  InetSocketAddress address() {
    return new InetSocketAddress(InetAddress.getLoopbackAddress(), port());
  }

  @Override
  public void close() throws IOException {
    listener.close();
    for (Socket s : sockets) {
      close(s);
    }
  }
}
