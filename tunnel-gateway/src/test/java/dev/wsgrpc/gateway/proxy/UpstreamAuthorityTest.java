package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Each upstream of a list hears its own {@code host:port} as {@code :authority}, over h2c as over TLS: upstreams
 * that route by authority (an Envoy virtual host, an nginx {@code server_name}) answered every call to the second
 * upstream as if it were meant for the first, whose name all of them got.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UpstreamAuthorityTest {

  private static final MethodDescriptor<byte[], byte[]> ECHO = OpaqueBytes.method("test.Svc/Echo");

  private final List<Server> upstreams = new ArrayList<>();
  private ManagedChannel channel;

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    for (Server s : upstreams) {
      s.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /** An h2c upstream that adds the {@code :authority} of each call it gets to {@code seen}, under its own port. */
  private int upstream(ConcurrentHashMap<Integer, Set<String>> seen) throws Exception {
    int[] port = new int[1];
    ServerInterceptor record = new ServerInterceptor() {
      @Override
      public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
          ServerCallHandler<Q, A> next) {
        seen.computeIfAbsent(port[0], p -> ConcurrentHashMap.newKeySet()).add(call.getAuthority());
        return next.startCall(call, headers);
      }
    };
    ServerServiceDefinition echo = ServerServiceDefinition.builder("test.Svc")
        .addMethod(MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("test.Svc/Echo")
            .setRequestMarshaller(OpaqueBytes.INSTANCE)
            .setResponseMarshaller(OpaqueBytes.INSTANCE)
            .build(), ServerCalls.asyncUnaryCall((request, answer) -> {
              answer.onNext(request);
              answer.onCompleted();
            }))
        .build();
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(echo, record)).build().start();
    upstreams.add(server);
    port[0] = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    return port[0];
  }

  @Test
  void eachUpstreamOfAListHearsItsOwnHostAndPortOverH2c() throws Exception {
    ConcurrentHashMap<Integer, Set<String>> seen = new ConcurrentHashMap<>();
    int first = upstream(seen);
    int second = upstream(seen);
    channel = UpstreamChannel.create(UpstreamOptions.newBuilder()
        .upstreams(List.of("127.0.0.1:" + first, "127.0.0.1:" + second)).healthCheckService(null).build());
    // round_robin picks only upstreams already connected: call until both have been reached (or 30 s have passed).
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (int i = 0; seen.size() < 2 && System.nanoTime() < deadline; i++) {
      byte[] bytes = {(byte) i};
      assertArrayEquals(bytes, ClientCalls.blockingUnaryCall(channel, ECHO,
          CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), bytes));
    }
    assertEquals(2, seen.size(), "both upstreams reached: " + seen);
    assertEquals(Set.of("127.0.0.1:" + first), new TreeSet<>(seen.get(first)), "the first upstream: " + seen);
    assertEquals(Set.of("127.0.0.1:" + second), new TreeSet<>(seen.get(second)), "the second upstream: " + seen);
  }
}
