package dev.wsgrpc.examples.chat;

import dev.wsgrpc.examples.chat.proto.ChatEvent;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The rooms and who is in them. Every member has an {@link Outbox}: a bounded queue in front of its response stream,
 * so that one member who reads slowly costs the others nothing.
 *
 * <p>One lock (this hub) orders every join, line and leave, so all members of a room see the same events in the
 * same order. Holding it while handing events to gRPC is fine because {@code onNext} never blocks: it only queues
 * bytes for the connection's event loop. A server with very busy rooms would give each room its own lock.
 */
final class ChatHub {

  /** Members and their outboxes, per room; rooms disappear with their last member. Guarded by this. */
  private final Map<String, Map<Outbox, String>> rooms = new HashMap<>();
  private final int maxQueued;
  private Status closed;

  ChatHub(int maxQueued) {
    this.maxQueued = maxQueued;
  }

  /** A new outbox in front of {@code responses}; call from the service method, before it returns. */
  Outbox newOutbox(ServerCallStreamObserver<ChatEvent> responses) {
    return new Outbox(responses, maxQueued);
  }

  /** Adds a member and announces it; the new member's own JOINED event lists everyone in the room. */
  synchronized void join(String room, String name, Outbox outbox) {
    if (closed != null) {
      outbox.close(closed);
      return;
    }
    Map<Outbox, String> members = rooms.computeIfAbsent(room, r -> new LinkedHashMap<>());
    members.put(outbox, name);
    ChatEvent joined = event(ChatEvent.Kind.JOINED, room, name, "");
    broadcast(room, joined, outbox);
    offer(room, outbox, joined.toBuilder().addAllMembers(members.values()).build());
  }

  /** Sends {@code text} from {@code outbox}'s member to everyone in the room, the sender included. */
  synchronized void say(String room, Outbox outbox, String text) {
    Map<Outbox, String> members = rooms.get(room);
    String name = members == null ? null : members.get(outbox);
    if (name != null) {   // null: this member was dropped and its last lines are still arriving
      broadcast(room, event(ChatEvent.Kind.MESSAGE, room, name, text), null);
    }
  }

  /** Removes a member who left or whose call ended; does nothing when it is already gone. */
  synchronized void leave(String room, Outbox outbox) {
    remove(room, outbox, "");
  }

  /**
   * Ends every member's call with {@code status} and refuses new joins with it. Servers call this on shutdown:
   * chat calls last until the client leaves, so without it a graceful shutdown would wait for every member.
   */
  synchronized void closeAll(Status status) {
    closed = status;
    for (Map<Outbox, String> members : rooms.values()) {
      for (Outbox outbox : members.keySet()) {
        outbox.close(status);
      }
    }
    rooms.clear();
  }

  private void broadcast(String room, ChatEvent event, Outbox except) {
    Map<Outbox, String> members = rooms.get(room);
    if (members == null) {
      return;
    }
    // Copy: dropping a member changes the map.
    for (Outbox outbox : new ArrayList<>(members.keySet())) {
      if (outbox != except) {
        offer(room, outbox, event);
      }
    }
  }

  private void offer(String room, Outbox outbox, ChatEvent event) {
    if (!outbox.offer(event)) {
      // The member's queue is full: it reads more slowly than the room talks. Waiting for it would stall everyone
      // (or grow memory without bound), so it goes, with a status that says why.
      String reason = "too slow: " + maxQueued + " messages queued";
      outbox.close(Status.RESOURCE_EXHAUSTED.withDescription(reason));
      remove(room, outbox, reason);
    }
  }

  private void remove(String room, Outbox outbox, String reason) {
    Map<Outbox, String> members = rooms.get(room);
    String name = members == null ? null : members.remove(outbox);
    if (name == null) {
      return;
    }
    if (members.isEmpty()) {
      rooms.remove(room);
    } else {
      broadcast(room, event(ChatEvent.Kind.LEFT, room, name, reason), null);
    }
  }

  private static ChatEvent event(ChatEvent.Kind kind, String room, String name, String text) {
    return ChatEvent.newBuilder().setKind(kind).setRoom(room).setName(name).setText(text).build();
  }

  /**
   * A bounded queue in front of one member's response stream.
   *
   * <p>gRPC's {@code onNext} never blocks: when the member's tunnel is slow it buffers without limit. So events go
   * to gRPC only while {@link ServerCallStreamObserver#isReady()} says its buffer is small (32 KiB by default); the
   * rest wait here, and the on-ready handler sends them once the member's flow-control window opens again. When
   * {@code maxQueued} events are waiting, {@link #offer} refuses and the hub drops the member.
   *
   * <p>Broadcasts (from other members' calls) and the on-ready handler (on this call's executor) run on different
   * threads, so every method holds this outbox's lock; that also keeps calls to the observer one at a time, as gRPC
   * requires.
   */
  static final class Outbox {
    private final ServerCallStreamObserver<ChatEvent> responses;
    private final int maxQueued;
    private final ArrayDeque<ChatEvent> queue = new ArrayDeque<>();
    private boolean closed;

    private Outbox(ServerCallStreamObserver<ChatEvent> responses, int maxQueued) {
      this.responses = responses;
      this.maxQueued = maxQueued;
      // gRPC runs this whenever isReady() turns true again. It must be set before the service method returns.
      responses.setOnReadyHandler(this::drain);
    }

    /** Queues {@code event}; false when the queue is full and the member should be dropped. */
    synchronized boolean offer(ChatEvent event) {
      if (closed) {
        return true;
      }
      if (queue.size() >= maxQueued) {
        return false;
      }
      queue.add(event);
      drain();
      return true;
    }

    synchronized void drain() {
      while (!closed && !queue.isEmpty() && responses.isReady()) {
        responses.onNext(queue.poll());
      }
    }

    /** Ends the call: completed when {@code status} is OK, else with that status. Queued events are discarded. */
    synchronized void close(Status status) {
      if (closed) {
        return;
      }
      closed = true;
      queue.clear();
      if (status.isOk()) {
        responses.onCompleted();
      } else {
        responses.onError(status.asRuntimeException());
      }
    }
  }
}
