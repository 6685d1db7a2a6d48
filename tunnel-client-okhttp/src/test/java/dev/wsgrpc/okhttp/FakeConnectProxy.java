package dev.wsgrpc.okhttp;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback HTTP CONNECT proxy for the cases a real proxy will not play: it records each request head, then either
 * answers 200 and relays bytes to the host and port the request named ({@link #RELAY}), or plays a script (a
 * refusal, garbage, an endless head, a close mid-answer, silence). The real proxy of the integration tests is
 * tinyproxy.
 */
final class FakeConnectProxy implements AutoCloseable {

  /** Opens the tunnel: answers 200 and relays both ways to the target the request named (resolved here). */
  static final ScriptedHttpServer.Script RELAY = (client, head) -> {
    String target = head.substring("CONNECT ".length(), head.indexOf(' ', "CONNECT ".length()));
    int colon = target.lastIndexOf(':');
    relay(client, new Socket(target.substring(0, colon).replace("[", "").replace("]", ""),
        Integer.parseInt(target.substring(colon + 1))));
  };

  /** Opens the tunnel to loopback {@code port} whatever the request named: a proxy with its own name service. */
  static ScriptedHttpServer.Script relayTo(int port) {
    return (client, head) -> relay(client, new Socket(InetAddress.getLoopbackAddress(), port));
  }

  private static void relay(Socket client, Socket upstream) throws IOException {
    client.getOutputStream().write("HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    Thread back = new Thread(() -> pump(upstream, client), "fake-proxy-pump");
    back.setDaemon(true);
    back.start();
    pump(client, upstream);
  }

  /** Answers {@code bytes} and closes. */
  static ScriptedHttpServer.Script answer(String bytes) {
    return (client, head) -> client.getOutputStream().write(bytes.getBytes(StandardCharsets.ISO_8859_1));
  }

  private final List<String> requests = new CopyOnWriteArrayList<>();
  private final ScriptedHttpServer server;

  FakeConnectProxy(ScriptedHttpServer.Script script) throws IOException {
    this.server = new ScriptedHttpServer((client, head) -> {
      requests.add(head);
      script.play(client, head);
    });
  }

  int port() {
    return server.port();
  }

  InetSocketAddress address() {
    return new InetSocketAddress(InetAddress.getLoopbackAddress(), port());
  }

  /** Each request head received, in order, without the empty line. */
  List<String> requests() {
    return requests;
  }

  /** Copies {@code from} to {@code to} until either closes, then closes both. */
  static void pump(Socket from, Socket to) {
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
      ScriptedHttpServer.closeQuietly(from);
      ScriptedHttpServer.closeQuietly(to);
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
  }
}
