package dev.wsgrpc.examples.android;

import dev.wsgrpc.examples.hello.proto.GreeterGrpc;
import dev.wsgrpc.examples.hello.proto.HelloReply;
import dev.wsgrpc.examples.hello.proto.HelloRequest;
import dev.wsgrpc.okhttp.ClientTls;
import dev.wsgrpc.okhttp.OkHttpWebSocketChannels;
import dev.wsgrpc.okhttp.OkHttpWebSocketOptions;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * An "app" as an Android app holds its gRPC client: one channel for the app's life, built from {@code
 * tunnel-client-okhttp} alone (no Netty on the classpath), a token that refreshes at every connect, and a hook the
 * platform calls when the network changes. On Android, grpc-android's {@code AndroidChannelBuilder} calls the same
 * two channel methods from a {@code ConnectivityManager} callback (see docs/ANDROID.md).
 *
 * <p>Usage: {@code GreeterApp URL [CA_PEM]}: greets, simulates a network change, greets again, then greets three
 * names over one stream.
 */
public final class GreeterApp {

  private final ManagedChannel channel;
  private int tokensIssued;

  /** Builds the app's channel: one per app, shared by every screen. */
  public GreeterApp(String url, File trustedCa) {
    OkHttpWebSocketOptions.Builder options = OkHttpWebSocketOptions.newBuilder(url)
        // Called at every connect, on a background thread: hand out the current token.
        .headersSupplier(new OkHttpWebSocketOptions.HeadersSupplier() {
          @Override
          public Map<String, String> get() {
            return Collections.singletonMap("Authorization", "Bearer " + nextToken());
          }
        });
    if (trustedCa != null) {
      options.tls(ClientTls.trusting(trustedCa));
    }
    // newChannel, not newChannelBuilder(...).build(): its shutdownNow() gives up an upgrade under way at once.
    this.channel = OkHttpWebSocketChannels.newChannel(options.build());
  }

  private synchronized String nextToken() {
    return "demo-token-" + ++tokensIssued;
  }

  /** How many tokens the supplier handed out: one per tunnel opened. */
  public synchronized int tokensIssued() {
    return tokensIssued;
  }

  /** A screen's call: one greeting, with a deadline as every mobile call should have. */
  public String greet(String name) {
    return GreeterGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .sayHello(HelloRequest.newBuilder().setName(name).build()).getMessage();
  }

  /**
   * A screen that streams: greets each name over one bidirectional stream and collects the answers, which arrive
   * on grpc's threads (an Android app would post them to its main thread).
   */
  public List<String> greetEach(List<String> names) throws InterruptedException {
    final List<String> answers = Collections.synchronizedList(new ArrayList<String>());
    final CountDownLatch done = new CountDownLatch(1);
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    StreamObserver<HelloRequest> requests = GreeterGrpc.newStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .sayHelloToEach(new StreamObserver<HelloReply>() {
          @Override
          public void onNext(HelloReply reply) {
            answers.add(reply.getMessage());
          }

          @Override
          public void onError(Throwable t) {
            failure.set(t);
            done.countDown();
          }

          @Override
          public void onCompleted() {
            done.countDown();
          }
        });
    for (String name : names) {
      requests.onNext(HelloRequest.newBuilder().setName(name).build());
    }
    requests.onCompleted();
    if (!done.await(15, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the stream did not end within 15 s");
    }
    if (failure.get() != null) {
      throw new IllegalStateException("the stream failed: " + failure.get(), failure.get());
    }
    return answers;
  }

  /**
   * The network changed (Wi-Fi to cellular, say): the old tunnel's path may be gone. Drop it now and reconnect
   * without waiting for the backoff, as grpc-android's {@code AndroidChannelBuilder} does.
   */
  public void onNetworkChanged() {
    channel.enterIdle();
    channel.resetConnectBackoff();
  }

  /** The app is closing. */
  public void close() throws InterruptedException {
    channel.shutdown();
    if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
      channel.shutdownNow();
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: GreeterApp URL [CA_PEM]");
      System.exit(2);
    }
    GreeterApp app = new GreeterApp(args[0], args.length > 1 ? new File(args[1]) : null);
    try {
      System.out.println(app.greet("android"));
      app.onNetworkChanged();
      System.out.println(app.greet("android again"));
      for (String answer : app.greetEach(Arrays.asList("one", "two", "three"))) {
        System.out.println(answer);
      }
      System.out.println("tunnels opened: " + app.tokensIssued());
    } finally {
      app.close();
    }
  }
}
