package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.wsgrpc.testing.Observers;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The shared end-to-end suite: every behaviour of unmodified gRPC that must survive the tunnel, on real sockets.
 * Each subclass names one {@link TunnelSetup}; every test starts its own server and channel.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
abstract class AbstractEndToEndSuite {

  /** Generous for a busy 2-core CI machine; nothing here should come near it. */
  static final long DEADLINE_SECONDS = 60;

  protected TunnelSetup setup;
  protected EchoService service;
  protected ManagedChannel channel;
  protected ConnectionRecorder connections;

  /** The setup this suite runs over. */
  protected abstract TunnelSetup newSetup();

  @BeforeEach
  void startTunnel() throws Exception {
    setup = newSetup();
    service = new EchoService();
    connections = new ConnectionRecorder();
    setup.start(ServerInterceptors.intercept(service, new MetadataEchoInterceptor(), connections));
    channel = setup.newChannel();
  }

  @AfterEach
  void stopTunnel() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    setup.close();
    service.shutdown();
  }

  EchoGrpc.EchoBlockingStub blocking() {
    return EchoGrpc.newBlockingStub(channel).withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  EchoGrpc.EchoStub async() {
    return EchoGrpc.newStub(channel).withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  @Test
  void unaryRoundTrip() {
    EchoRequest request = EchoService.payload(1000);
    EchoResponse response = blocking().unary(request);
    assertEquals(request.getPayload(), response.getPayload());
  }

  @Test
  void serverStreamingDeliversEveryMessageInOrder() {
    Iterator<EchoResponse> it = blocking().serverStream(EchoService.payload(100).toBuilder().setCount(500).build());
    int n = 0;
    while (it.hasNext()) {
      assertEquals(n++, it.next().getMessagesReceived());
    }
    assertEquals(500, n);
  }

  @Test
  void clientStreamingCountsEveryMessage() throws Exception {
    CompletableFuture<EchoResponse> result = new CompletableFuture<>();
    StreamObserver<EchoRequest> requests = async().clientStream(Observers.firstValue(result));
    for (int i = 0; i < 1000; i++) {
      requests.onNext(EchoService.payload(100));
    }
    requests.onCompleted();
    EchoResponse response = result.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
    assertEquals(1000, response.getMessagesReceived());
    assertEquals(100_000, response.getBytesReceived());
  }

  @Test
  void bidiStreamOfTenThousandMessagesEchoesEveryOneInOrder() throws Exception {
    int total = 10_000;
    List<Long> seen = new ArrayList<>(total);
    CompletableFuture<Void> done = new CompletableFuture<>();
    StreamObserver<EchoRequest> requests = async().bidi(new StreamObserver<EchoResponse>() {
      @Override
      public void onNext(EchoResponse value) {
        seen.add(value.getMessagesReceived());
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        done.complete(null);
      }
    });
    // Flow control paces this loop: onNext buffers, and grpc's window keeps memory bounded.
    for (int i = 0; i < total; i++) {
      requests.onNext(EchoService.payload(64));
    }
    requests.onCompleted();
    done.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
    assertEquals(total, seen.size());
    for (int i = 0; i < total; i++) {
      assertEquals(i + 1, seen.get(i));
    }
  }

  @Test
  void sixteenMebibyteMessagesCrossEachWay() {
    EchoRequest request = EchoService.payload(16 * 1024 * 1024);
    EchoResponse response = blocking().unary(request);
    assertEquals(request.getPayload().size(), response.getPayload().size());
    assertTrue(request.getPayload().equals(response.getPayload()), "payload corrupted in transit");
  }

  @Test
  void thousandConcurrentStreamsOnOneTunnel() throws Exception {
    int streams = 1000;
    CountDownLatch allOpen = new CountDownLatch(streams);
    CountDownLatch allDone = new CountDownLatch(streams);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<StreamObserver<EchoRequest>> open = new ArrayList<>(streams);
    for (int i = 0; i < streams; i++) {
      open.add(async().bidi(new StreamObserver<EchoResponse>() {
        @Override
        public void onNext(EchoResponse value) {
          allOpen.countDown();
        }

        @Override
        public void onError(Throwable t) {
          failure.compareAndSet(null, t);
          allOpen.countDown();
          allDone.countDown();
        }

        @Override
        public void onCompleted() {
          allDone.countDown();
        }
      }));
    }
    for (StreamObserver<EchoRequest> s : open) {
      s.onNext(EchoService.payload(10));
    }
    // Every stream has answered while none has finished: all 1,000 were open at once.
    assertTrue(allOpen.await(DEADLINE_SECONDS, TimeUnit.SECONDS), "not every stream answered");
    for (StreamObserver<EchoRequest> s : open) {
      s.onCompleted();
    }
    assertTrue(allDone.await(DEADLINE_SECONDS, TimeUnit.SECONDS), "not every stream completed");
    if (failure.get() != null) {
      throw new AssertionError("a stream failed", failure.get());
    }
    assertEquals(1, connections.connections(), "the 1,000 streams were spread over more than one tunnel");
  }

  @Test
  void metadataAndTrailersCrossTheTunnel() {
    Metadata headers = new Metadata();
    headers.put(MetadataEchoInterceptor.INITIAL, "hello-initial");
    byte[] trailing = {0, 1, 2, (byte) 0xff};
    headers.put(MetadataEchoInterceptor.TRAILING, trailing);
    AtomicReference<Metadata> responseHeaders = new AtomicReference<>();
    AtomicReference<Metadata> responseTrailers = new AtomicReference<>();
    blocking()
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers),
            MetadataUtils.newCaptureMetadataInterceptor(responseHeaders, responseTrailers))
        .unary(EchoService.payload(10));
    assertEquals("hello-initial", responseHeaders.get().get(MetadataEchoInterceptor.INITIAL));
    assertArrayEquals(trailing, responseTrailers.get().get(MetadataEchoInterceptor.TRAILING));
  }

  @Test
  void statusCodeAndMessageReachTheClient() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> blocking().unary(
        EchoRequest.newBuilder().setFailWith(Status.Code.FAILED_PRECONDITION.value())
            .setPayload(ByteString.copyFromUtf8("tab\there, ünïcödé")).build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
    assertEquals("tab\there, ünïcödé", e.getStatus().getDescription());
  }

  @Test
  void streamEndsWithTheServersStatusAfterItsMessages() {
    Iterator<EchoResponse> it = blocking().serverStream(EchoService.payload(10).toBuilder().setCount(3)
        .setFailWith(Status.Code.ABORTED.value()).build());
    int n = 0;
    StatusRuntimeException e = null;
    try {
      while (it.hasNext()) {
        it.next();
        n++;
      }
    } catch (StatusRuntimeException ex) {
      e = ex;
    }
    assertEquals(3, n);
    assertEquals(Status.Code.ABORTED, e.getStatus().getCode());
  }

  @Test
  void deadlineReachesTheServer() throws Exception {
    // The tunnel first, and a deadline long enough for the handler to start on a busy machine: a call that expires
    // before it reaches the server, the server never sees.
    blocking().unary(EchoService.payload(1));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () ->
        EchoGrpc.newBlockingStub(channel).withDeadlineAfter(3, TimeUnit.SECONDS)
            .unary(EchoService.payload(10).toBuilder().setDelayMs(60_000).build()));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
    assertEquals(0, service.delayedUnaryArrived.getCount(), "the handler started within the deadline");
    assertTrue(service.cancelled.await(DEADLINE_SECONDS, TimeUnit.SECONDS),
        "the server never saw the deadline expire");
  }

  @Test
  void cancellationReachesTheServer() throws Exception {
    AtomicReference<ClientCallStreamObserver<EchoRequest>> call = new AtomicReference<>();
    LinkedBlockingQueue<Object> events = new LinkedBlockingQueue<>();
    async().bidi(Observers.<EchoRequest, EchoResponse>events(events, call::set));
    call.get().onNext(EchoService.payload(10));
    assertTrue(events.poll(DEADLINE_SECONDS, TimeUnit.SECONDS) instanceof EchoResponse);
    call.get().cancel("the user changed their mind", null);
    Object end = events.poll(DEADLINE_SECONDS, TimeUnit.SECONDS);
    assertEquals(Status.Code.CANCELLED, Status.fromThrowable((Throwable) end).getCode());
    assertTrue(service.cancelled.await(DEADLINE_SECONDS, TimeUnit.SECONDS), "the server never saw the cancel");
  }

  @Test
  void channelCarriesManySequentialCallsOnOneTunnel() {
    for (int i = 0; i < 200; i++) {
      assertEquals(i, blocking().unary(EchoService.payload(i)).getPayload().size());
    }
    assertEquals(1, connections.connections(), "the 200 calls were spread over more than one tunnel");
  }

}
