package dev.wsgrpc.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A bearer token's revocation ends the native gRPC calls in flight that it admitted ({@link BearerTokens},
 * {@link NativeCallAuthenticator}, {@link RevocableCall}), not only its tunnels.
 */
class NativeCallRevocationTest {

  private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.1", 5000);
  private static final MethodDescriptor.Marshaller<String> STRINGS = new MethodDescriptor.Marshaller<String>() {
    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      throw new UnsupportedOperationException();
    }
  };
  private static final MethodDescriptor<String, String> METHOD = MethodDescriptor.<String, String>newBuilder()
      .setType(MethodDescriptor.MethodType.BIDI_STREAMING).setFullMethodName("test.Chat/Talk")
      .setRequestMarshaller(STRINGS).setResponseMarshaller(STRINGS).build();

  private final AtomicReference<Map<String, String>> current = new AtomicReference<>(
      Map.of("t0k3n-alice", "alice", "t0k3n-bob", "bob"));
  private final BearerTokens tokens = BearerTokens.from(current::get);
  private final NativeCallAuthenticator authenticator = new NativeCallAuthenticator(tokens, new TunnelListener() {},
      CLIENT, null);

  /** The transport's side of a call: records what is written and, as grpc-java's, refuses writes after a close. */
  private static final class TransportCall extends ServerCall<String, String> {
    final List<String> sent = new CopyOnWriteArrayList<>();
    final AtomicBoolean writing = new AtomicBoolean();
    volatile Status closed;
    volatile boolean overlapped;

    private void enter() {
      if (!writing.compareAndSet(false, true)) {
        overlapped = true; // two threads in the call at once: what grpc-java's ServerCall does not allow
      }
      Thread.yield();
    }

    private void exit() {
      writing.set(false);
    }

    @Override
    public void request(int numMessages) {}

    @Override
    public void sendHeaders(Metadata headers) {
      enter();
      try {
        if (closed != null) {
          throw new IllegalStateException("call is closed");
        }
      } finally {
        exit();
      }
    }

    @Override
    public void sendMessage(String message) {
      enter();
      try {
        if (closed != null) {
          throw new IllegalStateException("call is closed");
        }
        sent.add(message);
      } finally {
        exit();
      }
    }

    @Override
    public void close(Status status, Metadata trailers) {
      enter();
      try {
        if (closed != null) {
          throw new IllegalStateException("call already closed");
        }
        closed = status;
      } finally {
        exit();
      }
    }

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public Attributes getAttributes() {
      return Attributes.newBuilder().set(Grpc.TRANSPORT_ATTR_REMOTE_ADDR, CLIENT).build();
    }

    @Override
    public MethodDescriptor<String, String> getMethodDescriptor() {
      return METHOD;
    }
  }

  /** What the service's handler saw of its call. */
  private static final class Handled {
    final TransportCall transport = new TransportCall();
    ServerCall<String, String> call;
    Context context;
    Object principal;
    ServerCall.Listener<String> listener;
    final List<String> events = new CopyOnWriteArrayList<>();
  }

  private Handled start(String token) {
    return start(authenticator, token);
  }

  private Handled start(NativeCallAuthenticator through, String token) {
    Handled h = new Handled();
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    ServerCallHandler<String, String> handler = (call, metadata) -> {
      h.call = call;
      h.context = Context.current();
      h.principal = TunnelPrincipal.current();
      call.sendHeaders(new Metadata());
      return new ServerCall.Listener<String>() {
        @Override
        public void onCancel() {
          h.events.add("cancel, context cancelled: " + Context.current().isCancelled());
        }

        @Override
        public void onComplete() {
          h.events.add("complete");
        }
      };
    };
    h.listener = through.interceptCall(h.transport, headers, handler);
    return h;
  }

  @Test
  void aRevokedTokenEndsItsCallsInFlightUnauthenticatedAndOthersGoOn() {
    Handled alice = start("t0k3n-alice");
    Handled bob = start("t0k3n-bob");
    assertEquals("alice", alice.principal);
    assertEquals("alice", alice.call.getAttributes().get(TunnelPrincipal.ATTRIBUTE));
    assertEquals(2, tokens.callsInFlight());
    alice.call.sendMessage("a1");
    assertEquals(0, tokens.refresh(), "nothing changed");

    current.set(Map.of("t0k3n-bob", "bob"));
    assertEquals(1, tokens.refresh());
    Status status = alice.transport.closed;
    assertEquals(Status.Code.UNAUTHENTICATED, status.getCode(), String.valueOf(status));
    assertEquals("the bearer token was revoked", status.getDescription());
    assertTrue(alice.context.isCancelled(), "the handler's context is cancelled at once");
    assertTrue(alice.call.isCancelled());
    assertFalse(alice.call.isReady());
    // The application, not yet aware, goes on: quietly ignored, and the call is closed once.
    alice.call.sendMessage("a2");
    alice.call.close(Status.OK, new Metadata());
    assertEquals(List.of("a1"), alice.transport.sent);
    assertEquals(status, alice.transport.closed);
    // grpc-java then reports the call complete (the server closed it): for the handler, it was cancelled.
    alice.listener.onComplete();
    assertEquals(List.of("cancel, context cancelled: true"), alice.events);

    assertNull(bob.transport.closed, "bob's call, on the same connection or not, goes on");
    assertFalse(bob.context.isCancelled());
    bob.call.sendMessage("b1");
    assertEquals(List.of("b1"), bob.transport.sent);
    assertEquals(1, tokens.callsInFlight(), "the revoked call is forgotten");
    assertEquals(0, tokens.refresh(), "each call is ended once");

    bob.call.close(Status.OK, new Metadata());
    bob.listener.onComplete();
    assertEquals(List.of("complete"), bob.events);
    assertEquals(0, tokens.callsInFlight(), "an ended call is forgotten");
    current.set(Map.of());
    assertEquals(0, tokens.refresh());
    assertEquals(Status.OK, bob.transport.closed);
  }

  @Test
  void callsThatEndAreForgottenHoweverTheyEnd() {
    Handled closed = start("t0k3n-alice");
    Handled cancelled = start("t0k3n-alice");
    Handled completed = start("t0k3n-bob");
    assertEquals(3, tokens.callsInFlight());
    closed.call.close(Status.OK, new Metadata());
    cancelled.listener.onCancel(); // the client cancelled
    completed.call.close(Status.INTERNAL, new Metadata());
    completed.listener.onComplete();
    assertEquals(0, tokens.callsInFlight());
    assertTrue(cancelled.context.isCancelled());
    current.set(Map.of());
    assertEquals(0, tokens.refresh());

    // A refused call is never kept.
    Handled refused = start("t0k3n-alice");
    assertNull(refused.call, "never reached the service");
    assertEquals(Status.Code.UNAUTHENTICATED, refused.transport.closed.getCode());
    assertEquals(0, tokens.callsInFlight());
  }

  /**
   * An application's authenticator may ask two token tables about one call (here: a token must be in both): each
   * keeps the call, and each forgets it when it ends, and either's revocation ends it.
   */
  @Test
  void everyTableThatAdmittedACallForgetsItWhenItEnds() {
    AtomicReference<Map<String, String>> second = new AtomicReference<>(Map.of("t0k3n-alice", "alice"));
    BearerTokens audit = BearerTokens.from(second::get);
    NativeCallAuthenticator both = new NativeCallAuthenticator(request -> {
      AuthDecision first = tokens.authenticate(request);
      return first.accepted() ? audit.authenticate(request) : first;
    }, new TunnelListener() {}, CLIENT, null);
    Handled ended = start(both, "t0k3n-alice");
    Handled revoked = start(both, "t0k3n-alice");
    assertEquals(2, tokens.callsInFlight());
    assertEquals(2, audit.callsInFlight());

    ended.call.close(Status.OK, new Metadata());
    assertEquals(1, tokens.callsInFlight(), "the first table forgot the ended call");
    assertEquals(1, audit.callsInFlight(), "the second table forgot it too");

    second.set(Map.of());
    assertEquals(1, audit.refresh());
    assertEquals(Status.Code.UNAUTHENTICATED, revoked.transport.closed.getCode());
    assertEquals(0, tokens.callsInFlight());
    assertEquals(0, audit.callsInFlight());
  }

  @Test
  void theRevocationNeverOverlapsTheApplicationsWrites() throws Exception {
    for (int round = 0; round < 200; round++) {
      current.set(Map.of("t0k3n-alice", "alice"));
      tokens.refresh();
      Handled alice = start("t0k3n-alice");
      CountDownLatch started = new CountDownLatch(1);
      AtomicReference<Throwable> failure = new AtomicReference<>();
      Thread application = new Thread(() -> {
        try {
          started.countDown();
          for (int i = 0; i < 200; i++) {
            alice.call.sendMessage("m" + i);
          }
          alice.call.close(Status.OK, new Metadata());
        } catch (Throwable t) {
          failure.set(t);
        }
      });
      application.start();
      started.await();
      current.set(Map.of());
      tokens.refresh();
      application.join(TimeUnit.SECONDS.toMillis(10));
      assertNull(failure.get(), () -> "the application's writes after the revocation: " + failure.get());
      assertFalse(alice.transport.overlapped, "the revocation and the application wrote to the call at once");
      assertTrue(alice.transport.closed != null);
      assertEquals(0, tokens.callsInFlight());
    }
  }
}
