package dev.wsgrpc.it;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * One browser call over a WebSocket ({@code grpc-websockets} or {@code wsgrpc-json}) from the JDK's own client, for
 * what the page clients cannot send (a 5 MiB text, a grpc-timeout of our choosing) and where no Python is installed:
 * sends the messages in order, then collects what the server sends until it closes.
 */
final class JdkBrowserSocket {

  /** What the server sent: each text message as a String, each binary one as bytes, and the Close code last. */
  static final class Exchange {
    final List<Object> messages;
    final int closeCode;

    Exchange(List<Object> messages, int closeCode) {
      this.messages = messages;
      this.closeCode = closeCode;
    }

    /** The text messages. */
    List<String> texts() {
      List<String> out = new ArrayList<>();
      for (Object message : messages) {
        if (message instanceof String) {
          out.add((String) message);
        }
      }
      return out;
    }

    /**
     * The last binary message read as a grpc-websockets header frame ({@code 0x80}, length, {@code name: value}
     * lines): the trailers of the call.
     */
    String lastHeaderFrame() {
      for (int i = messages.size() - 1; i >= 0; i--) {
        if (messages.get(i) instanceof byte[]) {
          byte[] frame = (byte[]) messages.get(i);
          if (frame.length >= 5 && (frame[0] & 0xff) == 0x80) {
            return new String(frame, 5, frame.length - 5, StandardCharsets.ISO_8859_1);
          }
        }
      }
      throw new AssertionError("expected a header frame among " + messages.size() + " messages but there was none");
    }
  }

  /**
   * Calls {@code uri} with {@code subprotocol}, sending each of {@code messages} (a String as a text message, a
   * byte[] as a binary one); a send the server refused by closing first is not an error.
   */
  static Exchange call(URI uri, String subprotocol, Object... messages) throws Exception {
    List<Object> received = Collections.synchronizedList(new ArrayList<>());
    CompletableFuture<Integer> closed = new CompletableFuture<>();
    WebSocket.Listener listener = new WebSocket.Listener() {
      private final StringBuilder text = new StringBuilder();
      private final ByteArrayOutputStream binary = new ByteArrayOutputStream();

      @Override
      public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
        text.append(data);
        if (last) {
          received.add(text.toString());
          text.setLength(0);
        }
        ws.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
        byte[] bytes = new byte[data.remaining()];
        data.get(bytes);
        binary.writeBytes(bytes);
        if (last) {
          received.add(binary.toByteArray());
          binary.reset();
        }
        ws.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
        closed.complete(statusCode);
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "");
        return null;
      }

      @Override
      public void onError(WebSocket ws, Throwable error) {
        closed.completeExceptionally(error);
      }
    };
    WebSocket ws = HttpClient.newHttpClient().newWebSocketBuilder()
        .subprotocols(subprotocol)
        .connectTimeout(Duration.ofSeconds(30))
        .buildAsync(uri, listener)
        .get(30, TimeUnit.SECONDS);
    try {
      for (Object message : messages) {
        CompletableFuture<WebSocket> sent = message instanceof String
            ? ws.sendText((String) message, true)
            : ws.sendBinary(ByteBuffer.wrap((byte[]) message), true);
        try {
          sent.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          break; // the server ended the call first: what it sent is still read below
        }
      }
      int code = closed.get(60, TimeUnit.SECONDS);
      synchronized (received) {
        return new Exchange(new ArrayList<>(received), code);
      }
    } finally {
      ws.abort();
    }
  }

  private JdkBrowserSocket() {}
}
