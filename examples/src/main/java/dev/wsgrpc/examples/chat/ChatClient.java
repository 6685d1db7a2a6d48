package dev.wsgrpc.examples.chat;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.examples.chat.proto.ChatEvent;
import dev.wsgrpc.examples.chat.proto.ChatRoomGrpc;
import dev.wsgrpc.examples.chat.proto.ClientMessage;
import dev.wsgrpc.examples.chat.proto.JoinRequest;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The terminal chat client: type a line, see everyone's lines. When the tunnel is lost (the server restarts, a
 * proxy cuts the connection) it says so and rejoins the room as soon as the channel has reconnected.
 *
 * <p>Usage: {@code ChatClient [url] [room] [name]} (default {@code ws://localhost:8080/grpc}, {@code lobby}, your
 * user name). {@code /quit} or the end of input (Ctrl-D) leaves.
 */
public final class ChatClient {

  private final Channel channel;
  private final ChatRoomGrpc.ChatRoomStub stub;
  private final String room;
  private final String name;

  public ChatClient(Channel channel, String room, String name) {
    this.channel = channel;
    // waitForReady: a join made while the tunnel is down waits for the channel to reconnect (with its own
    // backoff) instead of failing at once. That is what makes rejoining a loop-free "just call again".
    this.stub = ChatRoomGrpc.newStub(channel).withWaitForReady();
    this.room = room;
    this.name = name;
  }

  /**
   * Runs the session: joins, sends each line of {@code input} to the room and prints the room's events to
   * {@code output}, rejoining whenever the tunnel is lost. Returns 0 when the user leaves ({@code /quit} or the end
   * of input), 1 when the server ends the session for good (for example, dropped for reading too slowly).
   *
   * <p>Everything that touches the call happens on this thread: a daemon thread only reads lines, and gRPC's
   * callbacks only print and report the call's end, each through one queue. So there is no lock, and a rejoin can
   * never race with a line being sent.
   */
  public int run(BufferedReader input, PrintStream output) throws InterruptedException {
    BlockingQueue<Object> events = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> {
      try {
        for (String line; (line = input.readLine()) != null; ) {
          events.add(new Line(line));
        }
      } catch (IOException e) {
        // A closed terminal or pipe: the same as the end of input.
      }
      events.add(INPUT_ENDED);
    }, "chat-input");
    // A daemon, because nothing can interrupt a read from System.in: when the server ends the session, the JVM
    // must be able to exit while this thread still waits for a line.
    reader.setDaemon(true);

    Session session = join(events, output);
    reader.start();
    while (true) {
      Object event = events.take();
      if (event instanceof Line line) {
        String text = line.text();
        if (text.equals("/quit")) {
          leave(session, events);
          return 0;
        }
        if (!text.isBlank()) {
          // A person types far more slowly than a tunnel drains, so this does not wait for isReady(); a program
          // sending in bulk should (see ChatHub.Outbox for the server's side).
          session.requests.onNext(ClientMessage.newBuilder().setText(text).build());
        }
      } else if (event == INPUT_ENDED) {
        leave(session, events);
        return 0;
      } else if (event instanceof Ended ended && ended.session() == session) {
        Status status = ended.status();
        if (status.getCode() == Status.Code.UNAVAILABLE && !isShutdown()) {
          output.println("* connection lost (" + describe(status) + "); rejoining when the server is back");
          session = join(events, output);
        } else {
          output.println("* disconnected: " + describe(status));
          return 1;
        }
      }
    }
  }

  /** Opens a new Join call and sends the join; its events are printed, its end is reported to {@code events}. */
  private Session join(BlockingQueue<Object> events, PrintStream output) {
    Session session = new Session();
    // Callbacks run on the channel's default executor; they only print and enqueue, so they never hold it up.
    stub.join(new ClientResponseObserver<ClientMessage, ChatEvent>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<ClientMessage> requests) {
        session.requests = requests;
      }

      @Override
      public void onNext(ChatEvent event) {
        output.println(render(event));
      }

      @Override
      public void onError(Throwable t) {
        events.add(new Ended(session, Status.fromThrowable(t)));
      }

      @Override
      public void onCompleted() {
        events.add(new Ended(session, Status.OK));
      }
    });
    session.requests.onNext(ClientMessage.newBuilder()
        .setJoin(JoinRequest.newBuilder().setRoom(room).setName(name))
        .build());
    return session;
  }

  /**
   * Leaves politely: half-closes, which the server answers by announcing the leave and completing the call. A call
   * still waiting for the tunnel never completes, so after a few seconds it is cancelled instead.
   */
  private static void leave(Session session, BlockingQueue<Object> events) throws InterruptedException {
    session.requests.onCompleted();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    for (long left; (left = deadline - System.nanoTime()) > 0; ) {
      Object event = events.poll(left, TimeUnit.NANOSECONDS);
      if (event instanceof Ended ended && ended.session() == session) {
        return;
      }
    }
    session.requests.cancel("left before the server answered", null);
  }

  private static String render(ChatEvent event) {
    return switch (event.getKind()) {
      // Only the joiner's own JOINED event lists the members.
      case JOINED -> event.getMembersCount() > 0
          ? "* you joined #" + event.getRoom() + " as " + event.getName()
              + " (here: " + String.join(", ", event.getMembersList()) + ")"
          : "* " + event.getName() + " joined";
      case MESSAGE -> "<" + event.getName() + "> " + event.getText();
      case LEFT -> event.getText().isEmpty()
          ? "* " + event.getName() + " left"
          : "* " + event.getName() + " was dropped: " + event.getText();
      default -> "* " + event;
    };
  }

  /** After the channel is shut down, every call fails UNAVAILABLE at once: rejoining would spin. */
  private boolean isShutdown() {
    return channel instanceof ManagedChannel && ((ManagedChannel) channel).isShutdown();
  }

  private static String describe(Status status) {
    return status.getDescription() == null
        ? status.getCode().toString()
        : status.getCode() + ": " + status.getDescription();
  }

  /** One Join call; a rejoin is a new session. */
  private static final class Session {
    ClientCallStreamObserver<ClientMessage> requests;
  }

  private record Line(String text) {}

  private record Ended(Session session, Status status) {}

  private static final Object INPUT_ENDED = new Object();

  public static void main(String[] args) throws Exception {
    String url = args.length > 0 ? args[0] : "ws://localhost:8080/grpc";
    String room = args.length > 1 ? args[1] : "lobby";
    String name = args.length > 2 ? args[2] : System.getProperty("user.name", "guest");
    ManagedChannel channel = WebSocketChannels.newChannel(url);
    System.out.println("* joining #" + room + " as " + name + " via " + url + "; type a line and press Enter, "
        + "/quit to leave");
    int code;
    try {
      code = new ChatClient(channel, room, name)
          .run(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)), System.out);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    System.exit(code);
  }
}
