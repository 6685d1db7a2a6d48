package dev.wsgrpc.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Raw HTTP/1.1 over a real socket, for asserting exactly what a server answers. */
final class RawHttp {

  /** Sends {@code request} to loopback {@code port} and returns everything the server sent before closing. */
  static String exchange(int port, String request) throws IOException {
    try (Socket socket = sent(port, request)) {
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      byte[] buf = new byte[4096];
      int n;
      while ((n = in.read(buf)) != -1) {
        all.write(buf, 0, n);
      }
      return all.toString(StandardCharsets.ISO_8859_1.name());
    }
  }

  /**
   * Sends {@code request} to loopback {@code port} and returns the answer's head, through the empty line that ends
   * it, then hangs up: for answers after which the server keeps the connection open (a {@code 101}).
   */
  static String head(int port, String request) throws IOException {
    try (Socket socket = sent(port, request)) {
      InputStream in = socket.getInputStream();
      StringBuilder head = new StringBuilder();
      int b;
      while (head.indexOf("\r\n\r\n") < 0 && (b = in.read()) != -1) {
        head.append((char) b);
      }
      return head.toString();
    }
  }

  /** A connection to loopback {@code port} (reads time out after 30 s) on which {@code request} has been sent. */
  private static Socket sent(int port, String request) throws IOException {
    Socket socket = new Socket("127.0.0.1", port);
    try {
      socket.setSoTimeout(30_000);
      socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      return socket;
    } catch (IOException e) {
      socket.close();
      throw e;
    }
  }

  private RawHttp() {}
}
