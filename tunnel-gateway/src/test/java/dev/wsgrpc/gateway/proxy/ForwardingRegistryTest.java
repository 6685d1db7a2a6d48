package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The forwarding core on real sockets: a grpc-java upstream, the proxy (a grpc-java server whose fallback registry is
 * {@link ForwardingRegistry}), and callers over native h2c. Flow control must hold end to end: a side that stops
 * reading stops the other side after a bounded number of bytes, while other connections keep working.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ForwardingRegistryTest {

  private static final int MESSAGE = 64 * 1024;
  private static final long TOTAL = 64L * 1024 * 1024; // far more than every window and buffer on the path together
  /** What may sit between a stalled reader and the sender: windows, socket buffers, one message per hop. */
  private static final long BOUND = 16L * 1024 * 1024;

  private static final MethodDescriptor<byte[], byte[]> FLOOD = method("test.Flow/Flood");
  private static final MethodDescriptor<byte[], byte[]> SINK = method("test.Flow/Sink");
  private static final MethodDescriptor<byte[], byte[]> ECHO = method("test.Flow/Echo");

  private final List<AutoCloseable> closeables = new ArrayList<>();
  /** Bytes the upstream's Flood has sent; bytes its Sink has received. */
  private final AtomicLong flooded = new AtomicLong();
  private final AtomicLong sunk = new AtomicLong();
  private final CompletableFuture<ServerCall<byte[], byte[]>> sinkCall = new CompletableFuture<>();
  private Server proxy;

  private static MethodDescriptor<byte[], byte[]> method(String name) {
    return OpaqueBytes.method(name).toBuilder().setType(MethodDescriptor.MethodType.BIDI_STREAMING).build();
  }

  @BeforeEach
  void start() throws Exception {
    ServerServiceDefinition service = ServerServiceDefinition.builder("test.Flow")
        .addMethod(FLOOD, flood())
        .addMethod(SINK, sink())
        .addMethod(ECHO, echo())
        .build();
    Server upstream = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(service)
        .build().start();
    closeables.add(() -> upstream.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    ManagedChannel toUpstream = NettyChannelBuilder.forAddress((InetSocketAddress) upstream.getListenSockets().get(0))
        .usePlaintext().build();
    closeables.add(() -> toUpstream.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    proxy = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .directExecutor()
        .fallbackHandlerRegistry(new ForwardingRegistry(toUpstream))
        .build().start();
    closeables.add(() -> proxy.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
  }

  @AfterEach
  void stop() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private ManagedChannel caller() {
    ManagedChannel c = NettyChannelBuilder.forAddress((InetSocketAddress) proxy.getListenSockets().get(0))
        .usePlaintext().build();
    closeables.add(() -> c.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    return c;
  }

  /** Sends {@link #TOTAL} bytes as fast as the call is ready for them, then OK. */
  private ServerCallHandler<byte[], byte[]> flood() {
    return (call, headers) -> {
      call.sendHeaders(new Metadata());
      Runnable pump = new Runnable() {
        @Override
        public synchronized void run() {
          while (call.isReady() && flooded.get() < TOTAL) {
            call.sendMessage(new byte[MESSAGE]);
            if (flooded.addAndGet(MESSAGE) == TOTAL) {
              call.close(Status.OK, new Metadata());
            }
          }
        }
      };
      pump.run();
      return new ServerCall.Listener<byte[]>() {
        @Override
        public void onReady() {
          pump.run();
        }
      };
    };
  }

  /** Reads nothing until the test asks, by requesting on {@link #sinkCall}. */
  private ServerCallHandler<byte[], byte[]> sink() {
    return (call, headers) -> {
      sinkCall.complete(call);
      return new ServerCall.Listener<byte[]>() {
        @Override
        public void onMessage(byte[] message) {
          sunk.addAndGet(message.length);
        }

        @Override
        public void onHalfClose() {
          call.sendHeaders(new Metadata());
          call.close(Status.OK, new Metadata());
        }
      };
    };
  }

  private ServerCallHandler<byte[], byte[]> echo() {
    return (call, headers) -> {
      call.request(1);
      return new ServerCall.Listener<byte[]>() {
        @Override
        public void onMessage(byte[] message) {
          call.sendHeaders(new Metadata());
          call.sendMessage(message);
          call.close(Status.OK, new Metadata());
        }
      };
    };
  }

  /** Twenty calls on a connection of their own, each answered. */
  private void otherCallsStillWork() throws Exception {
    ManagedChannel other = caller();
    for (int i = 0; i < 20; i++) {
      byte[] sent = {(byte) i, 1, 2, 3};
      byte[] got = io.grpc.stub.ClientCalls.blockingUnaryCall(other, ECHO,
          CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), sent);
      assertArrayEquals(sent, got);
    }
  }

  @Test
  void aCallerThatStopsReadingStopsTheUpstreamWithinABoundWhileOtherConnectionsWork() throws Exception {
    ManagedChannel caller = caller();
    ClientCall<byte[], byte[]> call = caller.newCall(FLOOD, CallOptions.DEFAULT);
    AtomicLong received = new AtomicLong();
    CompletableFuture<Status> closed = new CompletableFuture<>();
    call.start(new ClientCall.Listener<byte[]>() {
      @Override
      public void onMessage(byte[] message) {
        received.addAndGet(message.length);
        call.request(1);
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        closed.complete(status);
      }
    }, new Metadata());
    call.halfClose(); // and requests nothing: reads nothing

    otherCallsStillWork();
    long sentWhileStalled = flooded.get();
    assertTrue(sentWhileStalled < BOUND,
        "the upstream sent " + sentWhileStalled + " bytes to a caller that read none (expected: < " + BOUND + ")");
    assertTrue(sentWhileStalled > 0, "the upstream sent nothing");

    call.request(1); // now read everything
    assertEquals(Status.Code.OK, closed.get(60, TimeUnit.SECONDS).getCode());
    assertEquals(TOTAL, received.get());
  }

  @Test
  void anUpstreamThatStopsReadingStopsTheCallerWithinABoundWhileOtherConnectionsWork() throws Exception {
    ManagedChannel caller = caller();
    ClientCall<byte[], byte[]> call = caller.newCall(SINK, CallOptions.DEFAULT);
    AtomicLong sent = new AtomicLong();
    CompletableFuture<Status> closed = new CompletableFuture<>();
    CompletableFuture<Void> stalled = new CompletableFuture<>();
    Runnable pump = new Runnable() {
      @Override
      public synchronized void run() {
        while (call.isReady() && sent.get() < TOTAL) {
          call.sendMessage(new byte[MESSAGE]);
          if (sent.addAndGet(MESSAGE) == TOTAL) {
            call.halfClose();
          }
        }
        if (sent.get() < TOTAL) {
          stalled.complete(null);
        }
      }
    };
    call.start(new ClientCall.Listener<byte[]>() {
      @Override
      public void onReady() {
        pump.run();
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        closed.complete(status);
      }
    }, new Metadata());
    call.request(1);
    pump.run();

    ServerCall<byte[], byte[]> upstreamCall = sinkCall.get(30, TimeUnit.SECONDS);
    stalled.get(30, TimeUnit.SECONDS);
    otherCallsStillWork();
    long sentWhileStalled = sent.get();
    assertTrue(sentWhileStalled < BOUND,
        "the caller could send " + sentWhileStalled + " bytes to an upstream that read none (expected: < " + BOUND
            + ")");
    assertEquals(0, sunk.get());

    upstreamCall.request(Integer.MAX_VALUE); // now read everything
    assertEquals(Status.Code.OK, closed.get(60, TimeUnit.SECONDS).getCode());
    assertEquals(TOTAL, sunk.get());
  }

  @Test
  void statusDescriptionAndTrailersOfAnUpstreamAbortArriveUnchanged() throws Exception {
    Metadata.Key<String> detail = Metadata.Key.of("x-detail", Metadata.ASCII_STRING_MARSHALLER);
    Server aborting = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .fallbackHandlerRegistry(new io.grpc.HandlerRegistry() {
          @Override
          public io.grpc.ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
            return io.grpc.ServerMethodDefinition.create(OpaqueBytes.method(methodName), (call, headers) -> {
              Metadata trailers = new Metadata();
              trailers.put(detail, "seen " + headers.get(detail));
              call.close(Status.PERMISSION_DENIED.withDescription("not yours: " + methodName), trailers);
              return new ServerCall.Listener<byte[]>() {};
            });
          }
        })
        .build().start();
    closeables.add(() -> aborting.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    ManagedChannel toAborting = NettyChannelBuilder.forAddress((InetSocketAddress) aborting.getListenSockets().get(0))
        .usePlaintext().build();
    closeables.add(() -> toAborting.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    Server front = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).directExecutor()
        .fallbackHandlerRegistry(new ForwardingRegistry(toAborting)).build().start();
    closeables.add(() -> front.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    ManagedChannel caller = NettyChannelBuilder.forAddress((InetSocketAddress) front.getListenSockets().get(0))
        .usePlaintext().build();
    closeables.add(() -> caller.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));

    ClientCall<byte[], byte[]> call = caller.newCall(method("any.Service/Anything"), CallOptions.DEFAULT);
    CompletableFuture<Status> status = new CompletableFuture<>();
    CompletableFuture<Metadata> trailers = new CompletableFuture<>();
    Metadata headers = new Metadata();
    headers.put(detail, "hello");
    call.start(new ClientCall.Listener<byte[]>() {
      @Override
      public void onClose(Status s, Metadata t) {
        trailers.complete(t);
        status.complete(s);
      }
    }, headers);
    call.request(1);
    call.halfClose();
    assertEquals(Status.Code.PERMISSION_DENIED, status.get(30, TimeUnit.SECONDS).getCode());
    assertEquals("not yours: any.Service/Anything", status.get().getDescription());
    assertEquals("seen hello", trailers.get().get(detail));
  }
}
