package dev.wsgrpc.examples.kinds;

import static dev.wsgrpc.examples.kinds.proto.Trouble.CANCEL;
import static dev.wsgrpc.examples.kinds.proto.Trouble.CRASH;
import static dev.wsgrpc.examples.kinds.proto.Trouble.FAIL;
import static dev.wsgrpc.examples.kinds.proto.Trouble.NONE;
import static dev.wsgrpc.examples.kinds.proto.Trouble.STALL;

import dev.wsgrpc.client.WebSocketChannels;
import dev.wsgrpc.examples.kinds.proto.NumberRequest;
import dev.wsgrpc.examples.kinds.proto.Trouble;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Every RPC kind through the tunnel, succeeding and then going wrong in each way, with what the client sees; and,
 * indented, what the server sees when the client gives up. Starts {@link KindsServer} on a free port, prints the
 * table and exits.
 */
public final class KindsDemo {

  /** Plenty for calls that should succeed, on any machine. */
  static final Duration NORMAL = Duration.ofSeconds(10);
  /** For calls the server never answers: short, but far longer than the numbers that come before the stall. */
  static final Duration SHORT = Duration.ofSeconds(1);

  public static void main(String[] args) throws Exception {
    run(System.out);
  }

  /** Runs every case and prints one line each to {@code out}. */
  public static void run(PrintStream out) throws Exception {
    BlockingQueue<String> serverNotes = new LinkedBlockingQueue<>();
    Server server = KindsServer.start(0, serverNotes::add);
    int port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    ManagedChannel channel = WebSocketChannels.newChannel("ws://localhost:" + port + "/grpc");
    try {
      KindsClient client = new KindsClient(channel);
      Demo demo = new Demo(out, serverNotes);

      out.println("# unary: Square");
      demo.show("Square(7)", client.square(request(7, NONE), NORMAL));
      demo.show("Square(7 FAIL)", client.square(request(7, FAIL), NORMAL));
      demo.show("Square(7 CRASH)", client.square(request(7, CRASH), NORMAL));
      demo.show("Square(7 CANCEL)", client.square(request(7, CANCEL), NORMAL));
      demo.show("Square(7 STALL), 1 s deadline", client.square(request(7, STALL), SHORT));
      demo.serverNote();

      out.println("# server streaming: CountTo");
      demo.show("CountTo(3)", client.countTo(request(3, NONE), NORMAL));
      demo.show("CountTo(3 FAIL)", client.countTo(request(3, FAIL), NORMAL));
      demo.show("CountTo(3 CANCEL)", client.countTo(request(3, CANCEL), NORMAL));
      demo.show("CountTo(3 STALL), 1 s deadline", client.countTo(request(3, STALL), SHORT));
      demo.serverNote();

      out.println("# client streaming: Sum");
      demo.show("Sum(1, 2, 3)", client.sum(oneTwoThree(NONE), NORMAL));
      demo.show("Sum(1, 2, 3 FAIL)", client.sum(oneTwoThree(FAIL), NORMAL));
      demo.show("Sum(1, 2, 3 CANCEL)", client.sum(oneTwoThree(CANCEL), NORMAL));
      demo.show("Sum(1, 2, 3 STALL), 1 s deadline", client.sum(oneTwoThree(STALL), SHORT));
      demo.serverNote();

      out.println("# bidi streaming: RunningTotal");
      demo.show("RunningTotal(1, 2, 3)", client.runningTotal(oneTwoThree(NONE), NORMAL));
      demo.show("RunningTotal(1, 2, 3 FAIL)", client.runningTotal(oneTwoThree(FAIL), NORMAL));
      demo.show("RunningTotal(1, 2, 3 CANCEL)", client.runningTotal(oneTwoThree(CANCEL), NORMAL));
      demo.show("RunningTotal(1, 2, 3 STALL), 1 s deadline", client.runningTotal(oneTwoThree(STALL), SHORT));
      demo.serverNote();
      demo.show("RunningTotal(1, 2, 3), client cancels",
          client.runningTotalThenCancel(oneTwoThree(NONE), "the user pressed stop", NORMAL));
      demo.serverNote();
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      // shutdownNow: a stalled call would otherwise keep a graceful shutdown waiting.
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static NumberRequest request(long value, Trouble trouble) {
    return NumberRequest.newBuilder().setValue(value).setTrouble(trouble).build();
  }

  /** 1, 2 and 3, with {@code trouble} on the 3. */
  private static List<NumberRequest> oneTwoThree(Trouble trouble) {
    return List.of(request(1, NONE), request(2, NONE), request(3, trouble));
  }

  private static final class Demo {
    private final PrintStream out;
    private final BlockingQueue<String> serverNotes;

    Demo(PrintStream out, BlockingQueue<String> serverNotes) {
      this.out = out;
      this.serverNotes = serverNotes;
    }

    void show(String call, List<String> seen) {
      out.println(String.format("%-42s -> %s", call, String.join(", ", seen)));
    }

    /** Prints what the server saw of the call the client just gave up on; it learns of it a moment later. */
    void serverNote() throws InterruptedException {
      String note = serverNotes.poll(10, TimeUnit.SECONDS);
      out.println("    server: " + (note == null ? "(nothing within 10 s)" : note));
    }
  }

  private KindsDemo() {}
}
