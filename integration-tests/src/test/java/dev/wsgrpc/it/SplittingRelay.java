package dev.wsgrpc.it;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A deliberately independent WebSocket client, written from RFC 6455 with plain sockets and no Netty: it accepts a
 * plain h2c gRPC connection on a loopback port, opens a tunnel to a wsgrpc server, and forwards the client's bytes
 * as binary messages split the way a {@link Split} says (one byte per message, random sizes, fragmented messages).
 * Server frames are unwrapped back into bytes. Used to prove the server accepts the HTTP/2 stream split anywhere.
 */
final class SplittingRelay implements AutoCloseable {

  /** How client bytes are cut into WebSocket messages. */
  enum Split {
    /** Every byte is its own binary message. */
    ONE_BYTE_MESSAGES,
    /** Each read is cut into binary messages of random sizes from 1 to 700 bytes. */
    RANDOM_SIZE_MESSAGES,
    /** Each read becomes one message sent as a binary frame and continuation frames of random sizes. */
    FRAGMENTED_MESSAGES
  }

  private final ServerSocket listener;
  private final InetSocketAddress tunnelServer;
  private final String path;
  private final Split split;
  private final Random random = new Random(42);
  private final List<Socket> sockets = new ArrayList<>();
  final AtomicReference<Throwable> failure = new AtomicReference<>();

  SplittingRelay(InetSocketAddress tunnelServer, String path, Split split) throws IOException {
    this.tunnelServer = tunnelServer;
    this.path = path;
    this.split = split;
    this.listener = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
    Thread acceptor = new Thread(this::acceptLoop, "relay-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  int port() {
    return listener.getLocalPort();
  }

  private void acceptLoop() {
    while (!listener.isClosed()) {
      try {
        Socket client = listener.accept();
        Socket upstream = new Socket(tunnelServer.getAddress(), tunnelServer.getPort());
        synchronized (sockets) {
          sockets.add(client);
          sockets.add(upstream);
        }
        client.setTcpNoDelay(true);
        upstream.setTcpNoDelay(true);
        InputStream upIn = handshake(upstream);
        start("relay-up", () -> pumpClientToServer(client.getInputStream(), upstream.getOutputStream()));
        start("relay-down", () -> pumpServerToClient(upIn, client.getOutputStream()));
      } catch (IOException e) {
        if (!listener.isClosed()) {
          failure.compareAndSet(null, e);
        }
      }
    }
  }

  private static void start(String name, IoTask task) {
    Thread t = new Thread(() -> {
      try {
        task.run();
      } catch (IOException ignored) {
        // A closed socket ends the pump.
      }
    }, name);
    t.setDaemon(true);
    t.start();
  }

  private interface IoTask {
    void run() throws IOException;
  }

  /** Sends the opening handshake, reads the response headers, and returns the stream positioned after them. */
  private InputStream handshake(Socket upstream) throws IOException {
    byte[] nonce = new byte[16];
    random.nextBytes(nonce);
    String request = "GET " + path + " HTTP/1.1\r\n"
        + "Host: 127.0.0.1:" + tunnelServer.getPort() + "\r\n"
        + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: " + Base64.getEncoder().encodeToString(nonce) + "\r\n"
        + "Sec-WebSocket-Version: 13\r\n\r\n";
    upstream.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
    InputStream in = upstream.getInputStream();
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) != -1) {
      head.write(b);
      String text = head.toString(StandardCharsets.US_ASCII.name());
      if (text.endsWith("\r\n\r\n")) {
        if (!text.startsWith("HTTP/1.1 101")) {
          throw new IOException("expected HTTP 101 but was: " + text);
        }
        return in;
      }
    }
    throw new EOFException("connection closed during the handshake");
  }

  private void pumpClientToServer(InputStream in, OutputStream out) throws IOException {
    byte[] buf = new byte[16 * 1024];
    int n;
    while ((n = in.read(buf)) != -1) {
      ByteArrayOutputStream frames = new ByteArrayOutputStream();
      switch (split) {
        case ONE_BYTE_MESSAGES:
          for (int i = 0; i < n; i++) {
            writeFrame(frames, true, 0x2, buf, i, 1);
          }
          break;
        case RANDOM_SIZE_MESSAGES:
          for (int i = 0; i < n; ) {
            int len = Math.min(n - i, 1 + random.nextInt(700));
            writeFrame(frames, true, 0x2, buf, i, len);
            i += len;
          }
          break;
        case FRAGMENTED_MESSAGES:
          boolean first = true;
          for (int i = 0; i < n; ) {
            int len = Math.min(n - i, 1 + random.nextInt(300));
            boolean last = i + len == n;
            writeFrame(frames, last, first ? 0x2 : 0x0, buf, i, len);
            first = false;
            i += len;
          }
          break;
        default:
          throw new AssertionError(split);
      }
      out.write(frames.toByteArray());
      out.flush();
    }
  }

  /** Writes one masked frame (RFC 6455 5.2) with a random masking key. */
  private void writeFrame(ByteArrayOutputStream out, boolean fin, int opcode, byte[] data, int off, int len) {
    out.write((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
      out.write(0x80 | len);
    } else if (len < 65536) {
      out.write(0x80 | 126);
      out.write(len >>> 8);
      out.write(len);
    } else {
      out.write(0x80 | 127);
      for (int shift = 56; shift >= 0; shift -= 8) {
        out.write((int) ((long) len >>> shift));
      }
    }
    byte[] mask = new byte[4];
    random.nextBytes(mask);
    out.write(mask, 0, 4);
    for (int i = 0; i < len; i++) {
      out.write(data[off + i] ^ mask[i & 3]);
    }
  }

  /** Reads unmasked server frames and writes binary payloads to the client; ends on Close. */
  private void pumpServerToClient(InputStream raw, OutputStream out) throws IOException {
    DataInputStream in = new DataInputStream(raw);
    while (true) {
      int b0 = in.readUnsignedByte();
      int b1 = in.readUnsignedByte();
      int opcode = b0 & 0x0f;
      if ((b1 & 0x80) != 0) {
        throw new IOException("server frames must not be masked");
      }
      long len = b1 & 0x7f;
      if (len == 126) {
        len = in.readUnsignedShort();
      } else if (len == 127) {
        len = in.readLong();
      }
      byte[] payload = new byte[(int) len];
      in.readFully(payload);
      if (opcode == 0x8) {
        out.close();
        return;
      }
      if (opcode == 0x2 || opcode == 0x0) {
        out.write(payload);
        out.flush();
      }
    }
  }

  @Override
  public void close() throws IOException {
    listener.close();
    synchronized (sockets) {
      for (Socket s : sockets) {
        s.close();
      }
    }
  }
}
