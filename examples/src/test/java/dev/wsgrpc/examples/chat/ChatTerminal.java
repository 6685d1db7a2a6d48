package dev.wsgrpc.examples.chat;

import dev.wsgrpc.client.WebSocketChannels;
import io.grpc.ManagedChannel;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A {@link ChatClient} driven as a person would drive it, without a real terminal: lines typed into a pipe, and a
 * screen that records what the client printed and lets the test wait for the next line it expects.
 */
public final class ChatTerminal implements AutoCloseable {

  private static final long WAIT_SECONDS = 30;

  private final String name;
  private final ManagedChannel channel;
  private final PipedOutputStream keyboard;
  private final Screen screen = new Screen();
  private final CompletableFuture<Integer> exit = new CompletableFuture<>();

  private ChatTerminal(String url, String room, String name) throws IOException {
    this.name = name;
    this.channel = WebSocketChannels.newChannel(url);
    this.keyboard = new PipedOutputStream();
    BufferedReader input = new BufferedReader(new InputStreamReader(new PipedInputStream(keyboard, 1 << 16),
        StandardCharsets.UTF_8));
    PrintStream output = new PrintStream(screen, true, StandardCharsets.UTF_8);
    Thread loop = new Thread(() -> {
      try {
        exit.complete(new ChatClient(channel, room, name).run(input, output));
      } catch (Throwable t) {
        exit.completeExceptionally(t);
      }
    }, "chat-client-" + name);
    loop.setDaemon(true);
    loop.start();
  }

  /** Starts a client for {@code name} in {@code room} at {@code url}. */
  public static ChatTerminal open(String url, String room, String name) throws IOException {
    return new ChatTerminal(url, room, name);
  }

  /** Types {@code line} and presses Enter. */
  public void type(String line) throws IOException {
    keyboard.write((line + "\n").getBytes(StandardCharsets.UTF_8));
    keyboard.flush();
  }

  /**
   * Waits until the screen shows a line starting with {@code prefix} after the last line expected so far, and
   * returns it; fails with the whole screen when it does not come.
   */
  public String expect(String prefix) throws InterruptedException {
    return screen.expect(prefix);
  }

  /** Everything printed so far. */
  public List<String> lines() {
    return screen.lines();
  }

  /** Waits for the client to return and gives its exit code; fails with the screen if it does not. */
  public int awaitExit() throws Exception {
    try {
      return exit.get(WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError(name + "'s client did not return; screen:\n" + String.join("\n", lines()));
    }
  }

  /** Ends the input (Ctrl-D), waits for the client to leave, and shuts its channel down. */
  @Override
  public void close() throws Exception {
    try {
      keyboard.close();
      awaitExit();
    } finally {
      channel.shutdownNow();
      if (!channel.awaitTermination(10, TimeUnit.SECONDS)) {
        throw new AssertionError(name + "'s channel did not terminate");
      }
    }
  }

  /** The client's output, split into lines. */
  private final class Screen extends OutputStream {
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
    private final List<String> lines = new ArrayList<>();
    private int cursor;

    @Override
    public synchronized void write(int b) {
      if (b == '\n') {
        lines.add(partial.toString(StandardCharsets.UTF_8));
        partial.reset();
        notifyAll();
      } else {
        partial.write(b);
      }
    }

    synchronized List<String> lines() {
      return new ArrayList<>(lines);
    }

    synchronized String expect(String prefix) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
      while (true) {
        for (int i = cursor; i < lines.size(); i++) {
          if (lines.get(i).startsWith(prefix)) {
            cursor = i + 1;
            return lines.get(i);
          }
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new AssertionError(name + "'s screen did not show '" + prefix + "' after line " + cursor
              + " within " + WAIT_SECONDS + " s; screen:\n" + String.join("\n", lines));
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
    }
  }
}
