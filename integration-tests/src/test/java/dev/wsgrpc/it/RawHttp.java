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

  /** One answer read from a kept-alive connection: its status code, its header fields (names in lower case), body. */
  static final class Answer {
    final int status;
    final java.util.Map<String, String> headers;
    final byte[] body;

    Answer(int status, java.util.Map<String, String> headers, byte[] body) {
      this.status = status;
      this.headers = headers;
      this.body = body;
    }

    /** The body as ISO-8859-1 text, for finding trailers ({@code grpc-status: 0}) in a gRPC-Web body. */
    String bodyText() {
      return new String(body, StandardCharsets.ISO_8859_1);
    }
  }

  /**
   * A kept-alive HTTP/1.1 connection to loopback {@code port} on which requests follow one another, as a proxy that
   * pools its connections to the origin sends them: {@link #send} writes one request and reads its whole answer
   * (by Content-Length or chunked), leaving the connection open for the next.
   */
  static final class KeptAlive implements java.io.Closeable {
    private final Socket socket;
    private final InputStream in;

    KeptAlive(int port) throws IOException {
      this(port, 0);
    }

    /** With socket buffers of {@code bufferBytes} each way (fixed, not grown by the kernel), or the kernel's (0). */
    KeptAlive(int port, int bufferBytes) throws IOException {
      socket = new Socket();
      if (bufferBytes > 0) {
        socket.setReceiveBufferSize(bufferBytes);
        socket.setSendBufferSize(bufferBytes);
      }
      socket.connect(new java.net.InetSocketAddress("127.0.0.1", port));
      socket.setSoTimeout(30_000);
      in = new java.io.BufferedInputStream(socket.getInputStream());
    }

    /** Sends a request made of {@code head} (through its empty line) and {@code body}; reads the answer. */
    Answer send(String head, byte[] body) throws IOException {
      socket.getOutputStream().write(head.getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().write(body);
      socket.getOutputStream().flush();
      String statusLine = line();
      if (!statusLine.startsWith("HTTP/1.1 ")) {
        throw new IOException("expected an HTTP/1.1 status line but was '" + statusLine + "'");
      }
      java.util.Map<String, String> headers = new java.util.LinkedHashMap<>();
      for (String field = line(); !field.isEmpty(); field = line()) {
        int colon = field.indexOf(':');
        headers.put(field.substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT),
            field.substring(colon + 1).trim());
      }
      ByteArrayOutputStream content = new ByteArrayOutputStream();
      if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
        for (int size = Integer.parseInt(line().trim(), 16); size > 0; size = Integer.parseInt(line().trim(), 16)) {
          content.write(in.readNBytes(size));
          line();
        }
        line();
      } else {
        content.write(in.readNBytes(Integer.parseInt(headers.getOrDefault("content-length", "0"))));
      }
      return new Answer(Integer.parseInt(statusLine.substring(9, 12)), headers, content.toByteArray());
    }

    /** Sends bytes and reads nothing. */
    void sendOnly(byte[] bytes) throws IOException {
      socket.getOutputStream().write(bytes);
    }

    /** Whether the server closed the connection (reads until it does, or fails on the read timeout). */
    boolean closedByServer() throws IOException {
      return in.read() == -1;
    }

    private String line() throws IOException {
      StringBuilder line = new StringBuilder();
      int b;
      while ((b = in.read()) != '\n') {
        if (b == -1) {
          throw new IOException("expected more of the answer but the server closed after '" + line + "'");
        }
        line.append((char) b);
      }
      return line.toString().endsWith("\r") ? line.substring(0, line.length() - 1) : line.toString();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  private RawHttp() {}
}
