package dev.wsgrpc.examples.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.examples.chat.proto.ChatEvent;
import dev.wsgrpc.examples.chat.proto.ChatRoomGrpc;
import dev.wsgrpc.examples.chat.proto.ClientMessage;
import dev.wsgrpc.examples.chat.proto.JoinRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The chat room end to end: ChatServer and ChatClients through ws:// tunnels on loopback. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ChatRoomTest {

  @Test
  void membersSeeEveryonesLinesAndJoinsAndLeaves() throws Exception {
    try (ChatServer server = ChatServer.start(0)) {
      String url = "ws://localhost:" + server.port() + "/grpc";
      try (ChatTerminal alice = ChatTerminal.open(url, "lobby", "alice")) {
        alice.expect("* you joined #lobby as alice (here: alice)");
        try (ChatTerminal bob = ChatTerminal.open(url, "lobby", "bob");
            ChatTerminal carol = ChatTerminal.open(url, "garden", "carol")) {
          bob.expect("* you joined #lobby as bob (here: alice, bob)");
          carol.expect("* you joined #garden as carol (here: carol)");
          alice.expect("* bob joined");

          alice.type("hi bob");
          bob.expect("<alice> hi bob");
          alice.expect("<alice> hi bob");   // your own line comes back: the room has it
          bob.type("hello alice");
          alice.expect("<bob> hello alice");
          bob.expect("<bob> hello alice");

          bob.type("/quit");
          assertEquals(0, bob.awaitExit());
          alice.expect("* bob left");
          carol.type("anyone?");
          carol.expect("<carol> anyone?");
        }
        alice.type("still here");
        alice.expect("<alice> still here");
        assertFalse(alice.lines().stream().anyMatch(line -> line.contains("carol")), "rooms leaked into each other: "
            + alice.lines());
      }
    }
  }

  @Test
  void slowMemberIsDroppedWithoutStallingTheOthers() throws Exception {
    int maxQueued = 8;
    try (ChatServer server = ChatServer.start(0, maxQueued)) {
      String url = "ws://localhost:" + server.port() + "/grpc";
      ManagedChannel fast = WebSocketChannels.newChannel(url);
      // The slow member's own channel, with a small HTTP/2 window so that the test needs few messages to fill it
      // (the default 1 MiB window only takes longer).
      ManagedChannel slowChannel = WebSocketChannels.newChannelBuilder(url).flowControlWindow(64 * 1024).build();
      try {
        Recorder slow = new Recorder(0);   // reads nothing until the test says so
        ClientCallStreamObserver<ClientMessage> slowCall = join(slowChannel, "slow", slow);
        slow.request(1);
        slow.awaitEvents(1);   // its own JOINED: it is in the room
        Recorder bob = new Recorder(Integer.MAX_VALUE);
        StreamObserver<ClientMessage> bobCall = join(fast, "bob", bob);
        bob.awaitEvents(1);
        Recorder alice = new Recorder(Integer.MAX_VALUE);
        StreamObserver<ClientMessage> aliceCall = join(fast, "alice", alice);
        alice.awaitEvents(1);

        // Alice talks in batches of 50 lines of 1 KiB until the server gives up on the member that reads nothing.
        String padding = "x".repeat(1024);
        int sent = 0;
        while (!bob.sawDrop("slow")) {
          assertTrue(sent < 5000, "slow was never dropped; bob saw " + bob.events().size() + " events");
          for (int i = 0; i < 50; i++) {
            aliceCall.onNext(ClientMessage.newBuilder().setText(++sent + " " + padding).build());
          }
          bob.awaitMessage(sent + " " + padding);   // bob keeps up the whole time: nothing stalls him
        }

        // Bob saw every line, in order, and the drop announced with its reason.
        List<String> lines = bob.messages();
        for (int i = 0; i < sent; i++) {
          assertEquals((i + 1) + " " + padding, lines.get(i));
        }
        assertTrue(bob.events().stream().anyMatch(e -> e.getKind() == ChatEvent.Kind.LEFT
            && e.getName().equals("slow") && e.getText().equals("too slow: 8 messages queued")), "no drop event");

        // The slow member reads on: what was already on its way, then the status that says why it was dropped.
        slow.request(Integer.MAX_VALUE);
        Status status = slow.awaitEnd();
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode(), status.toString());
        assertEquals("too slow: 8 messages queued", status.getDescription());
        assertTrue(slow.messages().size() < sent, "slow got everything: " + slow.messages().size());

        slowCall.onCompleted();
        bobCall.onCompleted();
        aliceCall.onCompleted();
        assertEquals(Status.Code.OK, bob.awaitEnd().getCode());
        assertEquals(Status.Code.OK, alice.awaitEnd().getCode());
      } finally {
        fast.shutdownNow();
        slowChannel.shutdownNow();
        assertTrue(fast.awaitTermination(10, TimeUnit.SECONDS));
        assertTrue(slowChannel.awaitTermination(10, TimeUnit.SECONDS));
      }
    }
  }

  @Test
  void clientRejoinsWhenTheServerComesBack() throws Exception {
    ChatServer server = ChatServer.start(0);
    int port = server.port();
    String url = "ws://localhost:" + port + "/grpc";
    try (ChatTerminal alice = ChatTerminal.open(url, "lobby", "alice");
        ChatTerminal bob = ChatTerminal.open(url, "lobby", "bob")) {
      alice.expect("* you joined #lobby as alice");
      bob.expect("* you joined #lobby as bob");

      // A restart on the same port, as a deploy would do it.
      server.close();
      alice.expect("* connection lost (UNAVAILABLE: server shutting down); rejoining when the server is back");
      bob.expect("* connection lost (UNAVAILABLE: server shutting down)");
      server = ChatServer.start(port);

      alice.expect("* you joined #lobby as alice");
      bob.expect("* you joined #lobby as bob");
      bob.type("back again");
      alice.expect("<bob> back again");
      alice.type("welcome back");
      bob.expect("<alice> welcome back");
    } finally {
      server.close();
    }
  }

  @Test
  void firstMessageMustBeAJoin() throws Exception {
    try (ChatServer server = ChatServer.start(0)) {
      ManagedChannel channel = WebSocketChannels.newChannel("ws://localhost:" + server.port() + "/grpc");
      try {
        Recorder recorder = new Recorder(Integer.MAX_VALUE);
        ChatRoomGrpc.newStub(channel).join(recorder).onNext(ClientMessage.newBuilder().setText("hi").build());
        Status status = recorder.awaitEnd();
        assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
        assertEquals("expected a join as the first message but was TEXT", status.getDescription());
      } finally {
        channel.shutdownNow();
        assertTrue(channel.awaitTermination(10, TimeUnit.SECONDS));
      }
    }
  }

  private static ClientCallStreamObserver<ClientMessage> join(ManagedChannel channel, String name,
      Recorder recorder) {
    ClientCallStreamObserver<ClientMessage> call =
        (ClientCallStreamObserver<ClientMessage>) ChatRoomGrpc.newStub(channel).join(recorder);
    call.onNext(ClientMessage.newBuilder()
        .setJoin(JoinRequest.newBuilder().setRoom("lobby").setName(name)).build());
    return call;
  }

  /** Records one Join call's events; with an initial request of 0 it reads only when told to. */
  private static final class Recorder implements ClientResponseObserver<ClientMessage, ChatEvent> {
    private final int initialRequest;
    private final List<ChatEvent> events = new ArrayList<>();
    private final CompletableFuture<Status> end = new CompletableFuture<>();
    private ClientCallStreamObserver<ClientMessage> call;

    Recorder(int initialRequest) {
      this.initialRequest = initialRequest;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<ClientMessage> requests) {
      call = requests;
      if (initialRequest != Integer.MAX_VALUE) {
        requests.disableAutoRequestWithInitial(initialRequest);
      }
    }

    void request(int n) {
      call.request(n);
    }

    @Override
    public synchronized void onNext(ChatEvent event) {
      events.add(event);
      notifyAll();
    }

    @Override
    public void onError(Throwable t) {
      end.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      end.complete(Status.OK);
    }

    synchronized List<ChatEvent> events() {
      return new ArrayList<>(events);
    }

    synchronized List<String> messages() {
      List<String> texts = new ArrayList<>();
      for (ChatEvent e : events) {
        if (e.getKind() == ChatEvent.Kind.MESSAGE) {
          texts.add(e.getText());
        }
      }
      return texts;
    }

    synchronized boolean sawDrop(String name) {
      return events.stream().anyMatch(e -> e.getKind() == ChatEvent.Kind.LEFT && e.getName().equals(name));
    }

    synchronized void awaitEvents(int count) throws InterruptedException {
      awaitUntil(() -> events.size() >= count, count + " events");
    }

    synchronized void awaitMessage(String text) throws InterruptedException {
      awaitUntil(() -> events.stream().anyMatch(e -> e.getText().equals(text)), "message " + text.split(" ")[0]);
    }

    Status awaitEnd() throws Exception {
      return end.get(30, TimeUnit.SECONDS);
    }

    private void awaitUntil(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!condition.getAsBoolean()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new AssertionError("did not receive " + what + " within 30 s; got " + events.size() + " events");
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
    }
  }
}
