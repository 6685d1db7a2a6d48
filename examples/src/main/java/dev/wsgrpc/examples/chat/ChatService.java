package dev.wsgrpc.examples.chat;

import dev.wsgrpc.examples.chat.proto.ChatEvent;
import dev.wsgrpc.examples.chat.proto.ChatRoomGrpc;
import dev.wsgrpc.examples.chat.proto.ClientMessage;
import dev.wsgrpc.examples.chat.proto.JoinRequest;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

/**
 * The {@code ChatRoom} service: one bidi call per member. Like any grpc-java service it knows nothing about
 * WebSocket; the tunnel only changes how the bytes travel.
 */
final class ChatService extends ChatRoomGrpc.ChatRoomImplBase {

  private final ChatHub hub;

  ChatService(ChatHub hub) {
    this.hub = hub;
  }

  @Override
  public StreamObserver<ClientMessage> join(StreamObserver<ChatEvent> observer) {
    ServerCallStreamObserver<ChatEvent> responses = (ServerCallStreamObserver<ChatEvent>) observer;
    // Flow control handlers must be installed now, before this method returns, though the member's name only
    // arrives with the first message.
    ChatHub.Outbox outbox = hub.newOutbox(responses);

    // gRPC calls the methods below one at a time for this call, so `room` needs no lock.
    return new StreamObserver<>() {
      private String room;

      {
        // The client cancelled or its tunnel broke. With a cancel handler set, late onNext calls from broadcasts
        // are ignored instead of throwing.
        responses.setOnCancelHandler(this::leave);
      }

      @Override
      public void onNext(ClientMessage message) {
        if (room == null) {
          if (!message.hasJoin()) {
            fail("expected a join as the first message but was " + message.getKindCase());
            return;
          }
          JoinRequest join = message.getJoin();
          if (join.getRoom().isBlank() || join.getName().isBlank()) {
            fail("expected a room and a name but was room='" + join.getRoom() + "' name='" + join.getName() + "'");
            return;
          }
          room = join.getRoom();
          hub.join(room, join.getName(), outbox);
        } else if (message.hasText()) {
          hub.say(room, outbox, message.getText());
        } else {
          fail("expected text after joining but was " + message.getKindCase());
        }
      }

      @Override
      public void onError(Throwable t) {
        leave();
      }

      @Override
      public void onCompleted() {
        // The client half-closed: it is leaving. End our side too, which ends the call.
        leave();
        outbox.close(Status.OK);
      }

      private void fail(String description) {
        leave();
        outbox.close(Status.INVALID_ARGUMENT.withDescription(description));
      }

      private void leave() {
        if (room != null) {
          hub.leave(room, outbox);
        }
      }
    };
  }
}
